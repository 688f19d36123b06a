/**
 * A small in-memory token-bucket rate limiter with an injected clock.
 *
 * Each bucket holds at most `capacity` tokens and regains one every
 * `refillIntervalMs` ms (continuous refill, so there is no window-boundary
 * doubling). Taking is atomic across several buckets: either every bucket
 * gives one token or none does. State is per process and lost on restart.
 */
import type {Clock} from '../clock.js'
import type {RateLimitPolicy} from '../settings.js'
import {networkOf, parseIp} from './ip.js'

/** Result of {@link TokenBucketLimiter.take}. */
export type RateDecision = {allowed: true} | {allowed: false; /** Whole seconds until a retry can pass, ≥ 1. */ retryAfterSeconds: number}

interface Bucket {
  tokens: number
  updatedAt: number
}

/** Most buckets kept per limiter; full buckets are evicted first when exceeded. */
export const MAX_BUCKETS = 100_000

/**
 * Buckets left after an eviction pass that found too few full ones: 90 % of {@link MAX_BUCKETS},
 * so that a pass (a scan of every bucket) runs at most once per 10 000 new buckets, never for
 * each new bucket of a working set above the bound.
 */
export const BUCKETS_AFTER_EVICTION = 90_000

/** Token buckets under one policy, keyed by string. */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly policy: RateLimitPolicy,
    private readonly clock: Clock,
  ) {}

  private refill(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return {tokens: this.policy.capacity, updatedAt: now}
    const elapsed = Math.max(0, now - bucket.updatedAt)
    return {tokens: Math.min(this.policy.capacity, bucket.tokens + elapsed / this.policy.refillIntervalMs), updatedAt: now}
  }

  /** Milliseconds until `key`'s bucket holds one whole token (0 when it does now). */
  waitMs(key: string): number {
    const bucket = this.refill(key, this.clock.now())
    return bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) * this.policy.refillIntervalMs)
  }

  /** Takes one token from `key`'s bucket (call {@link waitMs} first to check). */
  consume(key: string): void {
    const now = this.clock.now()
    const bucket = this.refill(key, now)
    bucket.tokens = Math.max(0, bucket.tokens - 1)
    this.buckets.set(key, bucket)
    if (this.buckets.size > MAX_BUCKETS) this.evict(now)
  }

  /** Gives back one token taken by {@link consume} (never above capacity). */
  refund(key: string): void {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return
    const now = this.clock.now()
    const refilled = this.refill(key, now)
    refilled.tokens = Math.min(this.policy.capacity, refilled.tokens + 1)
    this.buckets.set(key, refilled)
  }

  private evict(now: number): void {
    for (const [key] of this.buckets) {
      if (this.refill(key, now).tokens >= this.policy.capacity) this.buckets.delete(key)
    }
    // Still too many: drop the oldest entries (Map keeps insertion order) down to BUCKETS_AFTER_EVICTION.
    if (this.buckets.size <= BUCKETS_AFTER_EVICTION) return
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= BUCKETS_AFTER_EVICTION) break
      this.buckets.delete(key)
    }
  }
}

/**
 * Takes one token from each `(limiter, key)` pair, or none when any is empty.
 * Retry-After is the longest wait among empty buckets, in whole seconds
 * rounded up, at least 1.
 */
export function takeAll(pairs: Array<[TokenBucketLimiter, string]>): RateDecision {
  const waitMs = Math.max(0, ...pairs.map(([limiter, key]) => limiter.waitMs(key)))
  if (waitMs > 0) return {allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000))}
  for (const [limiter, key] of pairs) limiter.consume(key)
  return {allowed: true}
}

/**
 * Canonical rate-limit key of a client address: IPv4-mapped IPv6 becomes
 * IPv4; IPv6 is keyed by its /64 prefix (one subscriber usually owns a /64),
 * whatever its text form (`2001:db8:1:2::1`, `2001:db8:1:2:0:0:0:3` → `2001:db8:1:2::/64`).
 * Anything unparsable is returned as is.
 */
export function clientAddressKey(address: string): string {
  const ip = parseIp(address)
  if (ip === undefined) return address
  return ip.version === 4 ? ip.bytes.join('.') : (networkOf(address, 32, 64) ?? address)
}

// ---------------------------------------------------------------------------
// Rate-limit stores with per-call policies (verification limits)
// ---------------------------------------------------------------------------

/** Float slack when comparing token counts (continuous refill sums fractions). */
const EPSILON = 1e-9

/** Result of one {@link RateLimitStore.take}. */
export interface BucketTake {
  /** Whether a token was taken. */
  allowed: boolean
  /** Tokens left after this call (fractional: refill is continuous). */
  tokens: number
}

/**
 * Where token buckets live. `take` must refill and take one token atomically:
 * two concurrent calls never both get the last token. The in-process
 * {@link MemoryRateLimitStore} is atomic because JavaScript runs one call at a
 * time; a store shared by several service processes (Redis, PostgreSQL) must do
 * the same in one server-side operation (a Lua script or a single UPDATE … RETURNING) —
 * until one exists, each process of a multi-process deployment enforces its own
 * buckets (the effective limit is the per-process limit times the process count).
 * May throw or reject: the caller applies the store-failure policy.
 */
export interface RateLimitStore {
  /**
   * Refills `key`'s bucket to `now` (capacity `policy.capacity`, one token per
   * `policy.refillIntervalMs` ms; a new bucket starts full) and takes one token when
   * at least one is there.
   */
  take(key: string, policy: RateLimitPolicy, now: number): BucketTake | Promise<BucketTake>
}

interface StoredBucket {
  tokens: number
  updatedAt: number
  capacity: number
}

/**
 * In-process token buckets (a `Map`), atomic within one process. State is lost on
 * restart (buckets start full). At most {@link MAX_BUCKETS} buckets: when exceeded, full
 * ones are dropped (they hold nothing a new bucket would not), then the oldest down to
 * {@link BUCKETS_AFTER_EVICTION}.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, StoredBucket>()

  /** {@inheritDoc RateLimitStore.take} */
  take(key: string, policy: RateLimitPolicy, now: number): BucketTake {
    const bucket = this.buckets.get(key)
    const elapsed = bucket === undefined ? 0 : Math.max(0, now - bucket.updatedAt)
    const tokens = bucket === undefined ? policy.capacity : Math.min(policy.capacity, bucket.tokens + elapsed / policy.refillIntervalMs)
    if (tokens + EPSILON < 1) {
      // Not persisted: a refused attempt changes nothing (no float drift from many reads).
      return {allowed: false, tokens}
    }
    const left = Math.max(0, tokens - 1)
    if (bucket === undefined) {
      this.buckets.set(key, {tokens: left, updatedAt: now, capacity: policy.capacity})
      if (this.buckets.size > MAX_BUCKETS) this.evict(now, policy)
    } else {
      bucket.tokens = left
      bucket.updatedAt = now
      bucket.capacity = policy.capacity
    }
    return {allowed: true, tokens: left}
  }

  /** Number of buckets held (tests, metrics). */
  get size(): number {
    return this.buckets.size
  }

  private evict(now: number, policy: RateLimitPolicy): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) / policy.refillIntervalMs >= bucket.capacity) this.buckets.delete(key)
    }
    // Down to BUCKETS_AFTER_EVICTION, oldest first (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= BUCKETS_AFTER_EVICTION) break
      this.buckets.delete(key)
    }
  }
}

/** Rate-limit numbers of a bucket after a take (see `RateLimitState` in src/core/wire.ts). */
export interface BucketState {
  /** Bucket capacity (requests per window). */
  limit: number
  /** Whole tokens left. */
  remaining: number
  /** ms until the bucket is full again (integer, rounded up). */
  resetMs: number
  /** When refused: whole seconds until one token is there, rounded up, at least 1. */
  retryAfterSeconds?: number
}

/**
 * The numbers clients see for a take: `remaining` whole tokens, `resetMs` until full,
 * and for a refusal `retryAfterSeconds` = ceil(ms until one token / 1000), at least 1,
 * so that waiting exactly that long is always enough.
 */
export function bucketState(take: BucketTake, policy: RateLimitPolicy): BucketState {
  const tokens = Math.max(0, Math.min(policy.capacity, take.tokens))
  const remaining = Math.floor(tokens + EPSILON)
  const resetMs = Math.max(0, Math.ceil((policy.capacity - tokens) * policy.refillIntervalMs - EPSILON))
  if (take.allowed) return {limit: policy.capacity, remaining, resetMs}
  const waitMs = Math.max(0, (1 - tokens) * policy.refillIntervalMs)
  return {limit: policy.capacity, remaining: 0, resetMs, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000 - EPSILON))}
}
