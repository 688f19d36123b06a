/**
 * A local token bucket mirroring the key service's bucket for one cached key,
 * so cache hits can be rate limited without asking the service. The service's
 * answers (`rateLimit`: limit, remaining, resetMs) seed it; it refills at the
 * rate those answers imply, and never holds more than either side knows.
 */
import type {RateLimitState} from '../core/wire.js'

/** A bucket's state. Times and the refill rate are in ms. */
export interface TokenBucket {
  limit: number
  tokens: number
  /** Refill, tokens per ms; null while unknown (the service reported a full bucket). */
  ratePerMs: number | null
  /** Instant (ms) of `tokens`. */
  at: number
}

/**
 * What {@link takeToken} decided: `taken` (with the state to report), `empty` (refuse: no
 * token until `retryAfterSeconds`, whole seconds ≥ 1), or `unknown` (the bucket is empty
 * and its refill rate is not known yet: ask the service).
 */
export type TakeResult =
  | {kind: 'taken'; state: RateLimitState}
  | {kind: 'empty'; limit: number; resetMs: number; retryAfterSeconds: number}
  | {kind: 'unknown'}

/** A bucket holding what the service reported at `at` (ms); its rate is learnt from later reports. */
export function newBucket(state: RateLimitState, at: number): TokenBucket {
  return {limit: state.limit, tokens: state.remaining, ratePerMs: null, at}
}

/** Refills a bucket up to its capacity at its known rate, up to `now` (ms). */
export function refill(bucket: TokenBucket, now: number): void {
  if (bucket.ratePerMs !== null && now > bucket.at) bucket.tokens = Math.min(bucket.limit, bucket.tokens + (now - bucket.at) * bucket.ratePerMs)
  bucket.at = Math.max(bucket.at, now)
}

/**
 * Merges the service's report into a local bucket: never above what either side knows.
 * @param giveBack tokens the service took for requests the local bucket will count itself.
 */
export function seed(bucket: TokenBucket, state: RateLimitState, now: number, giveBack = 0): void {
  refill(bucket, now)
  bucket.limit = state.limit
  if (state.remaining < state.limit && state.resetMs > 0) bucket.ratePerMs = (state.limit - state.remaining) / state.resetMs
  bucket.tokens = Math.min(bucket.tokens, Math.min(state.limit, state.remaining + giveBack))
}

/** Takes one token at `now` (ms) if there is one; see {@link TakeResult}. */
export function takeToken(bucket: TokenBucket, now: number): TakeResult {
  refill(bucket, now)
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return {kind: 'taken', state: {limit: bucket.limit, remaining: Math.floor(bucket.tokens), resetMs: resetMsOf(bucket)}}
  }
  if (bucket.ratePerMs === null) return {kind: 'unknown'}
  const waitMs = Math.ceil((1 - bucket.tokens) / bucket.ratePerMs)
  return {kind: 'empty', limit: bucket.limit, resetMs: resetMsOf(bucket), retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000))}
}

/** Ms until the bucket is full again; 0 when full or when its rate is unknown. */
export function resetMsOf(bucket: TokenBucket): number {
  if (bucket.ratePerMs === null || bucket.ratePerMs <= 0) return 0
  return Math.max(0, Math.ceil((bucket.limit - bucket.tokens) / bucket.ratePerMs))
}
