import {describe, expect, it} from 'vitest'
import {BUCKETS_AFTER_EVICTION, clientAddressKey, MAX_BUCKETS, MemoryRateLimitStore, takeAll, TokenBucketLimiter} from '../../src/server/services/rate-limit.js'
import {TestClock} from './helpers.js'

describe('token bucket', () => {
  it('allows a burst of capacity, then refills one token per interval; Retry-After rounds up, ≥ 1', () => {
    const clock = new TestClock(0)
    const limiter = new TokenBucketLimiter({capacity: 10, refillIntervalMs: 6000}, clock)
    for (let i = 0; i < 10; i++) expect(takeAll([[limiter, 'k']])).toEqual({allowed: true})
    clock.advance(100)
    expect(takeAll([[limiter, 'k']])).toEqual({allowed: false, retryAfterSeconds: 6})
    clock.advance(5800)
    expect(takeAll([[limiter, 'k']])).toEqual({allowed: false, retryAfterSeconds: 1})
    clock.advance(100)
    expect(takeAll([[limiter, 'k']])).toEqual({allowed: true})
    expect(takeAll([[limiter, 'other']])).toEqual({allowed: true})
  })

  it('no window-boundary doubling: 10 at t=59.9 s and 10 more at 60.1 s give 10 + 0', () => {
    const clock = new TestClock(59_900)
    const limiter = new TokenBucketLimiter({capacity: 10, refillIntervalMs: 6000}, clock)
    let passed = 0
    for (let i = 0; i < 10; i++) if (takeAll([[limiter, 'k']]).allowed) passed++
    clock.t = 60_100
    for (let i = 0; i < 10; i++) if (takeAll([[limiter, 'k']]).allowed) passed++
    expect(passed).toBe(10)
  })

  it('takes from several buckets atomically: none is charged when one is empty', () => {
    const clock = new TestClock(0)
    const a = new TokenBucketLimiter({capacity: 1, refillIntervalMs: 1000}, clock)
    const b = new TokenBucketLimiter({capacity: 5, refillIntervalMs: 1000}, clock)
    expect(takeAll([[a, 'x'], [b, 'y']]).allowed).toBe(true)
    expect(takeAll([[a, 'x'], [b, 'y']]).allowed).toBe(false)
    expect(b.waitMs('y')).toBe(0)
    for (let i = 0; i < 4; i++) expect(takeAll([[b, 'y']]).allowed).toBe(true)
  })

  it('canonicalises client addresses: IPv4-mapped → IPv4, IPv6 by /64', () => {
    expect(clientAddressKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(clientAddressKey('192.0.2.7')).toBe('192.0.2.7')
    const keys = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:0:0:0:3'].map(clientAddressKey)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toBe('2001:db8:1:2::/64')
    expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(keys[0])
  })

  it('the verification store keeps at most MAX_BUCKETS buckets and, when a pass finds no full one, drops the oldest down to 90 % (one pass per 10,000 new buckets, not one per bucket)', () => {
    const store = new MemoryRateLimitStore()
    // A slow refill: no bucket is full again during the test, so only the oldest can go.
    const policy = {capacity: 10, refillIntervalMs: 60_000}
    for (let i = 0; i < MAX_BUCKETS; i++) expect(store.take(`key_${i}`, policy, 0).allowed).toBe(true)
    expect(store.size).toBe(MAX_BUCKETS)
    store.take('key_new', policy, 0)
    expect(store.size).toBe(BUCKETS_AFTER_EVICTION)
    // The newest buckets kept their state (one token taken), the oldest started over.
    expect(store.take('key_new', policy, 0).tokens).toBe(8)
    expect(store.take(`key_${MAX_BUCKETS - 1}`, policy, 0).tokens).toBe(8)
    expect(store.take('key_0', policy, 0).tokens).toBe(9)
    for (let i = 0; i < MAX_BUCKETS - BUCKETS_AFTER_EVICTION - 1; i++) store.take(`more_${i}`, policy, 0)
    expect(store.size).toBe(MAX_BUCKETS)
  })
})
