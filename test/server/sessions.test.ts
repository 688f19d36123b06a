import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, PASSWORD, startHarness, T0, type Harness} from './helpers.js'

describe('sessions', () => {
  let h: Harness
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
  })
  afterEach(async () => h.cleanup())

  it('GET /v1/meta is public and describes the service', async () => {
    const res = await h.request('GET', '/v1/meta')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      service: 'apikey',
      version: expect.any(String),
      keyPrefix: 'ak',
      keyEnvVar: 'API_KEY',
      authModes: ['password'],
      docsUrl: `${h.url}/docs`,
      getKeyCommand: 'apikey init',
      cliPackage: null,
      environments: ['dev', 'test', 'stage', 'prod', 'ci'],
    })
  })

  it('signs in: 201 with an aks_ token valid 30 days, the user and their teams; no-store', async () => {
    const res = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}})
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.body.token).toMatch(/^aks_[0-9A-Za-z]{40}$/)
    expect(res.body.expiresAt).toBe(T0 + 30 * DAY_MS)
    expect(res.body.user).toEqual({id: expect.stringMatching(/^usr_[0-9A-Za-z]{20}$/), username: 'ann', isAdmin: false})
    expect(res.body.teams).toEqual([{slug: 'mobile', name: 'Team mobile', contactEmail: 'mobile-lead@example.com', role: 'owner'}])
  })

  it('GET /v1/me answers the caller, their teams and the session expiry', async () => {
    const token = await h.login('ann')
    const res = await h.request('GET', '/v1/me', {token})
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      user: {id: expect.any(String), username: 'ann', isAdmin: false},
      teams: [{slug: 'mobile', name: 'Team mobile', contactEmail: 'mobile-lead@example.com', role: 'owner'}],
      sessionExpiresAt: T0 + 30 * DAY_MS,
    })
  })

  it('DELETE /v1/sessions/current signs out: 204, then the token is rejected', async () => {
    const token = await h.login('ann')
    const out = await h.request('DELETE', '/v1/sessions/current', {token})
    expect(out.status).toBe(204)
    expect(out.text).toBe('')
    const after = await h.request('GET', '/v1/me', {token})
    const problem = expectProblemShape(after, 401, 'unauthenticated')
    expect(problem.suggestions).toEqual(['apikey login'])
    expect(after.headers.get('www-authenticate')).toMatch(/^Bearer/)
  })

  it('a session expires after the configured TTL (injected clock)', async () => {
    const token = await h.login('ann')
    h.clock.advance(30 * DAY_MS - 1)
    expect((await h.request('GET', '/v1/me', {token})).status).toBe(200)
    h.clock.advance(1)
    const res = await h.request('GET', '/v1/me', {token})
    expect(expectProblemShape(res, 401, 'unauthenticated').detail).toMatch(/expired/)
  })

  it('wrong password and unknown user are indistinguishable (status, headers, body apart from instance)', async () => {
    const wrong = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 'not the password'}})
    const unknown = await h.request('POST', '/v1/sessions', {body: {username: 'nobody', password: 'not the password'}})
    expectProblemShape(wrong, 401, 'invalid_credentials')
    expectProblemShape(unknown, 401, 'invalid_credentials')
    const strip = ({instance, ...rest}: Record<string, unknown>) => {
      expect(instance).toMatch(/^urn:uuid:/)
      return rest
    }
    expect(strip(wrong.body)).toEqual(strip(unknown.body))
    expect(wrong.body.instance).not.toBe(unknown.body.instance)
    const headerNames = (res: typeof wrong) => [...res.headers.keys()].filter((k) => !['date', 'x-request-id', 'content-length'].includes(k)).sort()
    expect(headerNames(wrong)).toEqual(headerNames(unknown))
    expect(wrong.headers.get('content-length')).toBe(unknown.headers.get('content-length'))
  })

  it('rejects a bad body with a validation problem naming the field', async () => {
    const missing = await h.request('POST', '/v1/sessions', {body: {username: 'ann'}})
    expect(expectProblemShape(missing, 400, 'validation').field).toBe('password')
    const wrongType = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 5}})
    expect(expectProblemShape(wrongType, 400, 'validation').errors).toEqual([{field: 'password', message: expect.stringMatching(/string/)}])
    const extra = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD, remember: true}})
    expect(expectProblemShape(extra, 400, 'validation').field).toBe('remember')
  })

  it('never echoes a malformed JSON body (which may hold the password)', async () => {
    const res = await h.request('POST', '/v1/sessions', {rawBody: '{"username":"ann","password":"hunter2-secret'})
    const problem = expectProblemShape(res, 400, 'validation')
    expect(problem.detail).toBe('the request body is not valid JSON')
    expect(res.text).not.toContain('hunter2')
  })

  it('refuses prototype-poisoning bodies, spelled plainly or with escapes, and still parses ordinary ones', async () => {
    const bodies = [
      '{"username":"ann","password":"x","__proto__":{"admin":true}}',
      '{"username":"ann","password":"x","\\u005f_proto__":{"admin":true}}',
      '{"username":"ann","password":"x","constructor":{"prototype":{"admin":true}}}',
      '{"username":"ann","password":"x","\\u0063onstructor":{"prototype":{"admin":true}}}',
    ]
    for (const rawBody of bodies) {
      const res = await h.request('POST', '/v1/sessions', {rawBody})
      expect(expectProblemShape(res, 400, 'validation').detail, rawBody).toBe('the request body is not valid JSON')
    }
    // A value that merely mentions the words (or holds an escape) is an ordinary body: here, a wrong password.
    const ordinary = await h.request('POST', '/v1/sessions', {rawBody: '{"username":"ann","password":"__proto__ constructor \\u0041"}'})
    expect(expectProblemShape(ordinary, 401, 'invalid_credentials').status).toBe(401)
    // A byte-order mark before the JSON is accepted, as before.
    const bom = await h.request('POST', '/v1/sessions', {rawBody: `\uFEFF${JSON.stringify({username: 'ann', password: PASSWORD})}`})
    expect(bom.status).toBe(201)
  })

  it('rate-limits sign-in per client address across usernames', async () => {
    for (let i = 0; i < 50; i++) {
      const res = await h.request('POST', '/v1/sessions', {body: {username: `user${i}`, password: 'whatever1'}})
      expect(res.status).toBe(401)
    }
    const limited = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}})
    expectProblemShape(limited, 429, 'rate_limited')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // X-Forwarded-For is not trusted by default: spoofing does not change the bucket.
    const spoofed = await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}, headers: {'x-forwarded-for': '203.0.113.9'}})
    expect(spoofed.status).toBe(429)
  })

  it('writes audit events for sign-in success and failure without the attempted username of unknown users', async () => {
    await h.login('ann')
    await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 'bad password'}})
    await h.request('POST', '/v1/sessions', {body: {username: 'pasted-password-here', password: 'x'}})
    const {openDatabase} = await import('../../src/server/db/connection.js')
    const {repositories} = await import('../../src/server/repositories/index.js')
    const handle = await openDatabase(h.dbPath)
    try {
      const events = await repositories(handle.db).audit.list()
      const actions = events.map((e) => e.action)
      expect(actions).toContain('session.create')
      expect(actions.filter((a) => a === 'session.create.failed')).toHaveLength(2)
      expect(JSON.stringify(events)).not.toContain('pasted-password-here')
      const failed = events.filter((e) => e.action === 'session.create.failed').map((e) => e.details.reason)
      expect(failed).toEqual(['wrong_password', 'unknown_user'])
    } finally {
      await handle.close()
    }
  })
})

describe('password hashing at the default cost', () => {
  it('a user created with the default scrypt cost signs in; the stored hash is scrypt with a salt, never the password', async () => {
    const {startHarness: start} = await import('./helpers.js')
    const {addUser} = await import('../../src/server/services/users.js')
    const {DEFAULT_SCRYPT_COST} = await import('../../src/server/settings.js')
    const h = await start({settings: {scryptCost: DEFAULT_SCRYPT_COST}})
    try {
      await addUser({dbPath: h.dbPath, username: 'bob', password: PASSWORD, team: 'web', admin: false})
      await addUser({dbPath: h.dbPath, username: 'cy', password: PASSWORD, team: 'web', admin: false})
      expect((await h.request('POST', '/v1/sessions', {body: {username: 'bob', password: PASSWORD}})).status).toBe(201)
      const BetterSqlite3 = (await import('better-sqlite3')).default
      const raw = new BetterSqlite3(h.dbPath, {readonly: true})
      try {
        const hashes = (raw.prepare('select password_hash from users order by username').all() as Array<{password_hash: string}>).map((r) => r.password_hash)
        for (const hash of hashes) expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
        expect(hashes[0]).not.toBe(hashes[1]) // per-user salt
        expect(hashes.join()).not.toContain(PASSWORD)
      } finally {
        raw.close()
      }
    } finally {
      await h.cleanup()
    }
  })
})
