/**
 * The verifier's client of the key service: `POST /v1/verify` (one call per
 * cache miss, with a timeout) and `POST /v1/usage` (usage batches), both
 * authenticated by the verifier token. Any answer that is not a verdict —
 * network error, timeout, 429, 5xx, another status, a body that is not a
 * verdict — is reported as `unavailable` with a reason; the verifier's outage
 * policy decides what to answer then.
 */
import {KEY_ENVIRONMENTS, type KeyEnvironment} from '../core/key-format.js'
import type {KeyKind, RateLimitState, VerifyCode, VerifyContext, VerifyResponse} from '../core/wire.js'
import type {VerifierClock} from './clock.js'
import type {VerifierCheck} from './types.js'
import {suggestionsFor} from './messages.js'
import {fetchTransport, nodeHttpTransport, type ClosableTransport, type FetchLike} from './transport.js'

const CODES: ReadonlySet<string> = new Set<VerifyCode>(['VALID', 'MALFORMED', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'RATE_LIMITED', 'FORBIDDEN'])
const ENVS: ReadonlySet<string> = new Set(KEY_ENVIRONMENTS)
const KINDS: ReadonlySet<string> = new Set<KeyKind>(['dev', 'ci', 'service'])

/** The service's answer to one verification: a verdict, or why there is none. */
export type ServiceAnswer = {kind: 'verdict'; verdict: VerifyResponse} | {kind: 'unavailable'; reason: string}

/** What {@link ServiceClient} needs. */
export interface ServiceClientOptions {
  /** The key service's base URL, already checked to be http(s), without trailing slashes. */
  serviceUrl: string
  /** The verifier token (`akv_…`), already checked. */
  verifierToken: string
  /** Time limit of one `POST /v1/verify`, in ms. */
  timeoutMs: number
  clock: VerifierClock
  /** A `fetch`-shaped function instead of `node:http` (for failures that cannot be caused for real). */
  fetch?: FetchLike
}

/** Calls the key service for a verifier; remembers the last failure for `stats()`. */
export class ServiceClient {
  /** The last failed call (ms instant and reason), or null. */
  lastFailure: {at: number; reason: string} | null = null
  readonly #verifyUrl: URL
  readonly #usageUrl: URL
  readonly #headers: Record<string, string>
  readonly #timeoutMs: number
  readonly #clock: VerifierClock
  readonly #transport: ClosableTransport
  readonly #controllers = new Set<AbortController>()

  constructor(options: ServiceClientOptions) {
    this.#verifyUrl = new URL(`${options.serviceUrl}/v1/verify`)
    this.#usageUrl = new URL(`${options.serviceUrl}/v1/usage`)
    this.#headers = {'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${options.verifierToken}`}
    this.#timeoutMs = options.timeoutMs
    this.#clock = options.clock
    this.#transport = options.fetch === undefined ? nodeHttpTransport() : fetchTransport(options.fetch)
  }

  /** Asks `POST /v1/verify` about `key`; never throws (failures are `unavailable`). */
  async verify(key: string, context: VerifyContext | undefined): Promise<ServiceAnswer> {
    const controller = new AbortController()
    this.#controllers.add(controller)
    const timer = this.#clock.setTimeout(() => controller.abort(), this.#timeoutMs)
    let answer: ServiceAnswer
    try {
      const res = await this.#transport.send({
        url: this.#verifyUrl,
        headers: this.#headers,
        body: JSON.stringify(context === undefined ? {key} : {key, context}),
        signal: controller.signal,
      })
      answer = interpret(res.status, res.body)
    } catch (error) {
      answer = {kind: 'unavailable', reason: controller.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : describe(error)}
    } finally {
      this.#clock.clearTimeout(timer)
      this.#controllers.delete(controller)
    }
    if (answer.kind === 'unavailable') this.lastFailure = {at: this.#clock.now(), reason: `POST /v1/verify: ${answer.reason}`}
    return answer
  }

  /**
   * Posts one usage batch (`body`, JSON) to `POST /v1/usage` with `batchId` as its idempotency key.
   * @returns the HTTP status.
   * @throws the transport's error on network errors and aborts.
   */
  async postUsage(body: string, signal: AbortSignal, batchId: string): Promise<number> {
    try {
      const {status} = await this.#transport.send({url: this.#usageUrl, headers: {...this.#headers, 'idempotency-key': batchId}, body, signal})
      if (status < 200 || status > 299) this.lastFailure = {at: this.#clock.now(), reason: `POST /v1/usage: the service answered ${status}`}
      return status
    } catch (error) {
      this.lastFailure = {at: this.#clock.now(), reason: `POST /v1/usage: ${signal.aborted ? 'aborted (timeout or close deadline)' : describe(error)}`}
      throw error
    }
  }

  /**
   * Whether the service accepts the verifier token: one `POST /v1/verify` with an empty key
   * (answered MALFORMED by a service that accepts the token, without any key lookup).
   * Never throws. A rejection is also remembered as {@link lastFailure}.
   */
  async checkToken(): Promise<VerifierCheck> {
    const controller = new AbortController()
    const timer = this.#clock.setTimeout(() => controller.abort(), this.#timeoutMs)
    let check: VerifierCheck
    try {
      const res = await this.#transport.send({url: this.#verifyUrl, headers: this.#headers, body: JSON.stringify({key: ''}), signal: controller.signal})
      if (res.status === 401 || res.status === 403) check = {ok: false, rejected: true, reason: tokenRejected(res.status)}
      else {
        const answer = interpret(res.status, res.body)
        check = answer.kind === 'verdict' ? {ok: true} : {ok: false, rejected: false, reason: answer.reason}
      }
    } catch (error) {
      check = {ok: false, rejected: false, reason: controller.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : describe(error)}
    } finally {
      this.#clock.clearTimeout(timer)
    }
    if (!check.ok) this.lastFailure = {at: this.#clock.now(), reason: `POST /v1/verify: ${check.reason}`}
    return check
  }

  /** Aborts every `verify` call in flight (each then answers `unavailable`). */
  abortAll(): void {
    for (const controller of this.#controllers) controller.abort()
  }

  /** Releases pooled sockets. */
  close(): void {
    this.#transport.close()
  }
}

/** The answer for an HTTP status and body of `POST /v1/verify`. */
export function interpret(status: number, body: string): ServiceAnswer {
  if (status === 429) return {kind: 'unavailable', reason: 'the service is rate limiting this verifier (429)'}
  if (status >= 500) return {kind: 'unavailable', reason: `the service answered ${status}`}
  if (status === 401 || status === 403) return {kind: 'unavailable', reason: tokenRejected(status)}
  if (status !== 200) return {kind: 'unavailable', reason: `the service answered ${status}`}
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return {kind: 'unavailable', reason: 'the service answered 200 with a body that is not JSON'}
  }
  const verdict = asVerdict(value)
  if (verdict === null) return {kind: 'unavailable', reason: 'the service answered 200 with a body that is not a verdict'}
  if (verdict.suggestions.length === 0) verdict.suggestions = suggestionsFor(verdict)
  return {kind: 'verdict', verdict}
}

/** The reason for a service that refuses the verifier token itself (401/403 on a verifier route). */
export function tokenRejected(status: number): string {
  return `verifier token rejected: the service answered ${status}; check the verifier token (APIKEY_VERIFIER_TOKEN), or create one: apikey server verifiers add NAME`
}

function describe(error: unknown): string {
  const code = (error as {code?: unknown}).code
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error)
}

/** Validates a 200 body of `POST /v1/verify`; null when it is not a verdict. */
export function asVerdict(value: unknown): VerifyResponse | null {
  if (typeof value !== 'object' || value === null) return null
  const v = value as Record<string, unknown>
  if (typeof v.valid !== 'boolean' || typeof v.code !== 'string' || !CODES.has(v.code)) return null
  if (v.valid !== (v.code === 'VALID')) return null
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null)
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null)
  const app = typeof v.app === 'object' && v.app !== null ? (v.app as VerifyResponse['app']) : null
  const rl = v.rateLimit as Record<string, unknown> | null | undefined
  let rateLimit: RateLimitState | null = null
  if (typeof rl === 'object' && rl !== null && num(rl.limit) !== null && num(rl.remaining) !== null && num(rl.resetMs) !== null) {
    rateLimit = {limit: rl.limit as number, remaining: rl.remaining as number, resetMs: rl.resetMs as number}
    if (num(rl.retryAfterSeconds) !== null) rateLimit.retryAfterSeconds = rl.retryAfterSeconds as number
  }
  const env = str(v.env)
  return {
    valid: v.valid,
    code: v.code as VerifyCode,
    app,
    team: str(v.team),
    env: env !== null && ENVS.has(env) ? (env as KeyEnvironment) : null,
    keyId: str(v.keyId),
    expiresAt: num(v.expiresAt),
    rateLimit,
    message: str(v.message) ?? '',
    suggestions: Array.isArray(v.suggestions) ? v.suggestions.filter((s): s is string => typeof s === 'string') : [],
    docsUrl: str(v.docsUrl) ?? '',
    ...(str(v.getKeyCommand) === null ? {} : {getKeyCommand: str(v.getKeyCommand) as string}),
    ...(typeof v.keyKind === 'string' && KINDS.has(v.keyKind) ? {keyKind: v.keyKind as KeyKind} : {}),
  }
}
