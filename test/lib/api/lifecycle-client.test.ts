/**
 * The API client's lifecycle methods against the real key service:
 * getKey, rotateKey, revokeKey, transferApp, listAudit (query string),
 * createToken / listTokens / revokeToken, a provisioning token as the bearer
 * of createKey — and no new secret (rotated key, token) in debug output.
 */
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createApiClient, type ApiClient} from '../../../src/lib/api/index.js'
import {startServer, type RunningServer} from '../../../src/server/main.js'
import {addUser} from '../../../src/server/services/users.js'
import {openDatabase} from '../../../src/server/db/connection.js'
import {rejection, tempDir} from './helpers.js'

const PASSWORD = 'correct horse battery staple'
const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}

describe('API client lifecycle methods ↔ real key service', () => {
  let dir: ReturnType<typeof tempDir>
  let server: RunningServer
  const debug: string[] = []
  const secrets: string[] = [PASSWORD]
  let api: ApiClient
  let bobApi: ApiClient

  beforeAll(async () => {
    dir = tempDir('apikey-client-lifecycle-')
    const dbPath = join(dir.path, 'apikey.db')
    // The admin operations work on an existing database (as server start leaves it).
    await (await openDatabase(dbPath)).close()
    await addUser({dbPath, username: 'alice', password: PASSWORD, team: 'weather', teamContactEmail: 'weather@example.com', admin: false, scryptCost: CHEAP_SCRYPT})
    await addUser({dbPath, username: 'alice', password: PASSWORD, team: 'maps', admin: false, scryptCost: CHEAP_SCRYPT})
    await addUser({dbPath, username: 'bob', password: PASSWORD, team: 'billing', admin: false, scryptCost: CHEAP_SCRYPT})
    server = await startServer({
      port: 0,
      dbPath,
      env: {},
      pepper: 'test-pepper-0123456789-0123456789-0123456789',
      logLevel: 'info',
      logStream: new Writable({write: (_c, _e, done) => done()}),
      settings: {scryptCost: CHEAP_SCRYPT},
    })
    const anon = createApiClient({baseUrl: server.url, env: {}, debug: (l) => debug.push(l)})
    const session = await anon.login({username: 'alice', password: PASSWORD})
    secrets.push(session.token)
    api = anon.withToken(session.token)
    const bob = await anon.login({username: 'bob', password: PASSWORD})
    secrets.push(bob.token)
    bobApi = anon.withToken(bob.token)
    await api.createApp({slug: 'weather-app', name: 'Weather', team: 'weather', contactEmail: 'ann@example.com'})
  })

  afterAll(async () => {
    api?.close()
    await server?.close()
    dir?.remove()
  })

  it('getKey, rotateKey (grace), revokeKey twice; another team gets forbidden naming the owner; unknown id → not found', async () => {
    const issued = await api.createKey('weather-app', {env: 'dev'})
    secrets.push(issued.key)
    const got = await api.getKey(issued.id)
    expect(got).toMatchObject({app: {slug: 'weather-app'}, key: {id: issued.id, status: 'active', rotation: null}})

    const rotated = await api.rotateKey(issued.id, {graceMs: 3_600_000})
    secrets.push(rotated.newKey.key)
    expect(rotated.oldKey.rotation.graceEndsAt - rotated.oldKey.rotation.rotatedAt).toBe(3_600_000)
    expect(rotated.newKey.key).toMatch(/^ak_weather-app_dev_/)
    expect((await api.getKey(issued.id)).key.rotation?.replacedBy).toBe(rotated.newKey.id)

    const forbidden = await rejection(() => bobApi.rotateKey(rotated.newKey.id, {graceMs: 0}))
    expect(forbidden).toMatchObject({code: 'forbidden', exitCode: 1})
    expect(forbidden.message).toContain('weather')
    expect(await rejection(() => api.getKey('key_00000000000000000000'))).toMatchObject({exitCode: 1})

    const first = await api.revokeKey(issued.id)
    expect(first).toMatchObject({alreadyRevoked: false, key: {status: 'revoked', revokedBy: 'alice'}})
    const second = await api.revokeKey(issued.id)
    expect(second.alreadyRevoked).toBe(true)
    expect(second.key.revokedAt).toBe(first.key.revokedAt)
  })

  it('transferApp moves ownership; listAudit passes app, since and limit in the query', async () => {
    await api.createApp({slug: 'moving-app', name: 'Moving', team: 'weather', contactEmail: 'ann@example.com'})
    const moved = await api.transferApp('moving-app', {team: 'maps', contactEmail: 'maps@example.com'})
    expect(moved).toMatchObject({slug: 'moving-app', team: {slug: 'maps'}, contactEmail: 'maps@example.com'})

    const all = await api.listAudit({app: 'moving-app'})
    expect(all.events.map((e) => e.action)).toEqual(expect.arrayContaining(['app.create', 'app.transfer']))
    expect(all.events.every((e) => e.target === 'app:moving-app' || JSON.stringify(e).includes('moving-app'))).toBe(true)
    expect((await api.listAudit({app: 'moving-app', limit: 1})).events).toHaveLength(1)
    expect((await api.listAudit({app: 'moving-app', since: Date.now() + 60_000})).events).toEqual([])
    expect(debug.some((l) => /GET \S+\/v1\/audit\?app=moving-app&limit=1 /.test(l))).toBe(true)
  })

  it('tokens: create (secret once), list, a provisioning token issues a ci key for its app only, revoke twice', async () => {
    const created = await api.createToken({app: 'weather-app', scope: 'ci', name: 'gha'})
    secrets.push(created.token)
    expect(created.token.startsWith('akp_')).toBe(true)
    const listed = await api.listTokens('weather-app')
    expect(listed.tokens.map((t) => t.id)).toContain(created.id)
    expect(JSON.stringify(listed)).not.toContain(created.token)

    const ci = api.withToken(created.token)
    const key = await ci.createKey('weather-app', {env: 'ci', kind: 'ci', metadata: {commit: 'abc', build: '1'}})
    secrets.push(key.key)
    expect(key).toMatchObject({env: 'ci', kind: 'ci', metadata: {commit: 'abc', build: '1'}})
    expect(await rejection(() => ci.createKey('moving-app', {env: 'ci'}))).toMatchObject({code: 'forbidden'})

    expect((await api.revokeToken(created.id)).alreadyRevoked).toBe(false)
    expect((await api.revokeToken(created.id)).alreadyRevoked).toBe(true)
    expect(await rejection(() => ci.createKey('weather-app', {env: 'ci'}))).toMatchObject({exitCode: 4})
  })

  it('no secret (password, session, issued or rotated key, provisioning token) in any debug line', () => {
    expect(debug.length).toBeGreaterThan(10)
    const all = debug.join('\n')
    for (const secret of secrets) expect(all).not.toContain(secret)
  })
})
