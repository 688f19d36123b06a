/**
 * The verifier: answers "may this request proceed, and whose key is it?" from
 * a bounded cache of the service's verdicts, asking `POST /v1/verify` on a miss.
 *
 * Guarantees (docs/verifier.md, cases SC-01 … SC-07, SC-17, SC-18):
 * - no network for absent, oversized, non-printable or checksum-failing keys;
 * - a cached verdict is served at most `stalenessMs` after its fetch started,
 *   and never past its own deadline (`expiresAt`), re-checked on every hit;
 * - only authoritative answers are cached; an outage is never stored as invalid;
 * - concurrent misses for one key make one call (single flight);
 * - during an outage cached verdicts are served stale up to `hardCeilingMs`,
 *   then the outage policy answers with `unavailable: true`.
 */
import {hash} from 'node:crypto'
import {MAX_KEY_LENGTH, parseKey} from '../core/key-format.js'
import type {KeyEnvironment} from '../core/key-format.js'
import type {RateLimitState, VerifyCode, VerifyContext, VerifyResponse} from '../core/wire.js'
import {toVerifierClock} from './clock.js'
import {Lru} from './lru.js'
import {malformedVerdict, missingKeyVerdict, pastDeadlineVerdict, rateLimitedVerdict, suggestionsFor, unavailableVerdict} from './messages.js'
import {fetchTransport, nodeHttpTransport, type ClosableTransport} from './transport.js'
import type {CloseReport, Verdict, Verifier, VerifierOptions, VerifierStats} from './types.js'
import {UsageSender, usageHead, type UsageHead} from './usage.js'

/**
 * Codes whose verdicts are cached: authoritative answers about the key itself, and FORBIDDEN,
 * which is authoritative for this verifier's token (the token's environment scope is fixed at
 * creation, and a key never changes environment).
 */
const CACHEABLE: ReadonlySet<VerifyCode> = new Set(['VALID', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'MALFORMED', 'FORBIDDEN'])
/**
 * Codes that never change back to VALID: served stale during an outage even past the hard
 * ceiling. A FORBIDDEN key may later become EXPIRED or REVOKED, but never acceptable to this token.
 */
const TERMINAL: ReadonlySet<VerifyCode> = new Set(['EXPIRED', 'REVOKED', 'FORBIDDEN'])
const CODES: ReadonlySet<string> = new Set(['VALID', 'MALFORMED', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'RATE_LIMITED', 'FORBIDDEN'])
const ENVS: ReadonlySet<string> = new Set(['dev', 'test', 'stage', 'prod', 'ci'])
/** Printable ASCII without space: the only characters a key can have. */
const NON_PRINTABLE = /[^\x21-\x7e]/

/** A local token bucket mirroring the service's bucket for a cached key. */
interface Bucket {
  limit: number
  tokens: number
  /** Refill, tokens per ms; null while unknown (the service reported a full bucket). */
  ratePerMs: number | null
  /** Instant of `tokens`. */
  at: number
}

interface Entry {
  verdict: VerifyResponse
  /** The verdict as served from the cache (prebuilt; shared, never mutated). */
  cached: Verdict
  /** The usage head of `cached` (built once: a cache hit records usage without building strings). */
  hit: UsageHead
  /** The usage head of the local RATE_LIMITED answer for this key, built at its first use. */
  limited: UsageHead | null
  /** When the fetch that produced it started. */
  fetchedAt: number
  /** Served from the cache while now < freshUntil = min(fetchedAt + stalenessMs, deadline). */
  freshUntil: number
  /** The verdict's own deadline for VALID verdicts (`expiresAt`), else +Infinity. */
  deadline: number
  /** During an outage, served stale while now < ceilingAt (terminal codes: always). */
  ceilingAt: number
  bucket: Bucket | null
  /** Cache generation when stored (see invalidate). */
  generation: number
  /** Recency sequence (see Lru). */
  seq: number
}

/** A fetch's result; `reseeded` when a local bucket from an earlier verdict was merged (its cache-admitted requests are unknown to the service). */
type Outcome = {kind: 'verdict'; verdict: VerifyResponse; entry: Entry | null; reseeded?: boolean} | {kind: 'unavailable'; reason: string}

/**
 * Creates a verifier for one key service.
 *
 * @throws RangeError when an option is out of range (non-positive durations or sizes, a missing or non-http(s)
 *   `serviceUrl`, a missing `verifierToken` or one without the `akv_` prefix).
 * @example
 * const verifier = createVerifier({serviceUrl: 'http://127.0.0.1:4000', verifierToken: process.env.APIKEY_VERIFIER_TOKEN!})
 * const verdict = await verifier.verify(req.headers['x-api-key'] as string, {route: '/v1/forecast/:city'})
 * if (!verdict.valid) … // answer 401/403/429/503 (see problemFor)
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const clock = toVerifierClock(options.clock)
  if (typeof options.serviceUrl !== 'string' || !URL.canParse(options.serviceUrl)) {
    throw new RangeError(`serviceUrl must be the key service's http(s) URL, e.g. http://127.0.0.1:4000; got ${String(options.serviceUrl)}`)
  }
  const base = new URL(options.serviceUrl)
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RangeError(`serviceUrl must be http(s): ${options.serviceUrl}`)
  // Never echoed: a wrong value may still be a secret.
  if (typeof options.verifierToken !== 'string' || !/^akv_\S+$/.test(options.verifierToken)) {
    throw new RangeError('verifierToken must be a verifier token (akv_…) from: apikey server verifiers add NAME')
  }
  const serviceUrl = options.serviceUrl.replace(/\/+$/, '')
  const verifyUrl = new URL(`${serviceUrl}/v1/verify`)
  const usageUrl = new URL(`${serviceUrl}/v1/usage`)
  const stalenessMs = positive('stalenessMs', options.stalenessMs ?? 5000)
  const hardCeilingMs = positive('hardCeilingMs', options.hardCeilingMs ?? 60_000)
  if (hardCeilingMs < stalenessMs) throw new RangeError(`hardCeilingMs (${hardCeilingMs}) must be at least stalenessMs (${stalenessMs})`)
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 2000)
  const circuitFailures = options.circuitFailures ?? 3
  const circuitOpenMs = options.circuitOpenMs ?? 1000
  const unknownOpen = options.outagePolicy?.unknownKeys === 'fail-open'
  const serveStale = (options.outagePolicy?.knownKeys ?? 'serve-stale') === 'serve-stale'
  const rateLimitMode = options.rateLimits ?? 'local'
  const keyPrefix = options.keyPrefix
  let docsUrl = options.docsUrl ?? `${serviceUrl}/docs`
  const docsFixed = options.docsUrl !== undefined
  const transport: ClosableTransport = options.fetch === undefined ? nodeHttpTransport() : fetchTransport(options.fetch)
  const headers = {'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${options.verifierToken}`}

  const usageEnabled = options.usage?.enabled ?? true
  const usage = new UsageSender({
    clock,
    timeoutMs,
    flushIntervalMs: positive('usage.flushIntervalMs', options.usage?.flushIntervalMs ?? 1000),
    maxBatch: positive('usage.maxBatch', options.usage?.maxBatch ?? 500),
    maxBuffer: positive('usage.maxBuffer', options.usage?.maxBuffer ?? 10_000),
    maxBackoffMs: positive('usage.maxBackoffMs', options.usage?.maxBackoffMs ?? 30_000),
    post: async (body, signal, batchId) => {
      try {
        const {status} = await transport.send({url: usageUrl, headers: {...headers, 'idempotency-key': batchId}, body, signal})
        if (status < 200 || status > 299) lastFailure = {at: clock.now(), reason: `POST /v1/usage: the service answered ${status}`}
        return status
      } catch (error) {
        lastFailure = {at: clock.now(), reason: `POST /v1/usage: ${signal.aborted ? 'aborted (timeout or close deadline)' : describe(error)}`}
        throw error
      }
    },
  })

  /** keyId → cache key, to invalidate by key id. */
  const byKeyId = new Map<string, string>()
  const cache = new Lru<string, Entry>(positive('cacheSize', options.cacheSize ?? 100_000), (_hash, entry) => {
    if (entry.verdict.keyId !== null) byKeyId.delete(entry.verdict.keyId)
  })
  const inflight = new Map<string, Promise<Outcome>>()
  const controllers = new Set<AbortController>()
  let generation = 0
  let consecutiveFailures = 0
  let circuitOpenUntil = 0
  let closeReport: Promise<CloseReport> | null = null
  const counters = {cacheHits: 0, cacheMisses: 0, fetches: 0, fetchErrors: 0, unavailable: 0, staleServed: 0}
  let lastFailure: {at: number; reason: string} | null = null

  /** Heads of verdicts without key id and app (missing, malformed, unknown keys, outages), by code and source: few, built once. */
  const anonymousHeads = new Map<string, UsageHead>()

  /** The usage head of a verdict that has none prebuilt. */
  function headOf(verdict: Verdict): UsageHead {
    const app = verdict.app?.slug ?? null
    if (verdict.keyId !== null || app !== null) return usageHead(verdict.keyId, app, verdict.code, verdict.source)
    const id = `${verdict.code} ${verdict.source}`
    let head = anonymousHeads.get(id)
    if (head === undefined) anonymousHeads.set(id, (head = usageHead(null, null, verdict.code, verdict.source)))
    return head
  }

  /** The usage head of a verdict served from `entry` (a cache hit, or a stale answer during an outage): the entry's own, or its local RATE_LIMITED one. */
  function hitHead(entry: Entry, verdict: Verdict): UsageHead {
    if (matches(entry.hit, verdict)) return entry.hit
    if (entry.limited !== null && matches(entry.limited, verdict)) return entry.limited
    return (entry.limited = headOf(verdict))
  }

  /** Whether `head` describes `verdict` (code, source, key id and app). */
  function matches(head: UsageHead, verdict: Verdict): boolean {
    return head.code === verdict.code && head.source === verdict.source && head.keyId === verdict.keyId && head.app === (verdict.app?.slug ?? null)
  }

  /** Counts a verdict and records its usage (under `head` when the caller has it prebuilt). */
  function record(verdict: Verdict, context: VerifyContext | undefined, now: number, head?: UsageHead): Verdict {
    if (verdict.unavailable === true) counters.unavailable++
    if (verdict.stale === true) counters.staleServed++
    if (usageEnabled) usage.record(head ?? headOf(verdict), context, now)
    return verdict
  }

  /** Serves a VALID entry through its local bucket; null when the bucket cannot decide (ask the service). */
  function admit(entry: Entry, now: number, source: 'cache' | 'service', stale: boolean): Verdict | null {
    const bucket = entry.bucket
    if (bucket === null) return stale ? {...entry.cached, stale: true} : source === 'cache' ? entry.cached : {...entry.cached, source}
    refill(bucket, now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      const rateLimit: RateLimitState = {limit: bucket.limit, remaining: Math.floor(bucket.tokens), resetMs: resetMsOf(bucket)}
      return stale ? {...entry.cached, rateLimit, stale: true} : {...entry.cached, source, rateLimit}
    }
    if (bucket.ratePerMs === null) return null
    const waitMs = Math.ceil((1 - bucket.tokens) / bucket.ratePerMs)
    return rateLimitedVerdict(entry.verdict, bucket.limit, resetMsOf(bucket), Math.max(1, Math.ceil(waitMs / 1000)))
  }

  async function verify(key: string | null | undefined, context?: VerifyContext): Promise<Verdict> {
    const now = clock.now()
    if (typeof key !== 'string' || key.length === 0) return record(missingKeyVerdict(docsUrl), context, now)
    if (key.length > MAX_KEY_LENGTH) return record(malformedVerdict(`the key is ${key.length} characters long; keys are at most ${MAX_KEY_LENGTH}`, docsUrl), context, now)
    const id = hash('sha256', key, 'binary')
    const entry = cache.peek(id)
    if (entry !== undefined && now < entry.freshUntil && now >= entry.fetchedAt) {
      const limited = entry.verdict.valid && entry.bucket !== null && rateLimitMode === 'service'
      const verdict = limited ? null : entry.verdict.valid ? admit(entry, now, 'cache', false) : entry.cached
      if (verdict !== null) {
        counters.cacheHits++
        cache.touch(id, entry)
        return record(verdict, context, now, hitHead(entry, verdict))
      }
    }
    if (NON_PRINTABLE.test(key)) return record(malformedVerdict('it contains whitespace or non-printable characters', docsUrl), context, now)
    const parsed = parseKey(key, keyPrefix)
    if (!parsed.valid) return record(malformedVerdict(parsed.problems[0]?.message ?? 'it does not follow the key format', docsUrl), context, now)
    counters.cacheMisses++
    const {verdict, shared, countedByService} = await miss(id, key, context, now)
    if (countedByService === true) return record(verdict, context, now, headOf({...verdict, source: 'service'}))
    // During an outage the answer may come from the cache (stale): its entry has the usage head prebuilt.
    const served = verdict.source === 'cache' ? cache.peek(id) : undefined
    if (served !== undefined) return record(verdict, context, now, hitHead(served, verdict))
    // POST /v1/verify counted a shared call once (and the service skips reports of `service` verdicts):
    // a caller that only shared it is reported like a cache hit, so every verification is counted once.
    if (shared && verdict.source === 'service') return record(verdict, context, now, headOf({...verdict, source: 'cache'}))
    return record(verdict, context, now)
  }

  /** A cache miss's verdict; `shared` when a concurrent caller's call to the service answered it. */
  async function miss(id: string, key: string, context: VerifyContext | undefined, now: number): Promise<{verdict: Verdict; shared: boolean; countedByService?: boolean}> {
    const previous = cache.peek(id)
    if (now < circuitOpenUntil) return {verdict: outage(previous, clock.now()), shared: false}
    let leader = false
    let shared = inflight.get(id)
    if (shared === undefined) {
      leader = true
      shared = fetchVerdict(id, key, context)
      inflight.set(id, shared)
      void shared.then(() => inflight.delete(id))
    }
    let outcome = await shared
    const at = clock.now()
    if (outcome.kind === 'unavailable') return {verdict: outage(previous, at), shared: false}
    if (!leader && rateLimitMode === 'service' && outcome.verdict.valid && outcome.verdict.rateLimit !== null) {
      // Exact limits: every request takes its own token at the service.
      outcome = await fetchVerdict(id, key, context)
      if (outcome.kind === 'unavailable') return {verdict: outage(previous, clock.now()), shared: false}
      return {verdict: {...outcome.verdict, source: 'service'}, shared: false}
    }
    const {verdict, entry} = outcome
    if ((!leader || outcome.reseeded === true) && verdict.valid && entry !== null && rateLimitMode === 'local') {
      // Followers: the service took one token for the call we shared; theirs come from the local bucket.
      // A leader refreshing a bucket: the merged bucket already counts requests the cache admitted, so it decides.
      const admitted = admit(entry, at, 'service', false) ?? {...verdict, source: 'service' as const}
      // A leader refusing its own request locally: POST /v1/verify already counted this request (as VALID),
      // so its usage event is not reported again — every verification is counted once.
      return {verdict: admitted, shared: !leader, countedByService: leader && !admitted.valid}
    }
    return {verdict: {...verdict, source: 'service'}, shared: !leader}
  }

  /** The verdict when the service cannot be asked. */
  function outage(entry: Entry | undefined, now: number): Verdict {
    if (entry !== undefined && serveStale) {
      const code = entry.verdict.code
      if (TERMINAL.has(code)) return {...entry.cached, stale: true}
      if (now < entry.ceilingAt) {
        if (code === 'VALID' && now >= entry.deadline) return pastDeadlineVerdict(entry.verdict, entry.deadline)
        if (code === 'VALID') return admit(entry, now, 'cache', true) ?? unavailableVerdict(false, docsUrl)
        return {...entry.cached, stale: true}
      }
    }
    if (entry !== undefined && entry.verdict.code === 'VALID' && now >= entry.deadline) return pastDeadlineVerdict(entry.verdict, entry.deadline)
    if (entry !== undefined && TERMINAL.has(entry.verdict.code)) return {...entry.cached, stale: true}
    // Fail-open never admits a key whose last authoritative answer was negative.
    return unavailableVerdict(unknownOpen && (entry === undefined || (serveStale && entry.verdict.valid)), docsUrl)
  }

  async function fetchVerdict(id: string, key: string, context: VerifyContext | undefined): Promise<Outcome> {
    const startedAt = clock.now()
    const startGeneration = generation
    counters.fetches++
    const controller = new AbortController()
    controllers.add(controller)
    const timer = clock.setTimeout(() => controller.abort(), timeoutMs)
    let outcome: Outcome
    try {
      const res = await transport.send({url: verifyUrl, headers, body: JSON.stringify(context === undefined ? {key} : {key, context}), signal: controller.signal})
      outcome = interpret(res.status, res.body)
    } catch (error) {
      outcome = {kind: 'unavailable', reason: controller.signal.aborted ? `no answer within ${timeoutMs} ms` : describe(error)}
    } finally {
      clock.clearTimeout(timer)
      controllers.delete(controller)
    }
    if (outcome.kind === 'unavailable') {
      counters.fetchErrors++
      lastFailure = {at: clock.now(), reason: `POST /v1/verify: ${outcome.reason}`}
      consecutiveFailures++
      if (circuitFailures > 0 && consecutiveFailures >= circuitFailures) circuitOpenUntil = clock.now() + circuitOpenMs
      return outcome
    }
    consecutiveFailures = 0
    circuitOpenUntil = 0
    const verdict = outcome.verdict
    if (!docsFixed && verdict.docsUrl !== '') docsUrl = verdict.docsUrl
    const previous = cache.peek(id)
    if (verdict.code === 'RATE_LIMITED') {
      if (previous !== undefined && previous.bucket !== null && verdict.rateLimit !== null) seed(previous.bucket, verdict.rateLimit, clock.now())
      return {kind: 'verdict', verdict, entry: null}
    }
    if (!CACHEABLE.has(verdict.code) || startGeneration !== generation) return {kind: 'verdict', verdict, entry: null}
    const deadline = verdict.code === 'VALID' && verdict.expiresAt !== null ? verdict.expiresAt : Number.POSITIVE_INFINITY
    let bucket: Bucket | null = null
    const reseeded = verdict.code === 'VALID' && verdict.rateLimit !== null && previous?.bucket != null
    if (verdict.code === 'VALID' && verdict.rateLimit !== null) {
      bucket = previous?.bucket ?? {limit: verdict.rateLimit.limit, tokens: verdict.rateLimit.remaining, ratePerMs: null, at: startedAt}
      // A refresh counts this request locally (admit), so give back the token the service took for it.
      seed(bucket, verdict.rateLimit, clock.now(), reseeded ? 1 : 0)
    }
    const entry: Entry = {
      verdict,
      cached: freezeVerdict({...verdict, source: 'cache'}),
      hit: usageHead(verdict.keyId, verdict.app?.slug ?? null, verdict.code, 'cache'),
      limited: null,
      fetchedAt: startedAt,
      freshUntil: Math.min(startedAt + stalenessMs, deadline),
      deadline,
      ceilingAt: startedAt + hardCeilingMs,
      bucket,
      generation,
      seq: 0,
    }
    if (previous?.verdict.keyId != null && previous.verdict.keyId !== verdict.keyId) byKeyId.delete(previous.verdict.keyId)
    cache.set(id, entry)
    if (verdict.keyId !== null) byKeyId.set(verdict.keyId, id)
    return {kind: 'verdict', verdict, entry, reseeded}
  }

  function interpret(status: number, body: string): Outcome {
    if (status === 429) return {kind: 'unavailable', reason: 'the service is rate limiting this verifier (429)'}
    if (status >= 500) return {kind: 'unavailable', reason: `the service answered ${status}`}
    if (status !== 200) return {kind: 'unavailable', reason: `the service answered ${status} (check the verifier token)`}
    let value: unknown
    try {
      value = JSON.parse(body)
    } catch {
      return {kind: 'unavailable', reason: 'the service answered 200 with a body that is not JSON'}
    }
    const verdict = asVerdict(value)
    if (verdict === null) return {kind: 'unavailable', reason: 'the service answered 200 with a body that is not a verdict'}
    if (verdict.suggestions.length === 0) verdict.suggestions = suggestionsFor(verdict.code, verdict.keyId)
    return {kind: 'verdict', verdict, entry: null}
  }

  function invalidate(keyOrKeyId?: string): number {
    generation++
    if (keyOrKeyId === undefined) {
      const n = cache.size
      cache.clear()
      byKeyId.clear()
      return n
    }
    let dropped = 0
    const byId = byKeyId.get(keyOrKeyId)
    if (byId !== undefined) {
      byKeyId.delete(keyOrKeyId)
      if (cache.delete(byId)) dropped++
    }
    if (keyOrKeyId.length > 0 && keyOrKeyId.length <= MAX_KEY_LENGTH) {
      const id = hash('sha256', keyOrKeyId, 'binary')
      const entry = cache.peek(id)
      if (entry !== undefined) {
        if (entry.verdict.keyId !== null) byKeyId.delete(entry.verdict.keyId)
        cache.delete(id)
        dropped++
      }
    }
    return dropped
  }

  async function close(closeOptions: {deadlineMs?: number} = {}): Promise<CloseReport> {
    closeReport ??= (async () => {
      const startedAt = clock.now()
      const deadlineMs = closeOptions.deadlineMs ?? 5000
      const abortVerifications = clock.setTimeout(() => {
        for (const controller of controllers) controller.abort()
      }, deadlineMs)
      // Verifications in flight may finish until the deadline (then they are aborted and answered "unavailable").
      const [{droppedAtClose, flushed}] = await Promise.all([usage.close(deadlineMs), Promise.all([...inflight.values()])])
      clock.clearTimeout(abortVerifications)
      transport.close()
      return {sent: usage.sent, dropped: usage.dropped, droppedAtClose, flushed, elapsedMs: clock.now() - startedAt}
    })()
    return closeReport
  }

  function stats(): VerifierStats {
    return {sent: usage.sent, dropped: usage.dropped, rejected: usage.rejected, buffered: usage.buffered, bufferedEvents: usage.bufferedEvents, ...counters, cacheSize: cache.size, lastFailure}
  }

  return {verify, invalidate, flush: () => usage.flush(), stats, close}
}

/** Freezes a cached verdict and its members: handlers share it, so a mutation must not reach the cache. */
function freezeVerdict(verdict: Verdict): Verdict {
  if (verdict.app !== null) {
    Object.freeze(verdict.app.team)
    Object.freeze(verdict.app)
  }
  if (verdict.rateLimit !== null) Object.freeze(verdict.rateLimit)
  Object.freeze(verdict.suggestions)
  return Object.freeze(verdict)
}

/** Refills a bucket up to its capacity at its known rate. */
function refill(bucket: Bucket, now: number): void {
  if (bucket.ratePerMs !== null && now > bucket.at) bucket.tokens = Math.min(bucket.limit, bucket.tokens + (now - bucket.at) * bucket.ratePerMs)
  bucket.at = Math.max(bucket.at, now)
}

/**
 * Merges the service's report into a local bucket: never above what either side knows.
 * @param giveBack tokens the service took for requests the local bucket will count itself.
 */
function seed(bucket: Bucket, state: RateLimitState, now: number, giveBack = 0): void {
  refill(bucket, now)
  bucket.limit = state.limit
  if (state.remaining < state.limit && state.resetMs > 0) bucket.ratePerMs = (state.limit - state.remaining) / state.resetMs
  bucket.tokens = Math.min(bucket.tokens, Math.min(state.limit, state.remaining + giveBack))
}

function resetMsOf(bucket: Bucket): number {
  if (bucket.ratePerMs === null || bucket.ratePerMs <= 0) return 0
  return Math.max(0, Math.ceil((bucket.limit - bucket.tokens) / bucket.ratePerMs))
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of ms or items, got ${value}`)
  return value
}

function describe(error: unknown): string {
  const code = (error as {code?: unknown}).code
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error)
}

/** Validates a 200 body of `POST /v1/verify`; null when it is not a verdict. */
function asVerdict(value: unknown): VerifyResponse | null {
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
  }
}
