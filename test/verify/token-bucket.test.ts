/** The verifier's local token bucket (src/verify/token-bucket.ts): seeding from the service's reports, refill, taking tokens. */
import {describe, expect, it} from 'vitest'
import {newBucket, refill, resetMsOf, seed, takeToken} from '../../src/verify/token-bucket.js'

describe('token bucket', () => {
  it('a new bucket holds what the service reported and has no known rate: an empty one answers "unknown" (ask the service)', () => {
    const bucket = newBucket({limit: 60, remaining: 1, resetMs: 0}, 1000)
    expect(bucket).toEqual({limit: 60, tokens: 1, ratePerMs: null, at: 1000})
    expect(takeToken(bucket, 1000)).toEqual({kind: 'taken', state: {limit: 60, remaining: 0, resetMs: 0}})
    expect(takeToken(bucket, 1000)).toEqual({kind: 'unknown'})
  })

  it('seeding learns the refill rate from (limit - remaining) / resetMs and refills at it up to the limit', () => {
    const bucket = newBucket({limit: 60, remaining: 60, resetMs: 0}, 0)
    // 60 per minute: one token per 1000 ms.
    seed(bucket, {limit: 60, remaining: 0, resetMs: 60_000}, 0)
    expect(bucket.ratePerMs).toBeCloseTo(1 / 1000)
    expect(bucket.tokens).toBe(0)
    refill(bucket, 2500)
    expect(bucket.tokens).toBeCloseTo(2.5)
    refill(bucket, 1_000_000)
    expect(bucket.tokens).toBe(60)
    expect(resetMsOf(bucket)).toBe(0)
  })

  it('an empty bucket with a known rate refuses with whole seconds until the next token (at least 1)', () => {
    const bucket = newBucket({limit: 60, remaining: 60, resetMs: 0}, 0)
    seed(bucket, {limit: 60, remaining: 0, resetMs: 60_000}, 0)
    expect(takeToken(bucket, 0)).toEqual({kind: 'empty', limit: 60, resetMs: 60_000, retryAfterSeconds: 1})
    const slow = newBucket({limit: 10, remaining: 10, resetMs: 0}, 0)
    // 10 per 100 s: one token per 10 s.
    seed(slow, {limit: 10, remaining: 0, resetMs: 100_000}, 0)
    expect(takeToken(slow, 2500)).toMatchObject({kind: 'empty', retryAfterSeconds: 8})
    expect(takeToken(slow, 10_000)).toMatchObject({kind: 'taken', state: {limit: 10, remaining: 0}})
  })

  it('seeding never raises the local count above what the service reports (plus tokens given back)', () => {
    const bucket = newBucket({limit: 10, remaining: 5, resetMs: 0}, 0)
    seed(bucket, {limit: 10, remaining: 8, resetMs: 2000}, 0)
    expect(bucket.tokens).toBe(5)
    seed(bucket, {limit: 10, remaining: 2, resetMs: 8000}, 0)
    expect(bucket.tokens).toBe(2)
    seed(bucket, {limit: 10, remaining: 2, resetMs: 8000}, 0, 1)
    expect(bucket.tokens).toBe(2)
    const refilled = newBucket({limit: 10, remaining: 10, resetMs: 0}, 0)
    seed(refilled, {limit: 10, remaining: 2, resetMs: 8000}, 0, 1)
    expect(refilled.tokens).toBe(3)
  })

  it('time going backwards does not refill or move the bucket back', () => {
    const bucket = newBucket({limit: 10, remaining: 10, resetMs: 0}, 5000)
    seed(bucket, {limit: 10, remaining: 0, resetMs: 10_000}, 5000)
    refill(bucket, 1000)
    expect(bucket).toMatchObject({tokens: 0, at: 5000})
  })
})
