/**
 * Per-key rate limits of verification: token buckets without
 * window-boundary doubling, atomic takes under concurrency,
 * header arithmetic and "waiting Retry-After is enough", store
 * failures under the documented policy, and overrides per key and
 * per app (`PUT /v1/keys/{id}/limit`, `PUT /v1/apps/{slug}/limit`).
 */
import {afterEach, describe, expect, it} from 'vitest'
import type {RateLimitStore} from '../../src/server/services/rate-limit.js'
import {MemoryRateLimitStore} from '../../src/server/services/rate-limit.js'
import {expectProblemShape, startHarness, T0, verifyFixture as fixture, type Harness, type HarnessOptions, type VerifyFixture as Fixture} from './helpers.js'


/** The auth-request form, as nginx calls it. */
function authRequest(f: Fixture, key: string) {
  return f.h.request('GET', '/v1/verify/auth-request', {headers: {'x-verifier-token': f.verifier, 'x-api-key': key}})
}

const TEN_PER_MINUTE = {verifyRateLimits: {dev: {limit: 10, windowMs: 60_000}}}

describe('per-key rate limits', () => {
  let f: Fixture
  afterEach(async () => f.h.cleanup())

  it('limit 10/min, 10 at 12:00:59.9 and 10 at 12:01:00.1 → 10 pass, no window-boundary doubling; Retry-After is this bucket\'s', async () => {
    f = await fixture({settings: TEN_PER_MINUTE})
    f.h.clock.t = Date.UTC(2030, 0, 1, 12, 0, 59, 900)
    const first = await Promise.all(Array.from({length: 10}, () => f.h.verify(f.verifier, f.key.key)))
    f.h.clock.t = Date.UTC(2030, 0, 1, 12, 1, 0, 100)
    const second = await Promise.all(Array.from({length: 10}, () => f.h.verify(f.verifier, f.key.key)))
    expect(first.map((r) => r.body.code)).toEqual(Array(10).fill('VALID'))
    expect(second.map((r) => r.body.code)).toEqual(Array(10).fill('RATE_LIMITED'))
    // 0.2 s after the bucket emptied, one token is 5.8 s away → 6 s.
    expect(second[0]?.body.rateLimit).toEqual({limit: 10, remaining: 0, resetMs: 59_800, retryAfterSeconds: 6})
    // RATE_LIMITED names the key's owner (attribution), and real numbers.
    expect(second[0]?.body).toMatchObject({valid: false, keyId: f.key.id, team: 'mobile', env: 'dev'})
    expect(second[0]?.body.message).toMatch(/more than 10 requests in a minute; retry in 6 s/)
  })

  it('limit 5/s, 50 verifications at once → exactly 5 VALID and 45 RATE_LIMITED', async () => {
    f = await fixture({settings: {verifyRateLimits: {dev: {limit: 5, windowMs: 1000}}}})
    const answers = await Promise.all(Array.from({length: 50}, () => f.h.verify(f.verifier, f.key.key)))
    const codes = answers.map((r) => r.body.code)
    expect(codes.filter((c) => c === 'VALID')).toHaveLength(5)
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(45)
    expect(new Set(answers.filter((r) => r.body.valid).map((r) => r.body.rateLimit.remaining))).toEqual(new Set([0, 1, 2, 3, 4]))
  })

  it('a bucket of 10 refilling 1 per 6 s, exhausted: headers at 0.1 s, 5.9 s and 6.0 s; JSON and headers describe the same instant; waiting Retry-After is enough', async () => {
    f = await fixture({settings: TEN_PER_MINUTE})
    for (let i = 0; i < 10; i++) expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('VALID')
    const at = async (ms: number) => {
      f.h.clock.t = T0 + ms
      return authRequest(f, f.key.key)
    }
    const r1 = await at(100)
    expect(r1.status).toBe(403)
    expect(r1.headers.get('x-apikey-code')).toBe('RATE_LIMITED')
    expect([r1.headers.get('retry-after'), r1.headers.get('x-apikey-retry-after')]).toEqual(['6', '6'])
    expect([r1.headers.get('ratelimit-limit'), r1.headers.get('ratelimit-remaining'), r1.headers.get('ratelimit-reset')]).toEqual(['10', '0', '60'])
    f.h.clock.t = T0 + 100
    const json = (await f.h.verify(f.verifier, f.key.key)).body.rateLimit
    expect(json).toEqual({limit: 10, remaining: 0, resetMs: 59_900, retryAfterSeconds: 6})
    expect(Math.ceil(json.resetMs / 1000)).toBe(Number(r1.headers.get('ratelimit-reset')))

    const r2 = await at(5900)
    expect(r2.status).toBe(403)
    expect([r2.headers.get('retry-after'), r2.headers.get('ratelimit-reset')]).toEqual(['1', '55'])

    const r3 = await at(6000)
    expect(r3.status).toBe(204)
    expect(r3.headers.get('retry-after')).toBeNull()
    expect([r3.headers.get('ratelimit-limit'), r3.headers.get('ratelimit-remaining'), r3.headers.get('ratelimit-reset')]).toEqual(['10', '0', '60'])

    // Exhausted again at 6.0 s: read at 6.1 s, wait exactly Retry-After, retry → passes.
    const r4 = await at(6100)
    const wait = Number(r4.headers.get('retry-after'))
    expect(wait).toBeGreaterThanOrEqual(1)
    expect((await at(6100 + wait * 1000)).status).toBe(204)
    // Never negative or zero, even right at the edge.
    for (const ms of [12_100, 12_101, 17_999]) {
      const res = await at(ms)
      if (res.status === 403) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
  })

  it('overrides: PUT /v1/keys/{id}/limit (audit key.limit) beats PUT /v1/apps/{slug}/limit, which beats the env default; null removes', async () => {
    f = await fixture()
    const app = await f.h.request('PUT', '/v1/apps/weather-app/limit', {token: f.ann, body: {rpm: 3}})
    expect(app.body).toEqual({keyId: null, app: 'weather-app', env: null, rpm: 3, effective: null})
    expect((await f.h.verify(f.verifier, f.key.key)).body.rateLimit.limit).toBe(3)
    const set = await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm: 2}})
    expect(set.status).toBe(200)
    expect(set.body).toEqual({keyId: f.key.id, app: 'weather-app', env: 'dev', rpm: 2, effective: {limit: 2, windowMs: 60_000, source: 'key'}})
    const codes: string[] = []
    for (let i = 0; i < 3; i++) codes.push((await f.h.verify(f.verifier, f.key.key)).body.code)
    expect(codes).toEqual(['VALID', 'VALID', 'RATE_LIMITED'])
    const cleared = await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm: null}})
    expect(cleared.body.effective).toEqual({limit: 3, windowMs: 60_000, source: 'app'})
    await f.h.request('PUT', '/v1/apps/weather-app/limit', {token: f.ann, body: {rpm: null}})
    const back = await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm: null}})
    expect(back.body.effective).toEqual({limit: 60, windowMs: 60_000, source: 'default'})

    const audit = await f.h.request('GET', '/v1/audit?app=weather-app', {token: f.ann})
    const limits = audit.body.events.filter((e: {action: string}) => e.action.endsWith('.limit'))
    expect(limits.map((e: {action: string; details: {from: unknown; to: unknown}}) => [e.action, e.details.from, e.details.to])).toEqual([
      ['key.limit', null, null],
      ['app.limit', 3, null],
      ['key.limit', 2, null],
      ['key.limit', null, 2],
      ['app.limit', null, 3],
    ])
    expect(limits[0].actor).toBe('ann')
  })

  it('overrides: 400 for rpm 0, fractions, strings or above the maximum; 404 for unknown keys; 403 for other teams', async () => {
    f = await fixture()
    for (const rpm of [0, -1, 1.5, 1_000_001]) expectProblemShape(await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm}}), 400, 'validation')
    expectProblemShape(await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm: '5'}}), 400, 'validation')
    expectProblemShape(await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {}}), 400, 'validation')
    expectProblemShape(await f.h.request('PUT', `/v1/keys/key_${'A'.repeat(20)}/limit`, {token: f.ann, body: {rpm: 5}}), 404, 'key_not_found')
    expectProblemShape(await f.h.request('PUT', '/v1/apps/nope-app/limit', {token: f.ann, body: {rpm: 5}}), 404, 'not_found')
    const bob = await f.h.login('bob')
    expect(expectProblemShape(await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: bob, body: {rpm: 5}}), 403, 'forbidden').owningTeam).toBe('mobile')
  })
})

/** A store that fails the way a remote store does. */
function failingStore(mode: 'throw' | 'reject' | 'hang'): RateLimitStore {
  return {
    take() {
      if (mode === 'throw') throw new Error('SQLITE_BUSY: database is locked')
      if (mode === 'reject') return Promise.reject(new Error('ECONNREFUSED'))
      return new Promise(() => undefined)
    },
  }
}

describe('the limiter store fails', () => {
  let f: Fixture
  afterEach(async () => f.h.cleanup())

  it.each(['throw', 'reject', 'hang'] as const)('policy open (default), store %s: VALID without a rate-limit decision, a warning logged, never RATE_LIMITED', async (mode) => {
    f = await fixture({rateLimitStore: failingStore(mode), settings: {rateLimitStoreTimeoutMs: 20}})
    const res = await f.h.verify(f.verifier, f.key.key)
    expect(res.body).toMatchObject({valid: true, code: 'VALID', rateLimit: null})
    const gateway = await authRequest(f, f.key.key)
    expect(gateway.status).toBe(204)
    expect(gateway.headers.get('ratelimit-limit')).toBeNull()
    expect(f.h.logs.join('')).toContain('the rate-limit store failed')
  })

  it('policy closed: 503 "verification unavailable" with Retry-After; the auth-request form answers 403 UNAVAILABLE', async () => {
    f = await fixture({rateLimitStore: failingStore('throw'), settings: {rateLimitStoreFailure: 'closed'}})
    const res = await f.h.verify(f.verifier, f.key.key)
    const problem = expectProblemShape(res, 503, 'server_error')
    expect(problem.detail).toMatch(/unavailable: the rate limiter failed/)
    expect(res.headers.get('retry-after')).toBe('1')
    const gateway = await authRequest(f, f.key.key)
    expect(gateway.status).toBe(403)
    expect(gateway.headers.get('x-apikey-code')).toBe('UNAVAILABLE')
    expect(gateway.headers.get('x-apikey-retry-after')).toBe('1')
    // Keys that fail before the limiter are still answered.
    expect((await f.h.verify(f.verifier, 'nonsense')).body.code).toBe('MALFORMED')
  })

  it('a store that recovers gives real numbers again; a 429-style answer always carries them', async () => {
    let broken = true
    const memory = new MemoryRateLimitStore()
    const flaky: RateLimitStore = {
      take(key, policy, now) {
        if (broken) throw new Error('locked')
        return memory.take(key, policy, now)
      },
    }
    f = await fixture({rateLimitStore: flaky, settings: {verifyRateLimits: {dev: {limit: 1, windowMs: 60_000}}}})
    expect((await f.h.verify(f.verifier, f.key.key)).body.rateLimit).toBeNull()
    broken = false
    expect((await f.h.verify(f.verifier, f.key.key)).body.rateLimit).toEqual({limit: 1, remaining: 0, resetMs: 60_000})
    const limited = await f.h.verify(f.verifier, f.key.key)
    expect(limited.body.code).toBe('RATE_LIMITED')
    expect(limited.body.rateLimit).toEqual({limit: 1, remaining: 0, resetMs: 60_000, retryAfterSeconds: 60})
  })
})
