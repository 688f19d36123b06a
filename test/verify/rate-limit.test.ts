/**
 * Rate limits with a cache in front (docs/verifier.md, "Rate limits"): in the
 * default `local` mode a cached VALID verdict carries a token bucket seeded
 * from the service's RateLimitState, never refilled above what the service
 * last reported; in `service` mode every request of a rate-limited key asks
 * the service. RATE_LIMITED is never cached as the key's state.
 */
import {describe, expect, it} from 'vitest'
import {clock, make, standin, useStandinVerifiers} from './standin-env.js'

useStandinVerifiers()

/** 5 requests, one more every 6 s. */
const LIMIT = {capacity: 5, refillPerMs: 1 / 6000}

describe("rateLimits: 'local' (default)", () => {
  it('5 per bucket pass from one fetch and the cache; the 6th is RATE_LIMITED locally with real numbers', async () => {
    const key = standin.issue('weather-app', {limit: LIMIT})
    const v = make()
    const verdicts = []
    for (let i = 0; i < 8; i++) verdicts.push(await v.verify(key))
    expect(verdicts.map((x) => x.code)).toEqual(['VALID', 'VALID', 'VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED'])
    expect(verdicts.map((x) => x.rateLimit?.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0, 0])
    expect(verdicts[5]).toMatchObject({valid: false, source: 'cache', rateLimit: {limit: 5, remaining: 0, retryAfterSeconds: 6}})
    expect(standin.verifyCalls).toBe(1)
    clock.advance(6000) // one token refilled; the verdict is older than 5 s, so the service is asked again
    expect(await v.verify(key)).toMatchObject({valid: true, code: 'VALID', source: 'service', rateLimit: {remaining: 0}})
    expect((await v.verify(key)).code).toBe('RATE_LIMITED')
  })

  it('on one verifier: 50 concurrent verifications of a cold key → exactly 5 pass', async () => {
    const key = standin.issue('weather-app', {limit: LIMIT})
    const v = make()
    const verdicts = await Promise.all(Array.from({length: 50}, () => v.verify(key)))
    expect(verdicts.filter((x) => x.valid)).toHaveLength(5)
    expect(verdicts.filter((x) => x.code === 'RATE_LIMITED')).toHaveLength(45)
    expect(standin.verifyCalls).toBe(1)
  })

  it('a refresh after the staleness bound never refills above what the cache already admitted', async () => {
    const key = standin.issue('weather-app', {limit: {capacity: 5, refillPerMs: 1 / 60_000}})
    const v = make({stalenessMs: 5000, usage: {enabled: true, flushIntervalMs: 60_000}})
    let passed = 0
    for (let t = 0; t < 30_000; t += 500) {
      if ((await v.verify(key)).valid) passed++
      clock.advance(500)
    }
    // 5 at once, then about 1 per minute: the service alone would have seen only 6 calls and kept admitting.
    expect(passed).toBe(5)
    expect(standin.verifyCalls).toBeGreaterThanOrEqual(6)
    // Counted once each: a refresh the service answered VALID but the local bucket refused is not reported again.
    await v.flush()
    const reported = standin.usageBodies.flatMap((b) => b.events).filter((e) => e.source !== 'service').reduce((sum, e) => sum + (e.count ?? 1), 0)
    expect(reported + standin.verifyCalls).toBe(60)
  })

  it('a RATE_LIMITED answer from the service is not cached as the key state: the key verifies again after Retry-After', async () => {
    const key = standin.issue('weather-app', {limit: {capacity: 1, refillPerMs: 1 / 2000}})
    const a = make()
    const b = make()
    expect((await a.verify(key)).valid).toBe(true) // takes the only token at the service
    const limited = await b.verify(key)
    expect(limited).toMatchObject({valid: false, code: 'RATE_LIMITED', source: 'service', rateLimit: {retryAfterSeconds: 2}})
    expect(b.stats().cacheSize).toBe(0)
    clock.advance(2000)
    expect(await b.verify(key)).toMatchObject({valid: true, source: 'service'})
  })
})

describe("rateLimits: 'service'", () => {
  it('every request of a rate-limited key asks the service: exact limits', async () => {
    const key = standin.issue('weather-app', {limit: LIMIT})
    const v = make({rateLimits: 'service'})
    const codes = []
    for (let i = 0; i < 8; i++) codes.push((await v.verify(key)).code)
    expect(codes).toEqual(['VALID', 'VALID', 'VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED'])
    expect(standin.verifyCalls).toBe(8)
  })

  it('50 concurrent → exactly 5 pass, each decided by the service', async () => {
    const key = standin.issue('weather-app', {limit: LIMIT})
    const v = make({rateLimits: 'service'})
    const verdicts = await Promise.all(Array.from({length: 50}, () => v.verify(key)))
    expect(verdicts.filter((x) => x.valid)).toHaveLength(5)
    expect(standin.verifyCalls).toBe(50)
  })

  it('keys without a rate limit are still served from the cache', async () => {
    const key = standin.issue()
    const v = make({rateLimits: 'service'})
    await v.verify(key)
    expect((await v.verify(key)).source).toBe('cache')
  })
})
