/**
 * POST /v1/verify: verifier tokens, verdicts, the order of checks
 * (shape and checksum before any lookup), lifecycle changes seen at
 * once, rotation grace and expiry deadlines, and the
 * per-address failure bucket with trusted proxies and canonical
 * addresses. Injected clock throughout; nothing sleeps.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {addVerifier, revokeVerifier} from '../../src/server/services/verifiers.js'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, verifyFixture as fixture, type Harness, type HarnessOptions, type VerifyFixture as Fixture} from './helpers.js'

/** A well-formed key with a valid checksum that this service never issued. */
function foreignKey(app = 'weather-app', env = 'dev'): string {
  const body = `ak_${app}_${env}_${'Zq3x'.repeat(7)}Zq`
  return body + checksumOf(body)
}


/** Renames `api_keys` behind the service's back: any key lookup now fails (proves "no lookup" when answers still come). */
function hideKeysTable(h: Harness): () => void {
  const raw = new BetterSqlite3(h.dbPath)
  raw.exec('alter table api_keys rename to api_keys_hidden')
  return () => {
    raw.exec('alter table api_keys_hidden rename to api_keys')
    raw.close()
  }
}

describe('POST /v1/verify', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(async () => f.h.cleanup())

  it('answers VALID with the owning app and team, the deadline, the rate-limit state and the docs link', async () => {
    const res = await f.h.verify(f.verifier, f.key.key, {clientApp: 'com.example.weather', appVersion: '1.2.3', route: '/v1/forecast/:city'})
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.body).toEqual({
      valid: true,
      code: 'VALID',
      app: {slug: 'weather-app', name: 'App weather-app', team: {slug: 'mobile', name: 'Team mobile'}, contactEmail: 'weather-app-poc@example.com'},
      team: 'mobile',
      env: 'dev',
      keyId: f.key.id,
      expiresAt: f.key.expiresAt,
      rateLimit: {limit: 60, remaining: 59, resetMs: 1000},
      message: 'the API key is valid',
      suggestions: [],
      docsUrl: `${f.h.url}/docs`,
      getKeyCommand: 'apikey init',
      keyKind: 'dev',
    })
    expect(res.text).not.toContain(f.key.key)
  })

  it('verifier token: missing, malformed, unknown, a session token or a revoked one → 401 problem; revocation holds within 5 s', async () => {
    for (const token of [undefined, 'akv_short', `akv_${'A'.repeat(40)}`, f.ann]) {
      const res = await f.h.request('POST', '/v1/verify', {...(token === undefined ? {} : {token}), body: {key: f.key.key}})
      const problem = expectProblemShape(res, 401, 'unauthenticated')
      expect(problem.credential).toBe('verifier_token')
      expect(problem.suggestions[0]).toContain('apikey server verifiers add')
      expect(res.text).not.toContain(f.key.key)
    }
    expect((await f.h.verify(f.verifier, f.key.key)).status).toBe(200)
    await f.h.revokeVerifier('weather-gateway')
    // Within the verifier-token cache bound (≤ 5 s) the cached lookup may still pass; at 5 s it never does.
    f.h.clock.advance(5000)
    const res = await f.h.verify(f.verifier, f.key.key)
    expect(expectProblemShape(res, 401, 'unauthenticated').detail).toMatch(/revoked at/)
  })

  it('a fresh verifier token works at once; names are unique and follow the rule; revoking twice is not an error', async () => {
    await expect(addVerifier({dbPath: f.h.dbPath, name: 'weather-gateway'})).rejects.toMatchObject({code: 'conflict'})
    await expect(addVerifier({dbPath: f.h.dbPath, name: 'bad name!'})).rejects.toMatchObject({code: 'validation'})
    const other = await addVerifier({dbPath: f.h.dbPath, name: 'second', clock: f.h.clock})
    expect(other.token).toMatch(/^akv_[0-9A-Za-z]{40}$/)
    expect(other.id).toMatch(/^vrf_/)
    expect((await f.h.verify(other.token, f.key.key)).body.code).toBe('VALID')
    const first = await revokeVerifier({dbPath: f.h.dbPath, verifier: other.id, clock: f.h.clock})
    const again = await revokeVerifier({dbPath: f.h.dbPath, verifier: 'second', clock: f.h.clock})
    expect([first.alreadyRevoked, again.alreadyRevoked]).toEqual([false, true])
    expect(again.revokedAt).toBe(first.revokedAt)
    await expect(revokeVerifier({dbPath: f.h.dbPath, verifier: 'nobody'})).rejects.toMatchObject({code: 'not_found'})
    // The database holds the SHA-256, never the token; the audit log names the change.
    const raw = new BetterSqlite3(f.h.dbPath, {readonly: true})
    const dump = JSON.stringify(raw.prepare('select * from verifier_tokens').all()) + JSON.stringify(raw.prepare('select * from audit_events').all())
    raw.close()
    expect(dump).not.toContain(other.token)
    expect(dump).not.toContain(f.verifier)
    expect(dump).toContain('verifier.create')
    expect(dump).toContain('verifier.revoke')
  })

  it('empty, whitespace, a trailing newline, 10 KB, binary and header-injection keys are MALFORMED without any lookup', async () => {
    const restore = hideKeysTable(f.h)
    try {
      const cases: Array<[string, RegExp]> = [
        ['', /^no API key was sent\. Get your own key: apikey init$/],
        ['   ', /whitespace/],
        [`${f.key.key}\n`, /whitespace/],
        [` ${f.key.key}`, /whitespace/],
        ['x'.repeat(10 * 1024), /10240 characters long/],
        ['\u0000\u0001binary\u00ff', /control characters/],
        [`${f.key.key}\r\nX-Apikey-App: evil`, /control characters|whitespace/],
        ['ak_weather-app_dev_ünïcode', /characters outside/],
        // Shape passes, checksum fails: still no lookup.
        [f.key.key.slice(0, -1) + (f.key.key.endsWith('A') ? 'B' : 'A'), /malformed \(checksum\)/],
        ['ak_weather-app_dev_short', /malformed/],
      ]
      for (const [key, message] of cases) {
        const res = await f.h.verify(f.verifier, key)
        expect(res.status, JSON.stringify(key.slice(0, 30))).toBe(200)
        expect(res.body).toMatchObject({valid: false, code: 'MALFORMED', app: null, team: null, keyId: null, rateLimit: null, suggestions: ['apikey init']})
        expect(res.body.message).toMatch(message)
        expect(res.headers.get('x-apikey-app')).toBeNull()
        if (key.length > 3) expect(res.text).not.toContain(key.trim().slice(0, 40))
      }
      // The control: a well-formed key does reach the (hidden) table, and that is a 503, never a verdict.
      const res = await f.h.verify(f.verifier, foreignKey())
      expectProblemShape(res, 503, 'server_error')
      expect(res.headers.get('retry-after')).toBe('1')
    } finally {
      restore()
    }
    expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('VALID')
  })

  it('NOT_FOUND and REVOKED reveal nothing about the owning team', async () => {
    const unknown = await f.h.verify(f.verifier, foreignKey())
    expect(unknown.body).toMatchObject({valid: false, code: 'NOT_FOUND', app: null, team: null, keyId: null, suggestions: ['apikey init']})
    expect(unknown.body.message).toMatch(/Get your own key: apikey init$/)
    expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('VALID')
    const revoked = await f.h.request('DELETE', `/v1/keys/${f.key.id}`, {token: f.ann})
    expect(revoked.status).toBe(200)
    // Right after the lifecycle change, with a warm record cache.
    const res = await f.h.verify(f.verifier, f.key.key)
    expect(res.body).toMatchObject({valid: false, code: 'REVOKED', app: null, team: null, expiresAt: null, rateLimit: null, suggestions: ['apikey init --new-key']})
    expect(res.text).not.toContain('mobile')
    expect(res.text).not.toContain('weather-app-poc')
  })

  it('EXPIRED after the expiry instant (injected clock), with the owner for attribution', async () => {
    f.h.clock.t = f.key.expiresAt - 1
    expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('VALID')
    f.h.clock.t = f.key.expiresAt
    const res = await f.h.verify(f.verifier, f.key.key)
    expect(res.body).toMatchObject({valid: false, code: 'EXPIRED', team: 'mobile', keyId: f.key.id, expiresAt: f.key.expiresAt, suggestions: ['apikey init --new-key']})
    expect(res.body.app.slug).toBe('weather-app')
    expect(res.body.message).toContain(new Date(f.key.expiresAt).toISOString())
  })

  it.each([
    ['service', 'test', 'apikey keys create --app weather-app --env test'],
    ['service', 'dev', 'apikey keys create --app weather-app --env dev'],
    ['ci', 'ci', 'apikey ci key'],
    ['dev', 'dev', 'apikey init --new-key'],
  ] as const)('an expired or revoked %s key (%s) is told the command that issues a key of its kind, in the verdict and the auth-request header', async (kind, env, command) => {
    const gatewaySuggestion = async (key: string) =>
      (await fetch(`${f.h.url}/v1/verify/auth-request`, {headers: {'x-verifier-token': f.verifier, 'x-api-key': key}})).headers.get('x-apikey-suggestion')
    const revoked = await f.h.issueKey(f.ann, 'weather-app', {env, kind})
    expect((await f.h.request('DELETE', `/v1/keys/${revoked.id}`, {token: f.ann})).status).toBe(200)
    const r = await f.h.verify(f.verifier, revoked.key)
    expect(r.body).toMatchObject({code: 'REVOKED', keyKind: kind, suggestions: [command]})
    expect(r.body.message.endsWith(`Get a new key: ${command}`)).toBe(true)
    expect(await gatewaySuggestion(revoked.key)).toBe(command)

    const expiring = await f.h.issueKey(f.ann, 'weather-app', {env, kind, expiresAt: f.h.clock.now() + 60_000})
    f.h.clock.advance(60_000)
    const e = await f.h.verify(f.verifier, expiring.key)
    expect(e.body).toMatchObject({code: 'EXPIRED', keyKind: kind, suggestions: [command]})
    expect(e.body.message.endsWith(`Get a new key: ${command}`)).toBe(true)
    expect(await gatewaySuggestion(expiring.key)).toBe(command)
  })

  it('a key within 14 days of its expiry is VALID with a rotate suggestion', async () => {
    f.h.clock.t = f.key.expiresAt - 3 * DAY_MS
    const res = await f.h.verify(f.verifier, f.key.key)
    expect(res.body.code).toBe('VALID')
    expect(res.body.suggestions).toEqual([`apikey keys rotate ${f.key.id}`])
  })

  it('rotation grace: the old key is VALID until graceEndsAt (the verdict deadline), then EXPIRED naming its replacement; the new key is VALID at once', async () => {
    expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('VALID')
    const rotated = await f.h.request('POST', `/v1/keys/${f.key.id}/rotate`, {token: f.ann, body: {graceMs: 3_600_000}})
    expect(rotated.status).toBe(201)
    const graceEndsAt = T0 + 3_600_000
    const old = await f.h.verify(f.verifier, f.key.key)
    expect(old.body).toMatchObject({code: 'VALID', expiresAt: graceEndsAt})
    expect(old.body.message).toContain(rotated.body.newKey.id)
    expect((await f.h.verify(f.verifier, rotated.body.newKey.key)).body).toMatchObject({code: 'VALID', keyId: rotated.body.newKey.id})
    f.h.clock.t = graceEndsAt
    const ended = await f.h.verify(f.verifier, f.key.key)
    expect(ended.body).toMatchObject({code: 'EXPIRED', expiresAt: graceEndsAt})
    expect(ended.body.message).toContain(rotated.body.newKey.id)
  })

  it('400 problem for a body without key; 401 before the body is looked at', async () => {
    expectProblemShape(await f.h.request('POST', '/v1/verify', {token: f.verifier, body: {}}), 400, 'validation')
    expectProblemShape(await f.h.request('POST', '/v1/verify', {token: f.verifier, body: {key: 42}}), 400, 'validation')
    expectProblemShape(await f.h.request('POST', '/v1/verify', {body: {}}), 401, 'unauthenticated')
  })

  it('logs never carry keys or verifier tokens', async () => {
    await f.h.verify(f.verifier, f.key.key)
    await f.h.verify(f.verifier, `${f.key.key}\n`)
    const logs = f.h.logs.join('')
    expect(logs).not.toContain(f.key.key)
    expect(logs).not.toContain(f.verifier)
  })
})

describe('failure bucket per client address', () => {
  let f: Fixture
  afterEach(async () => f.h.cleanup())

  it('a flood of unknown keys from one address becomes RATE_LIMITED; other addresses and valid keys still pass', async () => {
    f = await fixture({settings: {verifyFailureLimitPerIp: {capacity: 3, refillIntervalMs: 60_000}}})
    const from = (clientIp: string, key = foreignKey()) => f.h.verify(f.verifier, key, {clientIp})
    for (let i = 0; i < 3; i++) expect((await from('198.51.100.7')).body.code).toBe('NOT_FOUND')
    const limited = await from('198.51.100.7')
    expect(limited.body).toMatchObject({code: 'RATE_LIMITED', app: null, keyId: null, rateLimit: {limit: 3, remaining: 0, retryAfterSeconds: 60}})
    expect((await from('198.51.100.7', 'garbage')).body.code).toBe('RATE_LIMITED')
    expect((await from('198.51.100.8')).body.code).toBe('NOT_FOUND')
    expect((await from('198.51.100.7', f.key.key)).body.code).toBe('VALID')
    f.h.clock.advance(60_000)
    expect((await from('198.51.100.7')).body.code).toBe('NOT_FOUND')
  })

  it('the three IPv6 spellings of one /64 share a bucket, and so do ::ffff:192.0.2.7 and 192.0.2.7', async () => {
    f = await fixture({settings: {verifyFailureLimitPerIp: {capacity: 2, refillIntervalMs: 60_000}}})
    const codes = async (ips: string[]) => {
      const out: string[] = []
      for (const clientIp of ips) out.push((await f.h.verify(f.verifier, foreignKey(), {clientIp})).body.code)
      return out
    }
    expect(await codes(['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:0:0:0:3'])).toEqual(['NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED'])
    expect(await codes(['::ffff:192.0.2.7', '192.0.2.7', '192.0.2.7'])).toEqual(['NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED'])
    expect(await codes(['2001:db8:1:3::1'])).toEqual(['NOT_FOUND'])
  })

  it('directly connected, a different X-Forwarded-For on every request does not change the bucket (default trusts nobody)', async () => {
    f = await fixture({settings: {verifyFailureLimitPerIp: {capacity: 3, refillIntervalMs: 60_000}}})
    const codes: string[] = []
    for (let i = 0; i < 5; i++) codes.push((await f.h.verify(f.verifier, foreignKey(), undefined, {'x-forwarded-for': `203.0.113.${i + 1}`})).body.code)
    expect(codes).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED', 'RATE_LIMITED'])
  })

  it('behind trusted proxies the chain is walked right to left; a spoofed left part does not change the bucket', async () => {
    f = await fixture({settings: {trustProxy: ['127.0.0.1', '10.0.0.0/8'], verifyFailureLimitPerIp: {capacity: 2, refillIntervalMs: 60_000}}})
    const via = async (xff: string) => (await f.h.verify(f.verifier, foreignKey(), undefined, {'x-forwarded-for': xff})).body.code
    // The client's real address is the rightmost untrusted hop: 198.51.100.7, whatever it claims further left.
    expect(await via('1.1.1.1, 198.51.100.7')).toBe('NOT_FOUND')
    expect(await via('2.2.2.2, 198.51.100.7, 10.1.2.3')).toBe('NOT_FOUND')
    expect(await via('3.3.3.3, 198.51.100.7')).toBe('RATE_LIMITED')
    // Another real client behind the same proxy has its own bucket.
    expect(await via('1.1.1.1, 198.51.100.8')).toBe('NOT_FOUND')
  })
})
