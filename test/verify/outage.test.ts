/**
 * Outages: transport errors, timeouts, 5xx and 429 from the
 * service are "verification unavailable" and never cached as invalid; cached
 * verdicts are served stale up to the hard ceiling, then the outage policy
 * applies; concurrent misses for one key make one call. Injected clock; the
 * stand-in produces real 503s, real hangs and real refused connections.
 */
import {describe, expect, it} from 'vitest'
import {refusedUrl, until} from './helpers.js'
import {clock, make, standin, useStandinVerifiers} from './standin-env.js'

useStandinVerifiers()

const UNAVAILABLE = {valid: false, code: 'UNAVAILABLE', unavailable: true, message: 'verification unavailable', source: 'local'}

describe('failures are "unavailable", never cached; recovery', () => {
  it('503, then a timeout, then a refused connection, then recovery: only the authoritative answer is cached', async () => {
    const key = standin.issue()
    const unknown = standin.issue()
    standin.keys.delete(unknown)
    const v = make({timeoutMs: 2000, circuitFailures: 0})

    standin.verifyMode = '503'
    expect(await v.verify(key)).toMatchObject(UNAVAILABLE)
    expect(await v.verify(unknown)).toMatchObject(UNAVAILABLE)
    expect(v.stats().cacheSize).toBe(0)

    standin.verifyMode = 'hang'
    const pending = v.verify(key)
    await until(() => standin.held() === 1, 'the hanging call')
    clock.advance(1999)
    await settleTurns()
    expect(standin.held()).toBe(1)
    clock.advance(1)
    expect(await pending).toMatchObject(UNAVAILABLE)
    expect(v.stats().lastFailure?.reason).toContain('no answer within 2000 ms')
    standin.release(503)

    await standin.pause()
    expect(await v.verify(key)).toMatchObject(UNAVAILABLE)
    expect(v.stats().lastFailure?.reason).toContain('ECONNREFUSED')
    expect(v.stats().cacheSize).toBe(0)

    standin.verifyMode = 'ok'
    await standin.resume()
    expect(await v.verify(key)).toMatchObject({valid: true, code: 'VALID', source: 'service'})
    expect(await v.verify(unknown)).toMatchObject({valid: false, code: 'NOT_FOUND', source: 'service'})
    expect(await v.verify(unknown)).toMatchObject({code: 'NOT_FOUND', source: 'cache'})
    expect(v.stats()).toMatchObject({fetches: 6, fetchErrors: 4, unavailable: 4, cacheSize: 2})
  })

  it.each([
    ['500', '500' as const],
    ['429 from the service itself', '429' as const],
    ['a 200 that is not a verdict (proxy error page)', 'garbage' as const],
  ])('%s → unavailable, not cached', async (_name, mode) => {
    const key = standin.issue()
    const v = make({circuitFailures: 0})
    standin.verifyMode = mode
    expect(await v.verify(key)).toMatchObject(UNAVAILABLE)
    standin.verifyMode = 'ok'
    expect(await v.verify(key)).toMatchObject({valid: true, source: 'service'})
  })

  it('a rejected verifier token (401) is unavailable and says "verifier token rejected" from the first failure', async () => {
    const v = make({verifierToken: 'akv_wrong', circuitFailures: 0})
    expect(await v.verify(standin.issue())).toMatchObject(UNAVAILABLE)
    expect(v.stats().lastFailure?.reason).toMatch(/^POST \/v1\/verify: verifier token rejected: the service answered 401; check the verifier token/)
    expect(v.stats().cacheSize).toBe(0)
  })

  it('a refused connection on a port nothing listens on', async () => {
    const v = make({serviceUrl: await refusedUrl()})
    expect(await v.verify(standin.issue())).toMatchObject(UNAVAILABLE)
  })

  it('after 3 consecutive failures the service is not asked for circuitOpenMs; then it is asked again', async () => {
    const key = standin.issue()
    const v = make({circuitFailures: 3, circuitOpenMs: 1000})
    standin.verifyMode = '503'
    for (let i = 0; i < 3; i++) expect((await v.verify(key)).unavailable).toBe(true)
    expect(standin.verifyCalls).toBe(3)
    for (let i = 0; i < 10; i++) expect((await v.verify(key)).unavailable).toBe(true)
    expect(standin.verifyCalls).toBe(3)
    standin.verifyMode = 'ok'
    clock.advance(999)
    expect((await v.verify(key)).unavailable).toBe(true)
    clock.advance(1)
    expect(await v.verify(key)).toMatchObject({valid: true, source: 'service'})
    expect(standin.verifyCalls).toBe(4)
  })
})

describe('hard ceiling and outage policy', () => {
  it('unreachable for 10 minutes while K is revoked: stale VALID until the ceiling (60 s), then fail closed "unavailable"; REVOKED after recovery', async () => {
    const key = standin.issue()
    const v = make({stalenessMs: 5000, hardCeilingMs: 60_000})
    const fetchedAt = clock.now()
    expect((await v.verify(key)).valid).toBe(true)
    await standin.pause()
    standin.revoke(key)
    let lastStale = -1
    for (let s = 1; s <= 600; s++) {
      clock.advance(1000)
      const verdict = await v.verify(key)
      const age = clock.now() - fetchedAt
      if (age < 5000) expect(verdict).toMatchObject({valid: true, source: 'cache'})
      else if (age < 60_000) {
        expect(verdict).toMatchObject({valid: true, code: 'VALID', source: 'cache', stale: true})
        lastStale = age
      } else expect(verdict).toMatchObject(UNAVAILABLE)
    }
    expect(lastStale).toBe(59_000)
    await standin.resume()
    clock.advance(1000) // past the open circuit
    expect(await v.verify(key)).toMatchObject({valid: false, code: 'REVOKED', source: 'service'})
  })

  it('fail-closed is the default for unknown keys; fail-open admits them, flagged unavailable', async () => {
    const key = standin.issue()
    await standin.pause()
    expect(await make().verify(key)).toMatchObject(UNAVAILABLE)
    expect(await make({outagePolicy: {unknownKeys: 'fail-open'}}).verify(key)).toMatchObject({...UNAVAILABLE, valid: true})
    await standin.resume()
  })

  it("knownKeys 'fail-closed' does not serve a cached VALID during an outage", async () => {
    const key = standin.issue()
    const v = make({outagePolicy: {knownKeys: 'fail-closed', unknownKeys: 'fail-open'}})
    expect((await v.verify(key)).valid).toBe(true)
    await standin.pause()
    clock.advance(5000)
    expect(await v.verify(key)).toMatchObject(UNAVAILABLE)
    await standin.resume()
  })

  it('a cached REVOKED is served during an outage even past the ceiling, and fail-open never admits it', async () => {
    const key = standin.issue()
    standin.revoke(key)
    const v = make({outagePolicy: {unknownKeys: 'fail-open'}, hardCeilingMs: 60_000})
    expect((await v.verify(key)).code).toBe('REVOKED')
    await standin.pause()
    clock.advance(10 * 60_000)
    expect(await v.verify(key)).toMatchObject({valid: false, code: 'REVOKED', source: 'cache', stale: true})
    await standin.resume()
  })

  it('a cached NOT_FOUND past the ceiling under fail-open stays rejected', async () => {
    const key = standin.issue()
    standin.keys.delete(key)
    const v = make({outagePolicy: {unknownKeys: 'fail-open'}})
    expect((await v.verify(key)).code).toBe('NOT_FOUND')
    await standin.pause()
    clock.advance(30_000)
    expect(await v.verify(key)).toMatchObject({valid: false, code: 'NOT_FOUND', stale: true})
    clock.advance(60_000)
    expect(await v.verify(key)).toMatchObject({valid: false, code: 'UNAVAILABLE', unavailable: true})
    await standin.resume()
  })

  it('single flight: 50 concurrent misses for one key make one call, and all 50 get its verdict', async () => {
    const key = standin.issue()
    const v = make()
    standin.verifyMode = 'slow'
    const all = Array.from({length: 50}, () => v.verify(key))
    await until(() => standin.held() === 1, 'the first call')
    await settleTurns()
    expect(standin.held()).toBe(1)
    standin.release()
    const verdicts = await Promise.all(all)
    expect(verdicts.every((x) => x.valid && x.code === 'VALID' && x.source === 'service')).toBe(true)
    expect(standin.verifyCalls).toBe(1)
    expect(v.stats()).toMatchObject({fetches: 1, cacheMisses: 50})
  })

  it('single flight during an outage: 50 concurrent misses wait for one timed-out call', async () => {
    const key = standin.issue()
    const v = make({timeoutMs: 2000})
    standin.verifyMode = 'hang'
    const all = Array.from({length: 50}, () => v.verify(key))
    await until(() => standin.held() === 1, 'the first call')
    clock.advance(2000)
    const verdicts = await Promise.all(all)
    expect(verdicts.every((x) => x.unavailable === true && !x.valid)).toBe(true)
    expect(standin.verifyCalls).toBe(1)
    standin.release(503)
  })
})

async function settleTurns(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}
