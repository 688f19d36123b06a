/**
 * HTTP adapters: take the key from a request, verify it, and either attach
 * the caller's identity to the request or answer with problem details
 * (RFC 9457) and rate-limit headers (draft-ietf-httpapi-ratelimit-headers,
 * the `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` fields,
 * plus `Retry-After` from RFC 9110 §10.2.3).
 *
 * Key sources: the `X-API-Key` header and `Authorization: Bearer <key>`.
 * A key in the URL query is refused by default (URLs end up in logs).
 * More than one distinct key in a request is refused as MALFORMED — the
 * answer never depends on header order. Values are never trimmed (Node's
 * HTTP parser already strips the optional whitespace around a field value,
 * RFC 9110 §5.5; nothing else is removed).
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {KeyEnvironment} from '../core/key-format.js'
import {MAX_KEY_LENGTH} from '../core/key-format.js'
import {KEY_PROBLEMS, problemTypeUri, type KeyProblemCode} from '../core/problem-types.js'
import type {VerifyContext} from '../core/wire.js'
import {malformedVerdict, missingKeyVerdict, suggestionsFor} from './messages.js'
import type {Verdict, Verifier} from './types.js'

/** Where a key may be read from. */
export type KeySource = 'x-api-key' | 'authorization'

/** Options of {@link extractKey} and the adapters. */
export interface ExtractOptions {
  /**
   * Headers that may carry the key; default both. APIs that use
   * `Authorization` for their own user tokens should pass `['x-api-key']`,
   * otherwise a user token next to an API key is a conflict.
   */
  sources?: KeySource[]
  /** Query parameter checked for a key (default `api_key`); `false` ignores the query. */
  queryParam?: string | false
  /** Accept a key from {@link queryParam} (default false: a key in the URL is refused as MALFORMED). */
  allowQueryKey?: boolean
}

/** Outcome of {@link extractKey}. `reason` never contains a key. */
export type Extraction = {kind: 'key'; key: string} | {kind: 'missing'} | {kind: 'malformed'; reason: string}

/** Request data {@link extractKey} reads: every value of a header (lower-case name), and the query string. */
export interface KeyCarrier {
  headerValues(name: string): string[]
  /** The query string without `?`, or empty. */
  query: string
}

/** Values longer than this are not examined further (a key is at most {@link MAX_KEY_LENGTH} characters). */
const BEARER = /^bearer(?:[ \t]+(.*))?$/is

/**
 * Finds the one API key of a request.
 * - no key anywhere, or only empty values → `missing`;
 * - a value longer than 84 characters (e.g. 10 KB) → `malformed` before any lookup;
 * - two different keys (the header twice, header and Authorization, header and query) → `malformed`;
 * - a key in the query when {@link ExtractOptions.allowQueryKey} is false → `malformed`.
 */
export function extractKey(carrier: KeyCarrier, options: ExtractOptions = {}): Extraction {
  const sources = options.sources ?? ['x-api-key', 'authorization']
  const found: Array<{where: string; value: string}> = []
  if (sources.includes('x-api-key')) for (const value of carrier.headerValues('x-api-key')) found.push({where: 'X-API-Key', value})
  if (sources.includes('authorization')) {
    for (const value of carrier.headerValues('authorization')) {
      const match = BEARER.exec(value)
      if (match !== null) found.push({where: 'Authorization', value: match[1] ?? ''})
    }
  }
  const queryParam = options.queryParam ?? 'api_key'
  if (queryParam !== false && carrier.query !== '') {
    const inQuery = new URLSearchParams(carrier.query).getAll(queryParam)
    if (inQuery.length > 0 && options.allowQueryKey !== true) {
      return {kind: 'malformed', reason: `API keys are not accepted in the URL (the "${queryParam}" query parameter): URLs end up in logs. Send the key in the X-API-Key header`}
    }
    for (const value of inQuery) found.push({where: 'query', value})
  }
  const present = found.filter((f) => f.value !== '')
  if (present.length === 0) return {kind: 'missing'}
  const tooLong = present.find((f) => f.value.length > MAX_KEY_LENGTH)
  if (tooLong !== undefined) return {kind: 'malformed', reason: `the key in ${tooLong.where} is ${tooLong.value.length} characters long; keys are at most ${MAX_KEY_LENGTH}`}
  const distinct = new Set(present.map((f) => f.value))
  if (distinct.size > 1) {
    const where = [...new Set(present.map((f) => f.where))].join(', ')
    return {kind: 'malformed', reason: `the request carries ${distinct.size} different API keys (${where}); send exactly one`}
  }
  return {kind: 'key', key: present[0]!.value}
}

/** A {@link KeyCarrier} over a Node request: every raw header line counts, so duplicates are seen even where Node would join or drop them. */
export function nodeCarrier(req: Pick<IncomingMessage, 'rawHeaders' | 'url'>): KeyCarrier {
  const raw = req.rawHeaders
  const url = req.url ?? ''
  const q = url.indexOf('?')
  return {
    headerValues(name) {
      const values: string[] = []
      for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!)
      return values
    },
    query: q === -1 ? '' : url.slice(q + 1),
  }
}

/** A {@link KeyCarrier} over a WHATWG `Request` (fetch). `Headers` joins repeated fields with ", ", so a joined value is split again. */
export function fetchCarrier(request: Request): KeyCarrier {
  const url = new URL(request.url)
  return {
    headerValues(name) {
      const value = request.headers.get(name)
      if (value === null) return []
      return name === 'x-api-key' ? value.split(/,[ \t]*/) : value.split(/,[ \t]*(?=bearer\b)/i)
    },
    query: url.search.slice(1),
  }
}

/** Problem details body of a rejected request (RFC 9457) with our extension members. */
export interface VerifierProblem {
  /** Problem type URI, e.g. `tag:apikey,2025:problem:key_revoked` (not dereferenceable, RFC 9457 §3.1.1). */
  type: string
  title: string
  status: number
  /** What is wrong and the command to run, e.g. "…Get your own key: apikey init". */
  detail: string
  /** Stable code: `missing_key`, `malformed_key`, `key_not_found`, `key_expired`, `key_revoked`, `forbidden`, `rate_limited`, `verification_unavailable`. */
  code: string
  /** Commands to run. */
  suggestions: string[]
  docsUrl: string
  /** Id of the key when the service named it (expired, revoked, forbidden). */
  keyId?: string
  /** Seconds to wait (429, 503). */
  retryAfterSeconds?: number
}

/** A complete rejection: status, headers and problem body. */
export interface ProblemResponse {
  status: number
  headers: Record<string, string>
  body: VerifierProblem
}

/** The caller's identity attached to an admitted request (`req.apikey`). Fields are null when a fail-open outage verdict admitted the request. */
export interface ApikeyIdentity {
  /** App slug. */
  app: string | null
  /** Owning team slug. */
  team: string | null
  env: KeyEnvironment | null
  keyId: string | null
  /** The full verdict. */
  verdict: Verdict
}

/** Retry-After of a 503 when verification is unavailable, in seconds. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2

/** The problem of each rejecting verdict code (types and titles shared with the service and the nginx example). */
const PROBLEM_OF: Record<string, KeyProblemCode> = {
  MALFORMED: 'malformed_key',
  NOT_FOUND: 'key_not_found',
  EXPIRED: 'key_expired',
  REVOKED: 'key_revoked',
  FORBIDDEN: 'key_not_allowed',
  RATE_LIMITED: 'rate_limited',
  UNAVAILABLE: 'verification_unavailable',
}

/**
 * Rate-limit header fields of a verdict (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (whole seconds
 * until the bucket is full, rounded up; the same instant as `rateLimit.resetMs`).
 * Empty when the verdict has no rate-limit state.
 */
export function rateLimitHeaders(verdict: Verdict): Record<string, string> {
  const rl = verdict.rateLimit
  if (rl === null) return {}
  return {
    'RateLimit-Limit': String(rl.limit),
    'RateLimit-Remaining': String(Math.max(0, Math.floor(rl.remaining))),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(rl.resetMs / 1000))),
  }
}

/**
 * The response for a rejected verdict, or null when the request may proceed (`verdict.valid`).
 * Status: 401 for missing/malformed/unknown/expired/revoked keys (with
 * `WWW-Authenticate`), 403 FORBIDDEN, 429 RATE_LIMITED (with `Retry-After`,
 * whole seconds ≥ 1), 503 when verification is unavailable (with `Retry-After`).
 * The detail names the command to run and the docs URL.
 */
export function problemFor(verdict: Verdict): ProblemResponse | null {
  if (verdict.valid) return null
  const missing = verdict.code === 'MALFORMED' && verdict.source === 'local' && verdict.message.startsWith('missing key')
  const problemCode: KeyProblemCode = missing ? 'missing_key' : (PROBLEM_OF[verdict.code] ?? 'verification_unavailable')
  const row = {...KEY_PROBLEMS[problemCode], code: problemCode}
  const commands = verdict.suggestions.length > 0 ? [...new Set(verdict.suggestions)] : suggestionsFor(verdict)
  const named = commands.filter((c) => verdict.message.includes(c))
  let detail = verdict.message
  if (commands.length > 0 && named.length === 0) detail += `. Run \`${commands.join('` or `')}\``
  if (verdict.docsUrl !== '' && !detail.includes(verdict.docsUrl)) detail += `; see ${verdict.docsUrl}`
  const headers: Record<string, string> = {'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...rateLimitHeaders(verdict)}
  const body: VerifierProblem = {
    type: problemTypeUri(row.code),
    title: row.title,
    status: row.status,
    detail,
    code: row.code,
    suggestions: commands,
    docsUrl: verdict.docsUrl,
  }
  if (verdict.keyId !== null && (verdict.code === 'EXPIRED' || verdict.code === 'REVOKED' || verdict.code === 'FORBIDDEN')) body.keyId = verdict.keyId
  if (row.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="api", error="invalid_token"'
  if (missing) headers['WWW-Authenticate'] = 'Bearer realm="api"'
  if (row.status === 429) {
    const rl = verdict.rateLimit
    const seconds = Math.max(1, rl?.retryAfterSeconds ?? Math.ceil((rl?.resetMs ?? 1000) / 1000))
    headers['Retry-After'] = String(seconds)
    body.retryAfterSeconds = seconds
  }
  if (row.status === 503) {
    headers['Retry-After'] = String(UNAVAILABLE_RETRY_AFTER_SECONDS)
    body.retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_SECONDS
  }
  return {status: row.status, headers, body}
}

/** Longest context value forwarded (user agents can be long), in characters. */
const MAX_CONTEXT_LENGTH = 256

function clip(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  return value.length > MAX_CONTEXT_LENGTH ? value.slice(0, MAX_CONTEXT_LENGTH) : value
}

/** The {@link VerifyContext} of a request from its headers (`X-Client-App`, `X-Client-Version`, `User-Agent`). */
export function contextFrom(carrier: KeyCarrier, extra: {method?: string; route?: string | undefined; clientIp?: string | undefined}): VerifyContext {
  const context: VerifyContext = {}
  const set = (name: keyof VerifyContext, value: string | undefined | null) => {
    const v = clip(value)
    if (v !== undefined) context[name] = v
  }
  set('clientApp', carrier.headerValues('x-client-app')[0])
  set('appVersion', carrier.headerValues('x-client-version')[0])
  set('userAgent', carrier.headerValues('user-agent')[0])
  set('method', extra.method)
  set('route', extra.route)
  set('clientIp', extra.clientIp)
  return context
}

/**
 * Verifies the key of a request given as a carrier: extraction problems are
 * answered locally (no lookup), the rest by the verifier.
 * @returns the verdict, the identity for admitted requests, and the response for rejected ones.
 */
export async function verifyCarrier(
  verifier: Verifier,
  carrier: KeyCarrier,
  options: ExtractOptions & {method?: string; route?: string | undefined; clientIp?: string | undefined; docsUrl?: string},
): Promise<{verdict: Verdict; identity: ApikeyIdentity | null; problem: ProblemResponse | null; headers: Record<string, string>}> {
  const extraction = extractKey(carrier, options)
  const context = contextFrom(carrier, options)
  let verdict: Verdict
  if (extraction.kind === 'key') verdict = await verifier.verify(extraction.key, context)
  else {
    // Recorded through the verifier (usage event, no lookup) so missing keys show up in usage.
    verdict = await verifier.verify(extraction.kind === 'missing' ? '' : 'x'.repeat(MAX_KEY_LENGTH + 1), context)
    if (extraction.kind === 'malformed') verdict = malformedVerdict(extraction.reason, verdict.docsUrl, verdict.getKeyCommand)
    else if (options.docsUrl !== undefined) verdict = missingKeyVerdict(options.docsUrl, verdict.getKeyCommand)
  }
  const problem = problemFor(verdict)
  const identity = problem === null ? {app: verdict.app?.slug ?? null, team: verdict.team, env: verdict.env, keyId: verdict.keyId, verdict} : null
  return {verdict, identity, problem, headers: problem?.headers ?? rateLimitHeaders(verdict)}
}

/** Options of the request adapters. */
export interface AdapterOptions<Req> extends ExtractOptions {
  /** Route template for usage and the service, e.g. `/v1/forecast/:city`; never the concrete path. Default: none (Fastify: the matched route). */
  route?: (req: Req) => string | undefined
  /** Client address after your own trusted-proxy handling. Default: the socket peer (Express: `req.ip`). */
  clientIp?: (req: Req) => string | undefined
  /** Docs link for "missing key" answers; default the verifier's. */
  docsUrl?: string
}

/** A Node request once admitted: {@link ApikeyIdentity} under `apikey`. */
export type RequestWithApikey<Req = IncomingMessage> = Req & {apikey?: ApikeyIdentity}

function send(res: ServerResponse, problem: ProblemResponse): void {
  const body = JSON.stringify(problem.body)
  res.writeHead(problem.status, {...problem.headers, 'Content-Length': String(Buffer.byteLength(body))})
  res.end(body)
}

/**
 * Middleware for `node:http` (and Connect-style stacks): `(req, res, next)`.
 * Admitted requests get `req.apikey` and the rate-limit headers, then `next()`;
 * rejected ones are answered with problem details and `next` is not called.
 */
export function nodeMiddleware(verifier: Verifier, options: AdapterOptions<IncomingMessage> = {}): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    const carrier = nodeCarrier(req)
    verifyCarrier(verifier, carrier, {
      ...options,
      method: req.method,
      route: options.route?.(req),
      clientIp: options.clientIp === undefined ? req.socket.remoteAddress : options.clientIp(req),
    }).then(
      ({identity, problem, headers}) => {
        if (problem !== null) return send(res, problem)
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
        ;(req as RequestWithApikey).apikey = identity!
        next()
      },
      (error: unknown) => next(error),
    )
  }
}

/**
 * Express middleware (same shape as {@link nodeMiddleware}); the client
 * address defaults to `req.ip`, which honours Express's `trust proxy` setting.
 */
export function expressMiddleware(verifier: Verifier, options: AdapterOptions<IncomingMessage & {ip?: string}> = {}): (req: IncomingMessage & {ip?: string}, res: ServerResponse, next: (error?: unknown) => void) => void {
  return nodeMiddleware(verifier, {...options, clientIp: options.clientIp ?? ((req: IncomingMessage & {ip?: string}) => req.ip ?? req.socket.remoteAddress)} as AdapterOptions<IncomingMessage>)
}

/** The parts of a Fastify request the hook reads. */
export interface FastifyRequestLike {
  raw: IncomingMessage
  ip?: string
  method: string
  routeOptions?: {url?: string | undefined}
  apikey?: ApikeyIdentity | null
}

/** The parts of a Fastify reply the hook uses. */
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike
  header(name: string, value: string): FastifyReplyLike
  send(body: string): FastifyReplyLike
}

/**
 * A Fastify `onRequest` hook: `app.addHook('onRequest', fastifyOnRequest(verifier))`.
 * The route template defaults to the matched route (`request.routeOptions.url`),
 * the client address to `request.ip` (Fastify's `trustProxy`).
 * Sets `request.apikey`; decorate it first (`app.decorateRequest('apikey', null)`) or use {@link fastifyPlugin}.
 */
export function fastifyOnRequest(verifier: Verifier, options: AdapterOptions<FastifyRequestLike> = {}): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void> {
  return async (request, reply) => {
    const {identity, problem, headers} = await verifyCarrier(verifier, nodeCarrier(request.raw), {
      ...options,
      method: request.method,
      route: options.route === undefined ? request.routeOptions?.url : options.route(request),
      clientIp: options.clientIp === undefined ? (request.ip ?? request.raw.socket.remoteAddress) : options.clientIp(request),
    })
    for (const [name, value] of Object.entries(headers)) reply.header(name, value)
    if (problem !== null) {
      reply.code(problem.status).send(JSON.stringify(problem.body))
      return
    }
    request.apikey = identity
  }
}

/** The parts of a Fastify instance {@link fastifyPlugin} uses. */
export interface FastifyInstanceLike {
  decorateRequest(name: string, value: unknown): unknown
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void>): unknown
}

/**
 * A Fastify plugin protecting every route of the instance it is registered on
 * (not encapsulated, like `fastify-plugin`): `await app.register(fastifyPlugin(verifier))`.
 */
export function fastifyPlugin(verifier: Verifier, options: AdapterOptions<FastifyRequestLike> = {}): (instance: FastifyInstanceLike, opts: unknown, done: (error?: Error) => void) => void {
  const plugin = (instance: FastifyInstanceLike, _opts: unknown, done: (error?: Error) => void) => {
    instance.decorateRequest('apikey', null)
    instance.addHook('onRequest', fastifyOnRequest(verifier, options))
    done()
  }
  Object.assign(plugin, {[Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'apikey-verify'})
  return plugin
}

/**
 * A fetch-style guard for `Request → Response` runtimes (Node's `http` via
 * adapters, Hono, workers): resolves with a `Response` to return as-is when
 * the request is rejected, or with the verdict, identity and the rate-limit
 * headers to add to your response when it is admitted.
 */
export function fetchGuard(
  verifier: Verifier,
  options: AdapterOptions<Request> = {},
): (request: Request) => Promise<Response | {verdict: Verdict; identity: ApikeyIdentity; headers: Record<string, string>}> {
  return async (request) => {
    const {verdict, identity, problem, headers} = await verifyCarrier(verifier, fetchCarrier(request), {
      ...options,
      method: request.method,
      route: options.route?.(request),
      clientIp: options.clientIp?.(request),
    })
    if (problem !== null) return new Response(JSON.stringify(problem.body), {status: problem.status, headers: problem.headers})
    return {verdict, identity: identity!, headers}
  }
}


