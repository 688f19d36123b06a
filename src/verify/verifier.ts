/**
 * The verifier: answers "may this request proceed, and whose key is it?" from
 * a bounded cache of the service's verdicts, asking `POST /v1/verify` on a miss.
 *
 * Guarantees (docs/verifier.md):
 * - no network for absent, oversized, non-printable or checksum-failing keys;
 * - a cached verdict is served at most `stalenessMs` after its fetch started,
 *   and never past its own deadline (`expiresAt`), re-checked on every hit;
 * - only authoritative answers are cached; an outage is never stored as invalid;
 * - concurrent misses for one key make one call (single flight);
 * - during an outage cached verdicts are served stale up to `hardCeilingMs`,
 *   then the outage policy answers with `unavailable: true`.
 */
import {MAX_KEY_LENGTH, parseKey} from '../core/key-format.js'
import {VERIFIER_TOKEN_PREFIX, type VerifyContext, type VerifyResponse} from '../core/wire.js'
import {CircuitBreaker} from './circuit-breaker.js'
import {toVerifierClock} from './clock.js'
import {GET_KEY_COMMAND, malformedVerdict, missingKeyVerdict, pastDeadlineVerdict, rateLimitedVerdict, unavailableVerdict} from './messages.js'
import {ServiceClient} from './service-client.js'
import {newBucket, seed, takeToken, type TokenBucket} from './token-bucket.js'
import type {CloseReport, Verdict, Verifier, VerifierOptions, VerifierStats} from './types.js'
import {UsageSender, usageHead, type UsageHead} from './usage.js'
import {cacheKeyOf, isCacheable, isTerminal, VerdictCache, type CacheEntry} from './verdict-cache.js'

/** Printable ASCII without space: the only characters a key can have. */
const NON_PRINTABLE = /[^\x21-\x7e]/

/** A verifier token as far as the verifier checks it: core's prefix, then no whitespace. */
const VERIFIER_TOKEN_SHAPE = new RegExp(`^${VERIFIER_TOKEN_PREFIX}\\S+$`)

/** A fetch's result; `reseeded` when a local bucket from an earlier verdict was merged (its cache-admitted requests are unknown to the service). */
type Outcome = {kind: 'verdict'; verdict: VerifyResponse; entry: CacheEntry | null; reseeded?: boolean} | {kind: 'unavailable'; reason: string}

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
  if (typeof options.verifierToken !== 'string' || !VERIFIER_TOKEN_SHAPE.test(options.verifierToken)) {
    throw new RangeError('verifierToken must be a verifier token (akv_…) from: apikey server verifiers add NAME')
  }
  const serviceUrl = options.serviceUrl.replace(/\/+$/, '')
  const stalenessMs = positive('stalenessMs', options.stalenessMs ?? 5000)
  const hardCeilingMs = positive('hardCeilingMs', options.hardCeilingMs ?? 60_000)
  if (hardCeilingMs < stalenessMs) throw new RangeError(`hardCeilingMs (${hardCeilingMs}) must be at least stalenessMs (${stalenessMs})`)
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 2000)
  const circuit = new CircuitBreaker(options.circuitFailures ?? 3, options.circuitOpenMs ?? 1000)
  const unknownOpen = options.outagePolicy?.unknownKeys === 'fail-open'
  const serveStale = (options.outagePolicy?.knownKeys ?? 'serve-stale') === 'serve-stale'
  const rateLimitMode = options.rateLimits ?? 'local'
  const keyPrefix = options.keyPrefix
  let docsUrl = options.docsUrl ?? `${serviceUrl}/docs`
  const docsFixed = options.docsUrl !== undefined
  // The command locally decided verdicts name: the option, else the service's (from its verdicts), else the default.
  let getKeyCommand = options.getKeyCommand ?? GET_KEY_COMMAND
  const commandFixed = options.getKeyCommand !== undefined
  const client = new ServiceClient({serviceUrl, verifierToken: options.verifierToken, timeoutMs, clock, fetch: options.fetch})

  const usageEnabled = options.usage?.enabled ?? true
  const usage = new UsageSender({
    clock,
    timeoutMs,
    flushIntervalMs: positive('usage.flushIntervalMs', options.usage?.flushIntervalMs ?? 1000),
    maxBatch: positive('usage.maxBatch', options.usage?.maxBatch ?? 500),
    maxBuffer: positive('usage.maxBuffer', options.usage?.maxBuffer ?? 10_000),
    maxBackoffMs: positive('usage.maxBackoffMs', options.usage?.maxBackoffMs ?? 30_000),
    post: (body, signal, batchId) => client.postUsage(body, signal, batchId),
  })

  const cache = new VerdictCache({size: positive('cacheSize', options.cacheSize ?? 100_000), stalenessMs, hardCeilingMs})
  const inflight = new Map<string, Promise<Outcome>>()
  let closeReport: Promise<CloseReport> | null = null
  const counters = {cacheHits: 0, cacheMisses: 0, fetches: 0, fetchErrors: 0, unavailable: 0, staleServed: 0}

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
  function hitHead(entry: CacheEntry, verdict: Verdict): UsageHead {
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
  function admit(entry: CacheEntry, now: number, source: 'cache' | 'service', stale: boolean): Verdict | null {
    const bucket = entry.bucket
    if (bucket === null) return stale ? {...entry.cached, stale: true} : source === 'cache' ? entry.cached : {...entry.cached, source}
    const taken = takeToken(bucket, now)
    if (taken.kind === 'taken') {
      const rateLimit = taken.state
      return stale ? {...entry.cached, rateLimit, stale: true} : {...entry.cached, source, rateLimit}
    }
    if (taken.kind === 'unknown') return null
    return rateLimitedVerdict(entry.verdict, taken.limit, taken.resetMs, taken.retryAfterSeconds)
  }

  async function verify(key: string | null | undefined, context?: VerifyContext): Promise<Verdict> {
    const now = clock.now()
    if (typeof key !== 'string' || key.length === 0) return record(missingKeyVerdict(docsUrl, getKeyCommand), context, now)
    if (key.length > MAX_KEY_LENGTH) return record(malformedVerdict(`the key is ${key.length} characters long; keys are at most ${MAX_KEY_LENGTH}`, docsUrl, getKeyCommand), context, now)
    const id = cacheKeyOf(key)
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
    if (NON_PRINTABLE.test(key)) return record(malformedVerdict('it contains whitespace or non-printable characters', docsUrl, getKeyCommand), context, now)
    const parsed = parseKey(key, keyPrefix)
    if (!parsed.valid) return record(malformedVerdict(parsed.problems[0]?.message ?? 'it does not follow the key format', docsUrl, getKeyCommand), context, now)
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
    if (circuit.isOpen(now)) return {verdict: outage(previous, clock.now()), shared: false}
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
  function outage(entry: CacheEntry | undefined, now: number): Verdict {
    if (entry !== undefined && serveStale) {
      const code = entry.verdict.code
      if (isTerminal(code)) return {...entry.cached, stale: true}
      if (now < entry.ceilingAt) {
        if (code === 'VALID' && now >= entry.deadline) return pastDeadlineVerdict(entry.verdict, entry.deadline)
        if (code === 'VALID') return admit(entry, now, 'cache', true) ?? unavailableVerdict(false, docsUrl)
        return {...entry.cached, stale: true}
      }
    }
    if (entry !== undefined && entry.verdict.code === 'VALID' && now >= entry.deadline) return pastDeadlineVerdict(entry.verdict, entry.deadline)
    if (entry !== undefined && isTerminal(entry.verdict.code)) return {...entry.cached, stale: true}
    // Fail-open never admits a key whose last authoritative answer was negative.
    return unavailableVerdict(unknownOpen && (entry === undefined || (serveStale && entry.verdict.valid)), docsUrl)
  }

  /** Asks the service about `key` (cache key `id`) and caches an authoritative answer. */
  async function fetchVerdict(id: string, key: string, context: VerifyContext | undefined): Promise<Outcome> {
    const startedAt = clock.now()
    const startGeneration = cache.generation
    counters.fetches++
    const answer = await client.verify(key, context)
    if (answer.kind === 'unavailable') {
      counters.fetchErrors++
      circuit.failure(clock.now())
      return answer
    }
    circuit.success()
    const verdict = answer.verdict
    if (!docsFixed && verdict.docsUrl !== '') docsUrl = verdict.docsUrl
    if (!commandFixed && verdict.getKeyCommand !== undefined) getKeyCommand = verdict.getKeyCommand
    const previous = cache.peek(id)
    if (verdict.code === 'RATE_LIMITED') {
      if (previous !== undefined && previous.bucket !== null && verdict.rateLimit !== null) seed(previous.bucket, verdict.rateLimit, clock.now())
      return {kind: 'verdict', verdict, entry: null}
    }
    if (!isCacheable(verdict.code) || startGeneration !== cache.generation) return {kind: 'verdict', verdict, entry: null}
    let bucket: TokenBucket | null = null
    const reseeded = verdict.code === 'VALID' && verdict.rateLimit !== null && previous?.bucket != null
    if (verdict.code === 'VALID' && verdict.rateLimit !== null) {
      bucket = previous?.bucket ?? newBucket(verdict.rateLimit, startedAt)
      // A refresh counts this request locally (admit), so give back the token the service took for it.
      seed(bucket, verdict.rateLimit, clock.now(), reseeded ? 1 : 0)
    }
    const entry = cache.store(id, verdict, startedAt, bucket)
    return {kind: 'verdict', verdict, entry, reseeded}
  }

  async function close(closeOptions: {deadlineMs?: number} = {}): Promise<CloseReport> {
    closeReport ??= (async () => {
      const startedAt = clock.now()
      const deadlineMs = closeOptions.deadlineMs ?? 5000
      const abortVerifications = clock.setTimeout(() => client.abortAll(), deadlineMs)
      // Verifications in flight may finish until the deadline (then they are aborted and answered "unavailable").
      const [{droppedAtClose, flushed}] = await Promise.all([usage.close(deadlineMs), Promise.all([...inflight.values()])])
      clock.clearTimeout(abortVerifications)
      client.close()
      return {sent: usage.sent, dropped: usage.dropped, droppedAtClose, flushed, elapsedMs: clock.now() - startedAt}
    })()
    return closeReport
  }

  function stats(): VerifierStats {
    return {
      sent: usage.sent,
      dropped: usage.dropped,
      rejected: usage.rejected,
      buffered: usage.buffered,
      bufferedEvents: usage.bufferedEvents,
      ...counters,
      cacheSize: cache.size,
      lastFailure: client.lastFailure,
    }
  }

  return {verify, invalidate: (keyOrKeyId) => cache.invalidate(keyOrKeyId), check: () => client.checkToken(), flush: () => usage.flush(), stats, close}
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of ms or items, got ${value}`)
  return value
}
