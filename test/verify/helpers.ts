/**
 * Test helpers for the verifier: a fake clock with timers (no sleeping) and a
 * small node:http stand-in that speaks the `POST /v1/verify` and
 * `POST /v1/usage` wire contract (src/core/wire.ts). The stand-in is used for
 * failure and timing cases only (503, timeouts, refused connections, slow
 * answers, counting calls) until the real route exists in src/server.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {generateKey} from '../../src/core/key-format.js'
import type {RateLimitState, VerifyCode, VerifyRequest, VerifyResponse} from '../../src/core/wire.js'
import type {TimerHandle, VerifierClock} from '../../src/verify/clock.js'
import type {RequestWithApikey} from '../../src/verify/index.js'
import type {UsageBatchRequest} from '../../src/verify/types.js'

/** A clock whose time moves only when the test says so; timers fire in order during {@link advance}. */
export class FakeClock implements VerifierClock {
  #now: number
  #seq = 0
  #timers = new Map<number, {at: number; callback: () => void}>()

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = ++this.#seq
    this.#timers.set(id, {at: this.#now + Math.max(0, ms), callback})
    return id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number)
  }

  /** Moves time forward by `ms`, firing every timer due on the way (timers set while firing included). */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      let next: [number, {at: number; callback: () => void}] | undefined
      for (const entry of this.#timers) if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry
      if (next === undefined) break
      this.#timers.delete(next[0])
      this.#now = Math.max(this.#now, next[1].at)
      next[1].callback()
    }
    this.#now = target
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.#timers.size
  }
}

/** Lets pending I/O callbacks and promise continuations run (a real event-loop turn, not a sleep). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Waits (event-loop turns, bounded) until `predicate` holds. */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (predicate()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A key of the stand-in. */
export interface StandinKey {
  keyId: string
  app: string
  state: 'active' | 'revoked'
  /** ms since epoch, or null. */
  expiresAt: number | null
  /** Token bucket of the stand-in for this key (capacity, refill per ms); none = no limit. */
  limit?: {capacity: number; refillPerMs: number; tokens: number; at: number}
}

export const TOKEN = 'akv_test_verifier_token'
export const DOCS = 'https://docs.example.test/apikey'

/** How the stand-in answers `POST /v1/verify`. */
export type VerifyMode = 'ok' | '503' | '500' | '429' | 'hang' | 'garbage' | 'slow'

/** The stand-in service. */
export interface Standin {
  url: string
  keys: Map<string, StandinKey>
  /** Adds an active key for `app`; returns the plaintext. */
  issue(app?: string, options?: {expiresAt?: number | null; limit?: {capacity: number; refillPerMs: number}}): string
  revoke(key: string): void
  verifyMode: VerifyMode
  usageMode: 'ok' | '503' | 'hang'
  /** Statuses for the next usage calls, taken first (then `usageMode` applies). */
  usageStatuses: number[]
  /** Calls of `POST /v1/verify` received. */
  verifyCalls: number
  /** Bodies of `POST /v1/usage` received (acknowledged or not), with their `Idempotency-Key` as `batchId`. */
  usageBodies: Array<UsageBatchRequest & {batchId: string}>
  /** batchIds acknowledged with 2xx. */
  acknowledged: string[]
  /** Verifications acknowledged: the events' counts summed over acknowledged batches, duplicates by batchId counted once. */
  acknowledgedEvents: number
  /** Answers every held request ('hang'/'slow' modes) now: verify with its verdict, usage with `status`. */
  release(status?: number): void
  /** Requests held right now. */
  held(): number
  /** Stops listening and drops every connection: calls are refused until {@link resume}. */
  pause(): Promise<void>
  /** Listens again on the same port. */
  resume(): Promise<void>
  close(): Promise<void>
}

/** Starts the stand-in on 127.0.0.1:0. `clock` decides expiry and buckets. */
export async function startStandin(clock: {now(): number}): Promise<Standin> {
  const held: Array<(status: number) => void> = []
  const seen = new Set<string>()
  const state: Standin = {
    url: '',
    keys: new Map(),
    verifyMode: 'ok',
    usageMode: 'ok',
    usageStatuses: [],
    verifyCalls: 0,
    usageBodies: [],
    acknowledged: [],
    acknowledgedEvents: 0,
    issue(app = 'weather-app', options = {}) {
      const key = generateKey({prefix: 'ak', app, env: 'dev'})
      const k: StandinKey = {keyId: `key_${state.keys.size + 1}`, app, state: 'active', expiresAt: options.expiresAt ?? null}
      if (options.limit !== undefined) k.limit = {...options.limit, tokens: options.limit.capacity, at: clock.now()}
      state.keys.set(key, k)
      return key
    },
    revoke(key) {
      state.keys.get(key)!.state = 'revoked'
    },
    release(status = 200) {
      for (const answer of held.splice(0)) answer(status)
    },
    held: () => held.length,
    pause: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    resume: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        state.release(503)
        server.closeAllConnections()
        if (!server.listening) return resolve()
        server.close(() => resolve())
      }),
  }

  function verdictFor(req: VerifyRequest): VerifyResponse {
    const k = state.keys.get(req.key)
    const base = {docsUrl: DOCS, rateLimit: null, expiresAt: null, suggestions: []}
    if (k === undefined) return {...base, valid: false, code: 'NOT_FOUND', app: null, team: null, env: null, keyId: null, message: 'no such API key'}
    const owner = {app: {slug: k.app, name: k.app, team: {slug: 'weather', name: 'Weather'}, contactEmail: 'weather@example.com'}, team: 'weather', env: 'dev' as const, keyId: k.keyId}
    const now = clock.now()
    let code: VerifyCode = 'VALID'
    if (k.state === 'revoked') code = 'REVOKED'
    else if (k.expiresAt !== null && now >= k.expiresAt) code = 'EXPIRED'
    let rateLimit: RateLimitState | null = null
    if (code === 'VALID' && k.limit !== undefined) {
      const b = k.limit
      b.tokens = Math.min(b.capacity, b.tokens + (now - b.at) * b.refillPerMs)
      b.at = now
      if (b.tokens >= 1) {
        b.tokens -= 1
        rateLimit = {limit: b.capacity, remaining: Math.floor(b.tokens), resetMs: Math.ceil((b.capacity - b.tokens) / b.refillPerMs)}
      } else {
        code = 'RATE_LIMITED'
        rateLimit = {limit: b.capacity, remaining: 0, resetMs: Math.ceil((b.capacity - b.tokens) / b.refillPerMs), retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / b.refillPerMs / 1000))}
      }
    }
    return {...base, ...owner, valid: code === 'VALID', code, expiresAt: code === 'VALID' ? k.expiresAt : null, rateLimit, message: code === 'VALID' ? 'ok' : `key ${code.toLowerCase()}`}
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body))
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, {title: 'Not authenticated'})
    if (req.url === '/v1/verify') {
      state.verifyCalls++
      const mode = state.verifyMode
      if (mode === '503' || mode === '500' || mode === '429') return json(res, Number(mode), {title: 'unavailable'})
      if (mode === 'garbage') {
        res.writeHead(200, {'content-type': 'text/html'})
        return void res.end('<html>proxy error</html>')
      }
      if (mode === 'hang' || mode === 'slow') {
        // 'hang' never answers unless released; 'slow' computes the verdict when released.
        await new Promise<number>((resolve) => held.push(resolve)).then((status) => {
          if (status !== 200) return json(res, status, {title: 'unavailable'})
          json(res, 200, verdictFor(JSON.parse(body) as VerifyRequest))
        })
        return
      }
      return json(res, 200, verdictFor(JSON.parse(body) as VerifyRequest))
    }
    if (req.url === '/v1/usage') {
      const parsed = JSON.parse(body) as Record<string, unknown>
      // Like the real route: the body is exactly {events}; anything else is a 400.
      if (Object.keys(parsed).some((k) => k !== 'events') || !Array.isArray(parsed.events)) return json(res, 400, {title: 'Invalid request'})
      const batch = {events: parsed.events as UsageBatchRequest['events'], batchId: String(req.headers['idempotency-key'])}
      state.usageBodies.push(batch)
      const answer = (status: number) => {
        if (status >= 200 && status < 300) {
          state.acknowledged.push(batch.batchId)
          if (!seen.has(batch.batchId)) {
            seen.add(batch.batchId)
            state.acknowledgedEvents += batch.events.reduce((sum, e) => sum + (e.count ?? 1), 0)
          }
          return json(res, 202, {accepted: batch.events.length})
        }
        json(res, status, {title: 'unavailable'})
      }
      const scripted = state.usageStatuses.shift()
      if (scripted !== undefined) return answer(scripted)
      if (state.usageMode === 'hang') return void held.push(answer)
      return answer(state.usageMode === '503' ? 503 : 202)
    }
    json(res, 404, {title: 'Not found'})
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, {title: 'stand-in error'})
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  state.url = `http://127.0.0.1:${port}`
  return state
}

/** A URL on which nothing listens (a port bound, then released). */
export async function refusedUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

/**
 * A protected Node http API on 127.0.0.1:0 behind `middleware` (the library's Node adapter):
 * admitted requests get 200 with `body(identity)` as JSON, a middleware error 500, and the
 * middleware answers refusals itself.
 * @returns the server and the URL of its one route, `/v1/forecast/paris`.
 */
export async function startProtectedApi(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void,
  body: (apikey: RequestWithApikey['apikey']) => unknown,
): Promise<{server: Server; url: string}> {
  const server = createServer((req, res) => {
    middleware(req, res, (error?: unknown) => {
      if (error !== undefined) {
        res.writeHead(500).end()
        return
      }
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify(body((req as RequestWithApikey).apikey)))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/forecast/paris`}
}
