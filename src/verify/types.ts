/**
 * Public types of `apikey/verify`.
 */
import type {VerifyCode, VerifyContext, VerifyResponse} from '../core/wire.js'
import type {VerifierClock} from './clock.js'
import type {FetchLike} from './transport.js'

/**
 * Code of a {@link Verdict}: the service's {@link VerifyCode}, or `UNAVAILABLE`
 * when the service could not be asked and no usable cached verdict exists
 * (then {@link Verdict.unavailable} is `true` and `valid` follows the outage policy).
 */
export type VerdictCode = VerifyCode | 'UNAVAILABLE'

/** Where a verdict came from. */
export type VerdictSource =
  /** A verdict fetched earlier (within the staleness bound, or served stale during an outage). */
  | 'cache'
  /** Asked the service for this verification (or shared a concurrent call for the same key). */
  | 'service'
  /** Decided without the service: missing or malformed key, outage policy. */
  | 'local'

/**
 * The answer of {@link Verifier.verify}: the service's {@link VerifyResponse}
 * (same members; `code` may also be `UNAVAILABLE`) plus where it came from.
 * Admit the request when `valid` is true — never test `code === 'VALID'` only,
 * or a fail-open outage verdict would be rejected.
 */
export interface Verdict extends Omit<VerifyResponse, 'code'> {
  code: VerdictCode
  source: VerdictSource
  /** True when served from the cache after its staleness bound because the service was unavailable. */
  stale?: boolean
  /** True when the service could not be asked and no cached verdict applied; `valid` then follows `outagePolicy`. */
  unavailable?: boolean
}

/** What to do when the service cannot be asked (transport error, timeout, 5xx, 429 from the service, unexpected answer). */
export interface OutagePolicy {
  /** Keys without a usable cached verdict: `fail-closed` (default) answers `valid: false`, `fail-open` answers `valid: true`; both with `unavailable: true`. */
  unknownKeys?: 'fail-closed' | 'fail-open'
  /**
   * Keys with a cached verdict younger than the hard ceiling: `serve-stale`
   * (default) answers it with `stale: true`; `fail-closed` treats them like unknown keys under `fail-closed`.
   */
  knownKeys?: 'serve-stale' | 'fail-closed'
}

/** Usage reporting options (events go to `POST {serviceUrl}/v1/usage`). */
export interface UsageOptions {
  /** Off: no events are recorded or sent. Default true. */
  enabled?: boolean
  /** A batch is sent at most this often, in ms (default 1000), unless `maxBatch` events are waiting. */
  flushIntervalMs?: number
  /**
   * Most events per batch (default 500; the service takes up to 5 000); this many events waiting triggers a send.
   * Counts aggregated {@link UsageEvent}s (distinct key, code, source, context and minute), not verifications:
   * identical verifications only add to an event's `count`.
   */
  maxBatch?: number
  /**
   * Most events held, unsent or not yet acknowledged (default 10 000; aggregated {@link UsageEvent}s, as `maxBatch`).
   * A verification that would need a new event beyond it is counted as dropped; one that adds to an open event never is.
   */
  maxBuffer?: number
  /** Longest wait between retries of a failed batch, in ms (default 30 000); retries back off from `flushIntervalMs` doubling. */
  maxBackoffMs?: number
}

/**
 * Rate-limit enforcement for cached VALID verdicts (see docs/verifier.md):
 * - `local` (default): each cached key carries a token bucket seeded from the
 *   service's {@link RateLimitState} (never refilled above what the service last
 *   reported); cache hits take tokens locally, an empty bucket answers
 *   RATE_LIMITED locally, and usage events tell the service about cache-admitted requests.
 * - `service`: a VALID verdict of a rate-limited key is never served from the
 *   cache; every request asks the service (exact limits, one round trip each).
 */
export type RateLimitMode = 'local' | 'service'

/** Options of {@link createVerifier}. Durations are milliseconds. */
export interface VerifierOptions {
  /** Base URL of the key service, e.g. `http://127.0.0.1:4000`. */
  serviceUrl: string
  /** Verifier token (`akv_…`) sent as `Authorization: Bearer`. */
  verifierToken: string
  /** Longest time a fetched verdict is served from the cache, counted from when the fetch started; reads never extend it. Default 5000. */
  stalenessMs?: number
  /** During an outage, a cached VALID/NOT_FOUND/MALFORMED verdict older than this (from its fetch) is no longer served. Default 60 000. */
  hardCeilingMs?: number
  /** Most cached verdicts (LRU). Default 100 000. */
  cacheSize?: number
  /** Outage policy; default `{unknownKeys: 'fail-closed', knownKeys: 'serve-stale'}`. */
  outagePolicy?: OutagePolicy
  /** Timeout of each call to the service, ms. Default 2000. */
  timeoutMs?: number
  /** After this many consecutive failed calls the service is not asked for `circuitOpenMs` (outage policy applies at once). Default 3; 0 disables. */
  circuitFailures?: number
  /** How long the circuit stays open, ms. Default 1000. */
  circuitOpenMs?: number
  /** Usage reporting. */
  usage?: UsageOptions
  /** Rate-limit enforcement for cached verdicts; default `local`. */
  rateLimits?: RateLimitMode
  /** Expected key prefix (e.g. `ak`); keys with another prefix are MALFORMED without a lookup. Default: any. */
  keyPrefix?: string
  /** Docs link used in locally decided verdicts until the service has named its own. Default `${serviceUrl}/docs` (the service's docs page). */
  docsUrl?: string
  /**
   * Command locally decided verdicts (missing or malformed key) tell callers to run. Default: the
   * service's (its `--cli-package` / `--get-key-command` setting, learned from its verdicts), and
   * `apikey init` until the service has answered.
   */
  getKeyCommand?: string
  /** Time source and timers; a bare `() => number` injects only instants. Default the wall clock. */
  clock?: VerifierClock | (() => number)
  /** Transport override (a `fetch`-shaped function), for failures that cannot be caused for real. Default `node:http` keep-alive. */
  fetch?: FetchLike
}

/**
 * Counters of a verifier (monotonic except `buffered`, `bufferedEvents` and `cacheSize`).
 * The usage counters `sent`, `dropped`, `rejected` and `buffered` count verifications
 * (the sum of the aggregated events' `count`s), so `sent + dropped + buffered` is the
 * number of verifications recorded.
 */
export interface VerifierStats {
  /** Verifications whose usage the service acknowledged (2xx). */
  sent: number
  /** Verifications whose usage was given up: buffer full, recorded after close, or unacknowledged at the close deadline. */
  dropped: number
  /** Verifications whose usage the service refused as invalid (400, 413, 422); included in `dropped`, never retried. */
  rejected: number
  /** Verifications whose usage is held now (including a batch in flight). */
  buffered: number
  /** Aggregated usage events held now (including a batch in flight): what `usage.maxBuffer` bounds. */
  bufferedEvents: number
  cacheHits: number
  cacheMisses: number
  /** Calls made to `POST /v1/verify`. */
  fetches: number
  /** Calls to `POST /v1/verify` that failed (transport error, timeout, 5xx, 429, unexpected answer). */
  fetchErrors: number
  /** Verdicts answered with `unavailable: true`. */
  unavailable: number
  /** Verdicts served stale during an outage. */
  staleServed: number
  /** Verdicts held in the cache now. */
  cacheSize: number
  /** The latest failed call to the service (verify or usage), e.g. `POST /v1/verify: verifier token rejected: the service answered 401; …`; null when none. */
  lastFailure: {at: number; reason: string} | null
}

/**
 * Result of {@link Verifier.check}: whether the key service accepts the verifier token.
 * `rejected` is true when the service refused the token itself (401/403: a wrong, revoked or
 * other service's token — fix the configuration); false when the service could not be asked
 * (down, timeout, not a key service) and the token is simply not known to be good yet.
 */
export type VerifierCheck = {ok: true} | {ok: false; rejected: boolean; reason: string}

/** Result of {@link Verifier.close}. Usage numbers count verifications (see {@link VerifierStats}). */
export interface CloseReport {
  /** Verifications whose usage was acknowledged over the verifier's life. */
  sent: number
  /** Verifications whose usage was given up over the verifier's life (see {@link VerifierStats.dropped}). */
  dropped: number
  /** Verifications dropped by this close because their events were not acknowledged before the deadline. */
  droppedAtClose: number
  /** True when every event was acknowledged before the deadline. */
  flushed: boolean
  /** Time spent closing, ms of the verifier's clock. */
  elapsedMs: number
}

/**
 * One usage event (`POST /v1/usage` body member; `UsageEventRequest` of the wire
 * contract): `count` identical verifications — same key id, app, code, source and
 * context, in the same UTC minute. Never carries the key.
 */
export interface UsageEvent {
  /** Key id when known (null for missing/malformed keys and unknown keys). */
  keyId: string | null
  /** App slug when known. */
  app: string | null
  code: VerdictCode
  /** Where the verdict came from: lets the service count cache-admitted requests. */
  source: VerdictSource
  route: string | null
  clientApp: string | null
  appVersion: string | null
  userAgent: string | null
  clientIp: string | null
  /** When the latest of the verifications was handled, ms since epoch. */
  at: number
  /** How many identical verifications this event stands for (1 to `MAX_USAGE_EVENT_COUNT`, 10⁹). */
  count: number
}

/**
 * `POST /v1/usage` request body. Each batch also carries an `Idempotency-Key`
 * header (a UUID, the same on every retry of the batch) so the service can
 * ignore a batch it already wrote when only its acknowledgement was lost.
 */
export interface UsageBatchRequest {
  events: UsageEvent[]
}

/** A verifier: see {@link createVerifier}. */
export interface Verifier {
  /**
   * Verifies a key. Never rejects and never throws: every failure is a
   * {@link Verdict} (MALFORMED for bad input, `unavailable` during an outage).
   * @param key the key exactly as received (never trimmed).
   * @param context request context forwarded to the service and recorded in usage events.
   */
  verify(key: string | null | undefined, context?: VerifyContext): Promise<Verdict>
  /**
   * Drops cached verdicts: of one key (pass the key) or key id (`key_…`), or
   * all when no argument is given. A fetch in flight is not stored afterwards.
   * @returns how many entries were dropped.
   */
  invalidate(keyOrKeyId?: string): number
  /**
   * Asks the key service whether it accepts the verifier token (one request; no key is looked
   * up). Call it at start so that a wrong token is reported at once ("verifier token rejected")
   * rather than as 503s to callers. Never rejects; a failure is also `stats().lastFailure`.
   */
  check(): Promise<VerifierCheck>
  /** Sends buffered usage events now (respecting no backoff); resolves when the attempt ends. */
  flush(): Promise<void>
  /** Current counters. */
  stats(): VerifierStats
  /**
   * Stops usage intake, flushes within `deadlineMs` (default 5000) while calls
   * to `POST /v1/verify` in flight may finish, aborts what is still in flight at
   * the deadline, counts unacknowledged events as dropped and closes pooled sockets. Idempotent (later calls return the same report).
   * `verify()` keeps answering afterwards; its usage events are counted as dropped.
   */
  close(options?: {deadlineMs?: number}): Promise<CloseReport>
}
