/**
 * A small in-memory token-bucket rate limiter with an injected clock.
 *
 * Each bucket holds at most `capacity` tokens and regains one every
 * `refillIntervalMs` ms (continuous refill, so there is no window-boundary
 * doubling). Taking is atomic across several buckets: either every bucket
 * gives one token or none does. State is per process and lost on restart.
 */
import {isIP} from 'node:net'
import type {Clock} from '../clock.js'
import type {RateLimitPolicy} from '../settings.js'

/** Result of {@link TokenBucketLimiter.take}. */
export type RateDecision = {allowed: true} | {allowed: false; /** Whole seconds until a retry can pass, ≥ 1. */ retryAfterSeconds: number}

interface Bucket {
  tokens: number
  updatedAt: number
}

/** Most buckets kept per limiter; full buckets are evicted first when exceeded. */
export const MAX_BUCKETS = 100_000

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

  private evict(now: number): void {
    for (const [key] of this.buckets) {
      if (this.refill(key, now).tokens >= this.policy.capacity) this.buckets.delete(key)
    }
    // Still too many: drop the oldest entries (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= MAX_BUCKETS) break
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
 * IPv4; IPv6 is keyed by its /64 prefix (one subscriber usually owns a /64).
 * Anything unparsable is returned as is.
 */
export function clientAddressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (isIP(address) !== 6) return address
  const groups = expandIpv6(address)
  return groups === undefined ? address : `${groups.slice(0, 4).join(':')}::/64`
}

function expandIpv6(address: string): string[] | undefined {
  const [head = '', tail, extra] = address.split('::')
  if (extra !== undefined) return undefined
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  if (right.some((g) => g.includes('.')) || left.some((g) => g.includes('.'))) return undefined
  const missing = 8 - left.length - right.length
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => (parseInt(g, 16) || 0).toString(16))
}
