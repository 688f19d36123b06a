/**
 * The HTTP client of the key service's v1 API (`src/core/wire.ts`),
 * used by every network command of the CLI.
 *
 * - One overall deadline per command ({@link Deadline}); each attempt's timeout
 *   is what is left of it.
 * - Retries only idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) on
 *   transport errors and 502/503/504, bounded by the deadline; never POST.
 * - One agent for HTTP and HTTPS that honours `HTTPS_PROXY` / `HTTP_PROXY` /
 *   `ALL_PROXY` / `NO_PROXY` in both cases from the injected `env` and
 *   keeps Node's default CA store, so `NODE_EXTRA_CA_CERTS` works.
 * - Failures become {@link ApikeyError}s naming the phase (DNS, connect, TLS,
 *   HTTP), the URL and the proxy, credentials redacted; problem details
 *   (RFC 9457) map to our error codes and exit codes.
 * - Secrets (session token, API key, password) never reach error messages or
 *   the `debug` callback, and never appear in URLs.
 */
import got, {type Got, type Method, type Response} from 'got'
import {ApikeyError, usageError} from '../../core/errors.js'
import type {
  AppView,
  CreateAppRequest,
  CreateTokenRequest,
  CreateTokenResponse,
  GetKeyResponse,
  ListAuditResponse,
  ListTokensResponse,
  ReplaceKeyRequest,
  ReplaceKeyResponse,
  RevokeKeyRequest,
  RevokeKeyResponse,
  RevokeTokenResponse,
  RotateKeyRequest,
  RotateKeyResponse,
  TransferAppRequest,
  TransferAppResponse,
  CreateKeyRequest,
  CreateKeyResponse,
  CreateSessionRequest,
  CreateSessionResponse,
  KeyWhoamiResponse,
  LimitView,
  ListAppsResponse,
  ListKeysResponse,
  MeResponse,
  MetaResponse,
  SetKeyLimitRequest,
  UsageReportView,
} from '../../core/wire.js'
import {DEFAULT_TIMEOUT_MS, Deadline} from './deadline.js'
import {classifyNetworkError, deadlineExceededError, isProblemDetails, notApikeyServiceError, problemToError, type AuthKind} from './errors.js'
import {createProxyAgent, resolveProxy, validateProxyUrl, type EnvRecord} from './proxy.js'
import {looksLikeSecret, redactAuthorization, redactJson, redactUrl, scrubText} from './redact.js'

/** HTTP methods that may be retried (RFC 9110 §9.2.2 idempotent methods). */
export const RETRYABLE_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'] as const
/** Response statuses that are retried for idempotent methods (gateway / unavailable). */
export const RETRYABLE_STATUSES = [502, 503, 504] as const
/** Transport error codes that are retried for idempotent methods. `ENOTFOUND` is not: a missing name stays missing. */
export const RETRYABLE_ERROR_CODES = ['ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH', 'EAI_AGAIN'] as const

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
  /** Base URL of the key service, `http://` or `https://`, e.g. `https://keys.corp.example`. May carry a path prefix. */
  baseUrl: string
  /** Bearer credential for authenticated routes: a developer session token (`aks_…`) or an app-scoped provisioning token (`akp_…`, CI). */
  token?: string
  /** Overall deadline of the command in ms (default {@link DEFAULT_TIMEOUT_MS}); ignored when `deadline` is given. */
  timeoutMs?: number
  /** A deadline shared by all calls of one command; takes precedence over `timeoutMs`. */
  deadline?: Deadline
  /** Environment variables for proxy selection (`HTTPS_PROXY`, `http_proxy`, `NO_PROXY`…); a copy of `process.env` in production. */
  env: EnvRecord
  /** `User-Agent` header; default `apikey-cli (node <version>)`. */
  userAgent?: string
  /** Receives one line per request / response / retry / failure, secrets redacted. */
  debug?: (line: string) => void
  /** Retry tuning for idempotent calls: at most `limit` retries (default 2), first delay `backoffMs` (default 200 ms), doubling. */
  retry?: {limit?: number; backoffMs?: number}
}

/**
 * Client of the key service's v1 API. Every method throws {@link ApikeyError}:
 * `network` / `timeout` for transport failures (with `details.phase`), the
 * mapped problem code for problem details answers (see `problemToError`),
 * `server_error` with `details.reason = 'not_apikey_service'` for answers that
 * are not from an apikey service, and `not_signed_in` (exit 4) — without any
 * network call — for session routes when no token was given.
 */
export interface ApiClient {
  /** The normalised base URL (with a trailing `/`; may contain credentials — redact before showing). */
  readonly baseUrl: string
  /** The deadline all calls of this client draw from. */
  readonly deadline: Deadline
  /** `GET /v1/meta` — public facts of the service; checks that it is an apikey service. */
  meta(): Promise<MetaResponse>
  /** `POST /v1/sessions` — signs in with a password; the returned token is shown once. Not retried. */
  login(request: CreateSessionRequest): Promise<CreateSessionResponse>
  /** `DELETE /v1/sessions/current` — ends the current session. */
  logout(): Promise<void>
  /** `GET /v1/me` — the signed-in user, their teams, the session expiry. */
  me(): Promise<MeResponse>
  /** `GET /v1/apps` — apps of the caller's teams (all apps for admins). */
  listApps(): Promise<ListAppsResponse>
  /** `GET /v1/apps/{slug}` — one app. */
  getApp(slug: string): Promise<AppView>
  /** `POST /v1/apps` — registers an app. Not retried. */
  createApp(request: CreateAppRequest): Promise<AppView>
  /** `GET /v1/apps/{slug}/keys` — keys of an app, without secrets. */
  listKeys(slug: string): Promise<ListKeysResponse>
  /** `POST /v1/apps/{slug}/keys` — issues a key; the plaintext `key` is in the answer, once. Not retried. */
  createKey(slug: string, request: CreateKeyRequest): Promise<CreateKeyResponse>
  /** `POST /v1/keys/whoami` authenticated by the key itself (`Authorization: Bearer <key>`). Not retried. */
  whoamiKey(key: string): Promise<KeyWhoamiResponse>
  /** `GET /v1/keys/{id}` — one key (without secret), its app and rotation state. */
  getKey(id: string): Promise<GetKeyResponse>
  /** `POST /v1/keys/{id}/rotate` — issues the replacement (plaintext once, in `newKey.key`); the old key stays valid for `graceMs`. Not retried. */
  rotateKey(id: string, request: RotateKeyRequest): Promise<RotateKeyResponse>
  /** `POST /v1/keys/{id}/replace` — ends a key after `graceMs` in favour of an active key the caller issued (no key is issued). Not retried. */
  replaceKey(id: string, request: ReplaceKeyRequest): Promise<ReplaceKeyResponse>
  /** `DELETE /v1/keys/{id}` — revokes a key (with an optional `reason` for the audit log); revoking twice answers `alreadyRevoked: true`. Idempotent, so retried. */
  revokeKey(id: string, request?: RevokeKeyRequest): Promise<RevokeKeyResponse>
  /** `PUT /v1/keys/{id}/limit` — sets (`rpm`) or removes (`rpm: null`) a key's own rate limit; answers the limit now in force. Idempotent, so retried. */
  setKeyLimit(id: string, request: SetKeyLimitRequest): Promise<LimitView>
  /** `PUT /v1/apps/{slug}/limit` — sets or removes the app-wide rate limit of keys without their own. Idempotent, so retried. */
  setAppLimit(slug: string, request: SetKeyLimitRequest): Promise<LimitView>
  /** `POST /v1/apps/{slug}/transfer` — moves the app to another owning team (keys unchanged). Not retried. */
  transferApp(slug: string, request: TransferAppRequest): Promise<TransferAppResponse>
  /** `GET /v1/audit?app=&since=&limit=` — audit events, newest first; `since` in ms since epoch. */
  listAudit(query: AuditQuery): Promise<ListAuditResponse>
  /** `GET /v1/apps/{slug}/usage` — the owning team's view of an app's traffic. Times in ms since epoch. */
  getUsage(slug: string, range: {since?: number; until?: number}): Promise<UsageReportView>
  /** `POST /v1/tokens` — creates a provisioning token (`akp_…`); the plaintext `token` is in the answer, once. Not retried. */
  createToken(request: CreateTokenRequest): Promise<CreateTokenResponse>
  /** `GET /v1/tokens?app=` — provisioning tokens (without secrets), of one app or of every app the caller may see. */
  listTokens(app?: string): Promise<ListTokensResponse>
  /** `DELETE /v1/tokens/{id}` — revokes a provisioning token; twice answers `alreadyRevoked: true`. */
  revokeToken(id: string): Promise<RevokeTokenResponse>
  /** A client for the same server, deadline and connection pool with another session token (e.g. right after `login`). */
  withToken(token: string): ApiClient
  /** Closes pooled connections (shared with clients from {@link ApiClient.withToken}). */
  close(): void
}

/** Query of {@link ApiClient.listAudit}; every member optional. */
export interface AuditQuery {
  /** App slug. */
  app?: string
  /** Only events at or after this instant, ms since epoch. */
  since?: number
  /** At most this many events. */
  limit?: number
}

/** Visible ASCII only: a header value with whitespace or control characters is never sent. */
const HEADER_SAFE = /^[\x21-\x7E]+$/

function normalizeBaseUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usageError(`The server URL "${redactUrl(raw)}" is not a valid URL.`, ['Pass the service address with --server, e.g. --server https://keys.example.com'], {flag: '--server'})
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`The server URL "${redactUrl(url)}" must start with http:// or https://.`, ['Pass the service address with --server, e.g. --server https://keys.example.com'], {flag: '--server'})
  }
  url.search = ''
  url.hash = ''
  // A trailing API version segment means the service at the path above it (`…/v1` → `…/`).
  url.pathname = url.pathname.replace(/\/v1\/*$/, '/')
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  return url.href
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ')
}

function truncate(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
}

interface Shared {
  baseUrl: string
  deadline: Deadline
  env: EnvRecord
  http: Got
  userAgent: string
  debug: ((line: string) => void) | undefined
  retryLimit: number
  backoffMs: number
  /** Every secret seen by clients of this pool: scrubbed from all output (last-4 hint allowed). */
  secrets: string[]
  /** Passwords seen: scrubbed from all output without any hint. */
  passwords: string[]
  close: () => void
}

interface CallSpec {
  method: Method
  /** Path relative to the base URL, without a leading `/`. */
  path: string
  body?: unknown
  auth: AuthKind
  /** Bearer credential for `auth` `session` or `key`. */
  bearer?: string
  /** Expected success statuses. */
  expect: readonly number[]
  /** Check the JSON of a success answer; false → not an apikey service. */
  check?: (value: unknown) => boolean
  /**
   * The route every apikey service answers (`GET /v1/meta`): a 404 from it, whatever its body,
   * means the URL is not an apikey service (or not at this path).
   */
  probe?: boolean
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isLimitView(value: unknown): boolean {
  return isObject(value) && typeof value['app'] === 'string' && 'rpm' in value && 'effective' in value
}

/** Rebuilds `error` with `hidden` secrets (passwords) removed from every text it carries. */
function hideIn(error: unknown, hidden: readonly string[]): unknown {
  if (!(error instanceof ApikeyError) || hidden.length === 0) return error
  const text = JSON.stringify({m: error.message, s: error.suggestions, d: error.details})
  if (!hidden.some((h) => h !== '' && text.includes(h))) return error
  const scrub = (t: string): string => scrubText(t, [], hidden)
  return new ApikeyError(scrub(error.message), {
    code: error.code,
    exitCode: error.exitCode,
    suggestions: error.suggestions.map(scrub),
    details: JSON.parse(scrub(JSON.stringify(error.details))) as Record<string, unknown>,
  })
}

function makeClient(shared: Shared, token: string | undefined): ApiClient {
  if (token !== undefined && token !== '') shared.secrets.push(token)
  const say = (line: string): void => {
    if (shared.debug) shared.debug(oneLine(scrubText(line, shared.secrets, shared.passwords)))
  }

  async function call<T>(spec: CallSpec): Promise<T> {
    try {
      return await callOnce<T>(spec)
    } catch (error) {
      throw hideIn(error, shared.passwords)
    }
  }

  async function callOnce<T>(spec: CallSpec): Promise<T> {
    const url = new URL(spec.path, shared.baseUrl).href
    const shownUrl = redactUrl(url)
    const proxy = resolveProxy(url, shared.env)
    if (proxy) {
      const problem = validateProxyUrl(proxy.url)
      if (problem) {
        throw usageError(`The proxy in ${proxy.envVar} (${redactUrl(proxy.url)}) cannot be used: ${problem}.`, [`Fix or unset ${proxy.envVar}, e.g. export ${proxy.envVar}=http://proxy-host:3128`], {envVar: proxy.envVar})
      }
    }
    const remaining = shared.deadline.remaining()
    if (remaining <= 0) throw deadlineExceededError(url, shared.deadline.budgetMs)

    const headers: Record<string, string> = {'user-agent': shared.userAgent, accept: 'application/json, application/problem+json'}
    if (spec.bearer !== undefined) headers['authorization'] = `Bearer ${spec.bearer}`
    const ctx = {url, proxyUrl: proxy?.url, proxyEnvVar: proxy?.envVar, timeoutMs: shared.deadline.budgetMs, secrets: shared.secrets}
    const via = proxy ? ` via proxy ${redactUrl(proxy.url).replace(/\/$/, '')} (${proxy.envVar})` : ''
    say(`HTTP -> ${spec.method} ${shownUrl}${via} (${Math.round(remaining)} ms left)${spec.bearer !== undefined ? ` authorization: ${redactAuthorization(headers['authorization'] ?? '')}` : ''}`)
    if (spec.body !== undefined) say(`HTTP -> body ${truncate(JSON.stringify(redactJson(spec.body, shared.secrets)))}`)

    const started = performance.now()
    let response: Response<string>
    try {
      response = await shared.http(spec.path, {
        method: spec.method,
        headers,
        ...(spec.body === undefined ? {} : {json: spec.body}),
        timeout: {request: Math.max(1, Math.round(remaining))},
        hooks: {
          beforeRetry: [
            (error, retryCount) => {
              error.options.timeout = {request: Math.max(1, Math.round(shared.deadline.remaining()))}
              const why = error.response ? `HTTP ${error.response.statusCode}` : (error.code ?? error.name)
              say(`HTTP .. retry ${retryCount} of ${spec.method} ${shownUrl} after ${why} (${Math.round(shared.deadline.remaining())} ms left)`)
            },
          ],
        },
      })
    } catch (error) {
      const mapped = classifyNetworkError(error, ctx)
      say(`HTTP !! ${spec.method} ${shownUrl} failed after ${Math.round(performance.now() - started)} ms: ${mapped.code} (${String(mapped.details['phase'] ?? '')}${mapped.details['errorCode'] ? ` ${String(mapped.details['errorCode'])}` : ''})`)
      throw mapped
    }

    const status = response.statusCode
    const contentType = response.headers['content-type']
    const total = response.timings.phases.total ?? Math.round(performance.now() - started)
    say(`HTTP <- ${status} ${spec.method} ${shownUrl} in ${Math.round(total)} ms${response.retryCount ? ` after ${response.retryCount} retries` : ''} (${contentType ?? 'no content type'}, ${Buffer.byteLength(response.body ?? '')} bytes)`)

    const notService = (why: string): ApikeyError =>
      notApikeyServiceError({method: spec.method, url, baseUrl: shared.baseUrl, status, contentType, proxyUrl: proxy?.url, proxyEnvVar: proxy?.envVar, why})

    if (status >= 300 && status < 400) {
      const location = response.headers.location
      throw notApikeyServiceError({method: spec.method, url, baseUrl: shared.baseUrl, status, contentType, location: typeof location === 'string' ? location : undefined, proxyUrl: proxy?.url, proxyEnvVar: proxy?.envVar, why: 'a redirect'})
    }

    if (spec.probe === true && status === 404) throw notService('not found')

    const body = response.body ?? ''
    if (spec.expect.includes(status) && body.trim() === '') {
      if (status === 204 || spec.check === undefined) return undefined as T
      throw notService('with an empty body')
    }

    let json: unknown
    const looksJson = typeof contentType === 'string' && /[/+]json\b/i.test(contentType)
    if (!looksJson) throw notService('not JSON')
    try {
      json = JSON.parse(body)
    } catch {
      throw notService('with a body that is not valid JSON')
    }
    say(`HTTP <- body ${truncate(JSON.stringify(redactJson(json, shared.secrets)))}`)

    if (spec.expect.includes(status)) {
      if (spec.check && !spec.check(json)) throw notService('with JSON that is not an apikey API answer')
      return json as T
    }
    if (isProblemDetails(json)) {
      const retryAfter = response.headers['retry-after']
      throw problemToError(json, status, {
        method: spec.method,
        url,
        baseUrl: shared.baseUrl,
        auth: spec.auth,
        ...(typeof retryAfter === 'string' ? {retryAfter} : {}),
        secrets: shared.secrets,
      })
    }
    throw notService('not problem details (RFC 9457)')
  }

  const server = (): string => redactUrl(shared.baseUrl).replace(/\/$/, '')

  function requireToken(): string {
    if (token === undefined || token === '') {
      throw new ApikeyError(`Not signed in to ${server()}.`, {code: 'not_signed_in', suggestions: [`apikey login --server ${server()}`]})
    }
    if (!HEADER_SAFE.test(token)) {
      throw new ApikeyError('The session token contains spaces, line breaks or control characters (often a trailing newline in APIKEY_TOKEN); it was not sent.', {
        code: 'unauthenticated',
        suggestions: ['Remove the whitespace from APIKEY_TOKEN', `apikey login --server ${server()}`],
      })
    }
    return token
  }

  function slugPath(slug: string): string {
    if (typeof slug !== 'string' || slug === '') throw usageError('An app slug is required.', ['Pass the app, e.g. --app weather-app'])
    if (looksLikeSecret(slug)) throw usageError('The app slug looks like a secret (an API key or token); it was not sent: secrets never go in URLs.', ['apikey apps list   (shows app slugs)'])
    return encodeURIComponent(slug)
  }

  function idPath(id: string, what: string): string {
    if (typeof id !== 'string' || id === '') throw usageError(`A ${what} id is required.`)
    if (looksLikeSecret(id)) throw usageError(`The ${what} id looks like a secret (an API key or token); it was not sent: secrets never go in URLs.`, [what === 'key' ? 'apikey whoami KEY   (shows the id of a key you have)' : 'apikey tokens list   (shows token ids)'])
    return encodeURIComponent(id)
  }

  function query(params: Record<string, string | number | undefined>): string {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value))
    const text = search.toString()
    return text === '' ? '' : `?${text}`
  }

  const session = <T>(spec: Omit<CallSpec, 'auth' | 'bearer'>): Promise<T> => call<T>({...spec, auth: 'session', bearer: requireToken()})

  return {
    baseUrl: shared.baseUrl,
    deadline: shared.deadline,
    meta: () => call<MetaResponse>({method: 'GET', path: 'v1/meta', auth: 'none', expect: [200], probe: true, check: (v) => isObject(v) && v['service'] === 'apikey'}),
    login: async (request) => {
      if (request.password) shared.passwords.push(request.password)
      const answer = await call<CreateSessionResponse>({method: 'POST', path: 'v1/sessions', body: request, auth: 'none', expect: [200, 201], check: (v) => isObject(v) && typeof v['token'] === 'string'})
      shared.secrets.push(answer.token)
      return answer
    },
    logout: async () => {
      await session<void>({method: 'DELETE', path: 'v1/sessions/current', expect: [200, 204]})
    },
    me: () => session<MeResponse>({method: 'GET', path: 'v1/me', expect: [200], check: (v) => isObject(v) && isObject(v['user'])}),
    listApps: () => session<ListAppsResponse>({method: 'GET', path: 'v1/apps', expect: [200], check: (v) => isObject(v) && Array.isArray(v['apps'])}),
    getApp: (slug) => session<AppView>({method: 'GET', path: `v1/apps/${slugPath(slug)}`, expect: [200], check: (v) => isObject(v) && typeof v['slug'] === 'string'}),
    createApp: (request) => session<AppView>({method: 'POST', path: 'v1/apps', body: request, expect: [200, 201], check: (v) => isObject(v) && typeof v['slug'] === 'string'}),
    listKeys: (slug) => session<ListKeysResponse>({method: 'GET', path: `v1/apps/${slugPath(slug)}/keys`, expect: [200], check: (v) => isObject(v) && Array.isArray(v['keys'])}),
    createKey: async (slug, request) => {
      const answer = await session<CreateKeyResponse>({method: 'POST', path: `v1/apps/${slugPath(slug)}/keys`, body: request, expect: [200, 201], check: (v) => isObject(v) && typeof v['key'] === 'string'})
      shared.secrets.push(answer.key)
      return answer
    },
    whoamiKey: (key) => {
      if (typeof key !== 'string' || key === '') return Promise.reject(usageError('An API key is required.', ['Pass it with --key or set it in the environment']))
      shared.secrets.push(key)
      if (!HEADER_SAFE.test(key)) {
        return Promise.reject(
          new ApikeyError('The API key contains spaces, line breaks or control characters (often a trailing newline from a file or CI secret); it was not sent.', {
            code: 'malformed_key',
            suggestions: ['Remove the whitespace around the key where it is stored'],
          }),
        )
      }
      return call<KeyWhoamiResponse>({method: 'POST', path: 'v1/keys/whoami', auth: 'key', bearer: key, expect: [200], check: (v) => isObject(v) && isObject(v['key']) && isObject(v['app'])})
    },
    getKey: (id) => session<GetKeyResponse>({method: 'GET', path: `v1/keys/${idPath(id, 'key')}`, expect: [200], check: (v) => isObject(v) && isObject(v['key']) && isObject(v['app'])}),
    rotateKey: async (id, request) => {
      const answer = await session<RotateKeyResponse>({method: 'POST', path: `v1/keys/${idPath(id, 'key')}/rotate`, body: request, expect: [200, 201], check: (v) => isObject(v) && isObject(v['newKey']) && isObject(v['oldKey'])})
      shared.secrets.push(answer.newKey.key)
      return answer
    },
    replaceKey: (id, request) =>
      session<ReplaceKeyResponse>({method: 'POST', path: `v1/keys/${idPath(id, 'key')}/replace`, body: request, expect: [200], check: (v) => isObject(v) && isObject(v['newKey']) && isObject(v['oldKey'])}),
    revokeKey: (id, request) =>
      session<RevokeKeyResponse>({method: 'DELETE', path: `v1/keys/${idPath(id, 'key')}`, ...(request === undefined ? {} : {body: request}), expect: [200], check: (v) => isObject(v) && isObject(v['key'])}),
    setKeyLimit: (id, request) => session<LimitView>({method: 'PUT', path: `v1/keys/${idPath(id, 'key')}/limit`, body: request, expect: [200], check: isLimitView}),
    setAppLimit: (slug, request) => session<LimitView>({method: 'PUT', path: `v1/apps/${slugPath(slug)}/limit`, body: request, expect: [200], check: isLimitView}),
    transferApp: (slug, request) => session<TransferAppResponse>({method: 'POST', path: `v1/apps/${slugPath(slug)}/transfer`, body: request, expect: [200, 201], check: (v) => isObject(v) && typeof v['slug'] === 'string'}),
    listAudit: (q) => session<ListAuditResponse>({method: 'GET', path: `v1/audit${query({app: q.app, since: q.since, limit: q.limit})}`, expect: [200], check: (v) => isObject(v) && Array.isArray(v['events'])}),
    getUsage: (slug, r) => session<UsageReportView>({method: 'GET', path: `v1/apps/${idPath(slug, 'app')}/usage${query({since: r.since, until: r.until})}`, expect: [200], check: (v) => isObject(v) && typeof v['total'] === 'number'}),
    createToken: async (request) => {
      const answer = await session<CreateTokenResponse>({method: 'POST', path: 'v1/tokens', body: request, expect: [200, 201], check: (v) => isObject(v) && typeof v['token'] === 'string'})
      shared.secrets.push(answer.token)
      return answer
    },
    listTokens: (app) => session<ListTokensResponse>({method: 'GET', path: `v1/tokens${query({app})}`, expect: [200], check: (v) => isObject(v) && Array.isArray(v['tokens'])}),
    revokeToken: (id) => session<RevokeTokenResponse>({method: 'DELETE', path: `v1/tokens/${idPath(id, 'token')}`, expect: [200], check: (v) => isObject(v) && isObject(v['token'])}),
    withToken: (next) => makeClient(shared, next),
    close: () => shared.close(),
  }
}

/**
 * Creates the API client of one command.
 *
 * @param options - see {@link ApiClientOptions}; `env` is required (proxy
 *   variables are read from it, never from `process.env`).
 * @returns an {@link ApiClient}; call `close()` when done (idle sockets do not
 *   keep the process alive either way).
 * @throws ApikeyError `usage` (exit 2) when `baseUrl` is not an http(s) URL.
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const baseUrl = normalizeBaseUrl(options.baseUrl)
  const deadline = options.deadline ?? new Deadline(options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const agent = createProxyAgent(options.env)
  const retryLimit = Math.max(0, options.retry?.limit ?? 2)
  const backoffMs = Math.max(0, options.retry?.backoffMs ?? 200)
  /** Do not start another attempt with less than this left, in ms. */
  const minAttemptMs = 50
  const http = got.extend({
    prefixUrl: baseUrl,
    agent: {http: agent, https: agent},
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
    retry: {
      limit: retryLimit,
      methods: [...RETRYABLE_METHODS],
      statusCodes: [...RETRYABLE_STATUSES],
      errorCodes: [...RETRYABLE_ERROR_CODES],
      calculateDelay: ({attemptCount, computedValue, retryAfter}) => {
        if (computedValue === 0) return 0
        const delay = retryAfter !== undefined && retryAfter > 0 ? retryAfter : Math.max(1, backoffMs * 2 ** (attemptCount - 1))
        return deadline.remaining() - delay >= minAttemptMs ? delay : 0
      },
    },
  })
  const shared: Shared = {
    baseUrl,
    deadline,
    env: options.env,
    http,
    userAgent: options.userAgent ?? `apikey-cli (node ${process.version})`,
    debug: options.debug,
    retryLimit,
    backoffMs,
    secrets: [],
    passwords: [],
    close: () => agent.destroy(),
  }
  return makeClient(shared, options.token)
}
