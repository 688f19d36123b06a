/**
 * The verifier's client of the key service (src/verify/service-client.ts): verdicts from the
 * real service on 127.0.0.1:0; failures the real service does not produce on demand (503, 429,
 * a non-JSON 200, no answer) from the stand-in; refused connections from a released port.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {systemClock} from '../../src/verify/clock.js'
import {asVerdict, interpret, ServiceClient} from '../../src/verify/service-client.js'
import {startHarness, type Harness} from '../server/helpers.js'
import {FakeClock, refusedUrl, settle, startStandin, TOKEN, until, type Standin} from './helpers.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function client(serviceUrl: string, verifierToken: string, clock = systemClock, timeoutMs = 2000): ServiceClient {
  const c = new ServiceClient({serviceUrl, verifierToken, timeoutMs, clock})
  cleanups.push(() => c.close())
  return c
}

describe('service client ↔ real service', () => {
  let h: Harness
  it('answers VALID and NOT_FOUND verdicts; a rejected verifier token is "unavailable" with the status in the reason', async () => {
    h = await startHarness()
    cleanups.push(() => h.cleanup())
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    const key = await h.issueKey(ann, 'weather-app')
    const token = await h.addVerifier('weather-api')

    const c = client(h.url, token)
    const valid = await c.verify(key.key, {route: '/v1/forecast/:city'})
    expect(valid).toMatchObject({kind: 'verdict', verdict: {valid: true, code: 'VALID', keyId: key.id, env: 'dev'}})
    const body = `ak_weather-app_dev_${'Zq3x'.repeat(7)}Zq`
    expect(await c.verify(body + checksumOf(body), undefined)).toMatchObject({kind: 'verdict', verdict: {valid: false, code: 'NOT_FOUND'}})
    expect(c.lastFailure).toBeNull()

    const wrong = client(h.url, `akv_${'A'.repeat(40)}`)
    const rejected = await wrong.verify(key.key, undefined)
    expect(rejected).toMatchObject({kind: 'unavailable'})
    expect(rejected.kind === 'unavailable' && rejected.reason).toContain('401')
    expect(wrong.lastFailure?.reason).toMatch(/^POST \/v1\/verify: .*401/)
  })
})

describe('service client ↔ failures', () => {
  async function standin(): Promise<Standin> {
    const s = await startStandin(systemClock)
    cleanups.push(() => s.close())
    return s
  }

  it.each([
    ['503', /answered 503/],
    ['500', /answered 500/],
    ['429', /rate limiting this verifier \(429\)/],
    ['garbage', /not JSON/],
  ] as const)('%s from the service is "unavailable" with a reason', async (mode, reason) => {
    const s = await standin()
    s.verifyMode = mode
    const c = client(s.url, TOKEN)
    const answer = await c.verify(s.issue(), undefined)
    expect(answer.kind).toBe('unavailable')
    expect(answer.kind === 'unavailable' && answer.reason).toMatch(reason)
    expect(c.lastFailure?.reason).toMatch(reason)
  })

  it('a refused connection is "unavailable" naming the error code', async () => {
    const c = client(await refusedUrl(), TOKEN)
    expect(await c.verify('ak_x', undefined)).toEqual({kind: 'unavailable', reason: 'ECONNREFUSED'})
  })

  it('no answer within timeoutMs aborts the call: "unavailable" naming the timeout', async () => {
    const s = await standin()
    s.verifyMode = 'hang'
    const clock = new FakeClock()
    const c = client(s.url, TOKEN, clock, 1500)
    const pending = c.verify(s.issue(), undefined)
    await until(() => s.held() === 1, 'the call reached the service')
    clock.advance(1500)
    expect(await pending).toEqual({kind: 'unavailable', reason: 'no answer within 1500 ms'})
  })

  it('abortAll ends every call in flight', async () => {
    const s = await standin()
    s.verifyMode = 'hang'
    const c = client(s.url, TOKEN, new FakeClock())
    const pending = [c.verify(s.issue(), undefined), c.verify(s.issue(), undefined)]
    await until(() => s.held() === 2, 'both calls reached the service')
    c.abortAll()
    expect((await Promise.all(pending)).map((a) => a.kind)).toEqual(['unavailable', 'unavailable'])
  })

  it('posts usage with the batch id as Idempotency-Key and returns the status; a failing status is remembered', async () => {
    const s = await standin()
    const c = client(s.url, TOKEN)
    const body = JSON.stringify({events: [{at: 1, count: 2, code: 'VALID', source: 'cache', keyId: null, app: null}]})
    expect(await c.postUsage(body, new AbortController().signal, 'batch-1')).toBe(202)
    expect(s.usageBodies.map((b) => b.batchId)).toEqual(['batch-1'])
    s.usageStatuses.push(503)
    expect(await c.postUsage(body, new AbortController().signal, 'batch-2')).toBe(503)
    expect(c.lastFailure?.reason).toBe('POST /v1/usage: the service answered 503')
    await settle()
  })
})

describe('reading an answer of POST /v1/verify', () => {
  const ok = {valid: true, code: 'VALID', app: null, team: null, env: 'dev', keyId: 'key_1', expiresAt: null, rateLimit: null, message: 'ok', suggestions: [], docsUrl: ''}

  it('accepts a verdict; fills suggestions for a negative one the service sent without any', () => {
    expect(interpret(200, JSON.stringify(ok))).toMatchObject({kind: 'verdict', verdict: {code: 'VALID', keyId: 'key_1'}})
    const revoked = interpret(200, JSON.stringify({...ok, valid: false, code: 'REVOKED'}))
    expect(revoked.kind === 'verdict' && revoked.verdict.suggestions.length).toBeGreaterThan(0)
  })

  it('rejects bodies that are not verdicts: unknown code, valid disagreeing with code, not an object', () => {
    expect(asVerdict({...ok, code: 'MAYBE'})).toBeNull()
    expect(asVerdict({...ok, valid: false})).toBeNull()
    expect(asVerdict('VALID')).toBeNull()
    expect(interpret(200, '[]')).toEqual({kind: 'unavailable', reason: 'the service answered 200 with a body that is not a verdict'})
  })

  it('drops an unknown environment and a malformed rate limit instead of passing them on', () => {
    expect(asVerdict({...ok, env: 'staging', rateLimit: {limit: 'x'}})).toMatchObject({env: null, rateLimit: null})
    expect(asVerdict({...ok, rateLimit: {limit: 5, remaining: 4, resetMs: 1000, retryAfterSeconds: 2}})?.rateLimit).toEqual({limit: 5, remaining: 4, resetMs: 1000, retryAfterSeconds: 2})
  })
})
