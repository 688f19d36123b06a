/**
 * Caching within the staleness bound, with an injected
 * clock. The stand-in speaks the wire contract of POST /v1/verify; it is used
 * here for timing (when verdicts are fetched) and to count calls.
 */
import {describe, expect, it} from 'vitest'
import {clock, make, standin, useStandinVerifiers} from './standin-env.js'

useStandinVerifiers()

describe('revocation reaches every verifier within the staleness bound', () => {
  it('two verifiers with warm verdicts answer REVOKED by fetchedAt + 5 s; the service answers REVOKED at once', async () => {
    const key = standin.issue()
    const a = make()
    const b = make()
    const warmedAt = clock.now()
    expect((await a.verify(key)).code).toBe('VALID')
    clock.advance(300)
    const warmedB = clock.now()
    expect((await b.verify(key)).code).toBe('VALID')

    clock.advance(700)
    standin.revoke(key)
    // The service itself answers REVOKED at once (a cold verifier asks it).
    expect(await make().verify(key)).toMatchObject({valid: false, code: 'REVOKED', source: 'service'})

    clock.advance(1000) // 1 s after the revocation
    const revokedAt = clock.now() - 1000
    for (let t = clock.now(); t < warmedAt + 12_000; t = clock.now()) {
      const [va, vb] = await Promise.all([a.verify(key), b.verify(key)])
      // VALID only while the verdict fetched before the revocation is younger than the bound.
      expect(va.valid).toBe(t < warmedAt + 5000)
      expect(vb.valid).toBe(t < warmedB + 5000)
      if (!va.valid) expect(va.code).toBe('REVOKED')
      if (!vb.valid) expect(vb.code).toBe('REVOKED')
      clock.advance(100)
    }
    expect(revokedAt).toBeLessThan(warmedAt + 5000)
    expect((await a.verify(key)).code).toBe('REVOKED')
  })

  it('invalidate(key) and invalidate(keyId) drop a warm verdict at once', async () => {
    const key = standin.issue()
    const v = make()
    const first = await v.verify(key)
    standin.revoke(key)
    expect((await v.verify(key)).code).toBe('VALID')
    expect(v.invalidate(key)).toBe(1)
    expect((await v.verify(key)).code).toBe('REVOKED')

    const other = standin.issue()
    expect((await v.verify(other)).code).toBe('VALID')
    standin.revoke(other)
    const keyId = standin.keys.get(other)!.keyId
    expect(v.invalidate(keyId)).toBe(1)
    expect((await v.verify(other)).code).toBe('REVOKED')
    expect(first.keyId).not.toBe(keyId)
    expect(v.stats().cacheSize).toBe(2)
    expect(v.invalidate()).toBe(2)
    expect(v.stats().cacheSize).toBe(0)
  })

  it('an invalidation during a fetch keeps that fetch out of the cache', async () => {
    const key = standin.issue()
    const v = make()
    standin.verifyMode = 'slow'
    const pending = v.verify(key)
    await until(() => standin.held() === 1)
    v.invalidate()
    standin.release()
    expect((await pending).code).toBe('VALID')
    standin.verifyMode = 'ok'
    expect(v.stats().cacheSize).toBe(0)
  })
})

describe('a hot key is re-fetched at least every staleness bound', () => {
  it('verified every 100 ms for 60 s, revoked at t = 10 s → rejected by t ≤ 15 s; never served older than 5 s', async () => {
    const key = standin.issue()
    const v = make({stalenessMs: 5000})
    const start = clock.now()
    let firstRejected: number | null = null
    let lastFetchAt = -Infinity
    let fetches = 0
    for (let t = 0; t < 60_000; t += 100) {
      if (t === 10_000) standin.revoke(key)
      const verdict = await v.verify(key)
      if (v.stats().fetches > fetches) {
        fetches = v.stats().fetches
        lastFetchAt = t
      }
      // Reads never extend the bound: each answer comes from a fetch at most 5 s old.
      expect(t - lastFetchAt).toBeLessThan(5000)
      if (!verdict.valid && firstRejected === null) firstRejected = t
      if (firstRejected !== null) expect(verdict.code).toBe('REVOKED')
      clock.advance(100)
    }
    expect(firstRejected).not.toBeNull()
    expect(firstRejected!).toBeLessThanOrEqual(15_000)
    expect(firstRejected!).toBeGreaterThanOrEqual(10_000)
    // 600 verifications, one fetch per 5 s window: 12 fetches.
    expect(v.stats().fetches).toBe(12)
    expect(v.stats().cacheHits).toBe(600 - 12)
    expect(clock.now() - start).toBe(60_000)
  })

  it('the staleness bound counts from when the fetch started, not when it ended', async () => {
    const key = standin.issue()
    const v = make({stalenessMs: 5000})
    standin.verifyMode = 'slow'
    const pending = v.verify(key)
    await until(() => standin.held() === 1)
    clock.advance(1500) // the answer takes 1.5 s
    standin.release()
    expect((await pending).source).toBe('service')
    standin.verifyMode = 'ok'
    clock.advance(3499) // 4999 ms after the fetch started
    expect((await v.verify(key)).source).toBe('cache')
    clock.advance(1)
    expect((await v.verify(key)).source).toBe('service')
  })
})

describe("every hit re-checks the verdict's own deadline", () => {
  it('K expires at now + 2 s, cached for 5 s: 3 s later the cache does not answer VALID', async () => {
    const key = standin.issue('weather-app', {expiresAt: clock.now() + 2000})
    const v = make({stalenessMs: 5000})
    const first = await v.verify(key)
    expect(first).toMatchObject({valid: true, source: 'service', expiresAt: clock.now() + 2000})
    clock.advance(1999)
    expect(await v.verify(key)).toMatchObject({valid: true, source: 'cache'})
    clock.advance(1001) // t = 3 s
    expect(await v.verify(key)).toMatchObject({valid: false, code: 'EXPIRED', source: 'service'})
    expect(v.stats().fetches).toBe(2)
  })

  it('past the deadline with the service down, the verifier answers EXPIRED itself (never a stale VALID)', async () => {
    const key = standin.issue('weather-app', {expiresAt: clock.now() + 2000})
    const v = make({stalenessMs: 5000})
    expect((await v.verify(key)).valid).toBe(true)
    await standin.pause()
    clock.advance(3000)
    const verdict = await v.verify(key)
    expect(verdict).toMatchObject({valid: false, code: 'EXPIRED', source: 'cache', stale: true})
    expect(verdict.message).toContain(new Date(clock.now() - 1000).toISOString())
    await standin.resume()
  })

  it('an entry lives at most min(staleness, time to the deadline) — the deadline far away: staleness wins', async () => {
    const key = standin.issue('weather-app', {expiresAt: clock.now() + 60_000})
    const v = make({stalenessMs: 5000})
    await v.verify(key)
    clock.advance(4999)
    expect((await v.verify(key)).source).toBe('cache')
    clock.advance(1)
    expect((await v.verify(key)).source).toBe('service')
  })
})

describe('what is cached', () => {
  it('authoritative negative verdicts (NOT_FOUND, REVOKED) are cached within the bound', async () => {
    const v = make()
    const unknown = standin.issue()
    standin.keys.delete(unknown)
    expect(await v.verify(unknown)).toMatchObject({code: 'NOT_FOUND', source: 'service'})
    expect(await v.verify(unknown)).toMatchObject({code: 'NOT_FOUND', source: 'cache'})
    const revoked = standin.issue()
    standin.revoke(revoked)
    expect(await v.verify(revoked)).toMatchObject({code: 'REVOKED', source: 'service'})
    expect(await v.verify(revoked)).toMatchObject({code: 'REVOKED', source: 'cache'})
    expect(standin.verifyCalls).toBe(2)
  })

  it('the LRU holds at most cacheSize verdicts and evicts the least recently used', async () => {
    const v = make({cacheSize: 2})
    const [k1, k2, k3] = [standin.issue(), standin.issue(), standin.issue()]
    await v.verify(k1)
    await v.verify(k2)
    await v.verify(k1) // k1 most recent
    await v.verify(k3) // evicts k2
    expect(v.stats().cacheSize).toBe(2)
    expect((await v.verify(k1)).source).toBe('cache')
    expect((await v.verify(k2)).source).toBe('service')
  })
})

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !predicate(); i++) await new Promise((resolve) => setImmediate(resolve))
  if (!predicate()) throw new Error('timed out')
}
