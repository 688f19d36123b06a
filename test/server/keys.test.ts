import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parseKey} from '../../src/core/key-format.js'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

describe('keys', () => {
  let h: Harness
  let ann: string // mobile, owns weather-app
  let bob: string // web
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('bob', 'web')
    ann = await h.login('ann')
    bob = await h.login('bob')
    expect((await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')).status).toBe(201)
  })
  afterEach(async () => h.cleanup())

  it('issues a key: 201, plaintext once, valid format, default expiry per env, no-store', async () => {
    const res = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'dev', name: 'laptop', metadata: {hostname: 'ann-mbp'}}})
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = res.body
    expect(body.key).toMatch(/^ak_weather-app_dev_[0-9A-Za-z]{36}$/)
    const parsed = parseKey(body.key, 'ak')
    expect(parsed.valid).toBe(true)
    expect(body).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Za-z]{20}$/),
      app: 'weather-app',
      env: 'dev',
      kind: 'dev',
      name: 'laptop',
      start: parsed.start,
      createdBy: 'ann',
      createdAt: T0,
      expiresAt: T0 + 90 * DAY_MS,
      revokedAt: null,
      revokedBy: null,
      lastUsedAt: null,
      status: 'active',
      metadata: {hostname: 'ann-mbp'},
      rotation: null,
      key: body.key,
    })
  })

  it.each([
    ['dev', 90],
    ['test', 30],
    ['stage', 90],
    ['prod', 365],
    ['ci', 7],
  ])('default expiry for %s is %i days', async (env, days) => {
    const key = await h.issueKey(ann, 'weather-app', {env})
    expect(key.expiresAt).toBe(T0 + days * DAY_MS)
    expect(key.kind).toBe(env === 'ci' ? 'ci' : 'dev')
  })

  it('takes an explicit expiresAt (ms) and rejects past, seconds-looking and too-distant values', async () => {
    const at = T0 + 10 * DAY_MS
    expect((await h.issueKey(ann, 'weather-app', {env: 'prod', expiresAt: at})).expiresAt).toBe(at)
    const past = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'prod', expiresAt: T0}})
    expect(expectProblemShape(past, 400, 'validation').field).toBe('expiresAt')
    const seconds = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'prod', expiresAt: Math.floor(at / 1000)}})
    expect(expectProblemShape(seconds, 400, 'validation').detail).toMatch(/looks like seconds/)
    const far = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'prod', expiresAt: T0 + 731 * DAY_MS}})
    expect(expectProblemShape(far, 400, 'validation').detail).toMatch(/730 days/)
    const fractional = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'prod', expiresAt: at + 0.5}})
    expect(expectProblemShape(fractional, 400, 'validation').field).toBe('expiresAt')
  })

  it('rejects an unknown env, kind or metadata field with a validation problem', async () => {
    const env = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'production'}})
    expect(expectProblemShape(env, 400, 'validation').field).toBe('env')
    const kind = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'dev', kind: 'root'}})
    expect(expectProblemShape(kind, 400, 'validation').field).toBe('kind')
    const meta = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'dev', metadata: {secret: 'x'}}})
    expect(expectProblemShape(meta, 400, 'validation').field).toBe('metadata.secret')
  })

  it('lists keys newest first, without any plaintext', async () => {
    const first = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    h.clock.advance(1000)
    const second = await h.issueKey(ann, 'weather-app', {env: 'ci', metadata: {commit: 'abc123', build: '42', ciProvider: 'github'}})
    const res = await h.request('GET', '/v1/apps/weather-app/keys', {token: ann})
    expect(res.status).toBe(200)
    expect(res.body.keys.map((k: {id: string}) => k.id)).toEqual([second.id, first.id])
    expect(res.text).not.toContain(first.key)
    expect(res.text).not.toContain(second.key)
    expect(res.body.keys[0].metadata).toEqual({commit: 'abc123', build: '42', ciProvider: 'github'})
    for (const key of res.body.keys) expect(key).not.toHaveProperty('key')
  })

  it("403 for another team's user, naming the owning team and contact and suggesting their own app", async () => {
    for (const [method, body] of [['GET', undefined], ['POST', {env: 'dev'}]] as const) {
      const res = await h.request(method, '/v1/apps/weather-app/keys', {token: bob, ...(body === undefined ? {} : {body})})
      const problem = expectProblemShape(res, 403, 'forbidden')
      expect(problem.detail).toContain('Team mobile (mobile)')
      expect(problem.detail).toContain('weather@example.com')
      expect(problem.owningTeam).toBe('mobile')
      expect(problem.contactEmail).toBe('weather@example.com')
      expect(problem.suggestions).toEqual(['apikey init --app <another-slug>'])
    }
  })

  it('404 for an unknown app', async () => {
    expectProblemShape(await h.request('GET', '/v1/apps/nope-app/keys', {token: ann}), 404, 'not_found')
    expectProblemShape(await h.request('POST', '/v1/apps/nope-app/keys', {token: ann, body: {env: 'dev'}}), 404, 'not_found')
  })

  it('stores only the HMAC and display start: the key is nowhere in the database files', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'prod'})
    const raw = new BetterSqlite3(h.dbPath, {readonly: true})
    try {
      const row = raw.prepare('select hash, start from api_keys where id = ?').get(issued.id) as {hash: string; start: string}
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/)
      expect(row.start).toBe(issued.start)
    } finally {
      raw.close()
    }
    const secret = issued.key.split('_')[3] as string
    for (const name of await readdir(h.dir)) {
      const bytes = await readFile(join(h.dir, name))
      expect(bytes.includes(Buffer.from(secret)), `${name} holds the key`).toBe(false)
    }
  })

  it('writes a key.create audit event without the key', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    const raw = new BetterSqlite3(h.dbPath, {readonly: true})
    try {
      const rows = raw.prepare("select * from audit_events where action = 'key.create'").all() as Array<{target_id: string; details: string}>
      expect(rows).toHaveLength(1)
      expect(rows[0]?.target_id).toBe(issued.id)
      expect(rows[0]?.details).not.toContain(issued.key)
    } finally {
      raw.close()
    }
  })
})

describe('POST /v1/keys/whoami', () => {
  let h: Harness
  let ann: string
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')
  })
  afterEach(async () => h.cleanup())

  it('answers the app and key view, authenticated by the key alone', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'stage'})
    const res = await h.request('POST', '/v1/keys/whoami', {token: issued.key})
    expect(res.status).toBe(200)
    const {key: _plaintext, ...view} = issued
    expect(res.body).toEqual({
      app: expect.objectContaining({slug: 'weather-app', contactEmail: 'weather@example.com', team: {slug: 'mobile', name: 'Team mobile', contactEmail: 'mobile-lead@example.com'}}),
      key: view,
    })
    expect(res.text).not.toContain(issued.key)
  })

  it('answers expired keys with status expired (injected clock)', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'ci'})
    h.clock.advance(7 * DAY_MS)
    const res = await h.request('POST', '/v1/keys/whoami', {token: issued.key})
    expect(res.status).toBe(200)
    expect(res.body.key.status).toBe('expired')
  })

  it('answers revoked keys with status revoked', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    // Revocation routes are a later issue: revoke in the database as they will.
    const raw = new BetterSqlite3(h.dbPath)
    try {
      raw.prepare('update api_keys set revoked_at = ?, revoked_by = created_by where id = ?').run(h.clock.now(), issued.id)
    } finally {
      raw.close()
    }
    const res = await h.request('POST', '/v1/keys/whoami', {token: issued.key})
    expect(res.status).toBe(200)
    expect(res.body.key.status).toBe('revoked')
    expect(res.body.key.revokedBy).toBe('ann')
  })

  it('404 key_not_found for a well-formed key it did not issue', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    // Same app and env, fresh secret with a valid checksum.
    const {generateKey} = await import('../../src/core/key-format.js')
    const stranger = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
    const res = await h.request('POST', '/v1/keys/whoami', {token: stranger})
    const problem = expectProblemShape(res, 404, 'key_not_found')
    expect(res.text).not.toContain(stranger)
    expect(problem.start).toMatch(/^ak_weather-app_dev_.{4}…$/)
    expect(issued.key).not.toBe(stranger)
  })

  it('400 malformed_key for a failed checksum, without any database lookup', async () => {
    const issued = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    const last = issued.key.at(-1) === 'A' ? 'B' : 'A'
    const edited = issued.key.slice(0, -1) + last
    // Make any lookup fail loudly: drop the table the lookup reads.
    const raw = new BetterSqlite3(h.dbPath)
    try {
      raw.pragma('foreign_keys = OFF')
      raw.exec('drop table api_keys')
    } finally {
      raw.close()
    }
    const res = await h.request('POST', '/v1/keys/whoami', {token: edited})
    const problem = expectProblemShape(res, 400, 'malformed_key')
    expect(problem.problems).toEqual([{part: 'checksum', message: expect.any(String)}])
    expect(res.text).not.toContain(edited)
    // Control: a well-formed key does reach the (now missing) table.
    expect((await h.request('POST', '/v1/keys/whoami', {token: issued.key})).status).toBe(500)
  })

  it('400 malformed_key for other shapes and another prefix; 401 without a key', async () => {
    expectProblemShape(await h.request('POST', '/v1/keys/whoami', {token: 'nonsense'}), 400, 'malformed_key')
    const {generateKey} = await import('../../src/core/key-format.js')
    const foreign = generateKey({prefix: 'zz', app: 'weather-app', env: 'dev'})
    expect(expectProblemShape(await h.request('POST', '/v1/keys/whoami', {token: foreign}), 400, 'malformed_key').problems[0].part).toBe('prefix')
    expectProblemShape(await h.request('POST', '/v1/keys/whoami'), 401, 'unauthenticated')
  })
})
