/**
 * The API client against the real key service (startServer on 127.0.0.1:0,
 * a real SQLite file in a temp dir): every client method, the error mapping of
 * real problem details, and the whole flow once through a forward proxy.
 */
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseKey} from '../../../src/core/key-format.js'
import {createApiClient, type ApiClient} from '../../../src/lib/api/index.js'
import {startServer, type RunningServer} from '../../../src/server/main.js'
import {addUser} from '../../../src/server/services/users.js'
import {openDatabase} from '../../../src/server/db/connection.js'
import {rejection, startProxy, tempDir, type TestProxy} from './helpers.js'

const PASSWORD = 'correct horse battery staple'
const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}

describe('API client ↔ real key service', () => {
  let dir: ReturnType<typeof tempDir>
  let server: RunningServer
  let proxy: TestProxy
  const serverLogs: string[] = []
  const debug: string[] = []
  const secrets: string[] = [PASSWORD]
  let anon: ApiClient
  let api: ApiClient

  beforeAll(async () => {
    dir = tempDir('apikey-client-service-')
    const dbPath = join(dir.path, 'apikey.db')
    // The admin operations work on an existing database (as server start leaves it).
    await (await openDatabase(dbPath)).close()
    await addUser({dbPath, username: 'alice', password: PASSWORD, team: 'weather', teamContactEmail: 'weather@example.com', admin: false, scryptCost: CHEAP_SCRYPT})
    await addUser({dbPath, username: 'bob', password: PASSWORD, team: 'billing', admin: false, scryptCost: CHEAP_SCRYPT})
    server = await startServer({
      port: 0,
      dbPath,
      env: {},
      pepper: 'test-pepper-0123456789-0123456789-0123456789',
      logLevel: 'info',
      logStream: new Writable({
        write(chunk: Buffer, _enc, done) {
          serverLogs.push(chunk.toString())
          done()
        },
      }),
      settings: {scryptCost: CHEAP_SCRYPT},
    })
    proxy = await startProxy()
    anon = createApiClient({baseUrl: server.url, env: {}, debug: (l) => debug.push(l)})
  })

  afterAll(async () => {
    anon?.close()
    await server?.close()
    await proxy?.close()
    dir?.remove()
  })

  it('meta(): the service describes itself', async () => {
    const meta = await anon.meta()
    expect(meta).toMatchObject({service: 'apikey', keyPrefix: 'ak'})
    expect(meta.authModes).toContain('password')
  })

  it('login() with a wrong password → invalid_credentials, exit 4', async () => {
    const error = await rejection(() => anon.login({username: 'alice', password: 'not the password'}))
    expect(error).toMatchObject({code: 'invalid_credentials', exitCode: 4})
  })

  it('session routes without a token → not_signed_in before any request', async () => {
    expect(await rejection(() => anon.me())).toMatchObject({code: 'not_signed_in', exitCode: 4})
  })

  it('login() → token; me() shows the user and their team', async () => {
    const session = await anon.login({username: 'alice', password: PASSWORD})
    secrets.push(session.token)
    expect(session.user.username).toBe('alice')
    api = anon.withToken(session.token)
    const me = await api.me()
    expect(me.user.username).toBe('alice')
    expect(me.teams.map((t) => t.slug)).toEqual(['weather'])
    expect(me.sessionExpiresAt).toBeGreaterThan(Date.now())
  })

  it('createApp(), listApps(), getApp()', async () => {
    const created = await api.createApp({slug: 'weather-app', name: 'Weather', team: 'weather', contactEmail: 'ann@example.com', description: 'forecasts'})
    expect(created).toMatchObject({slug: 'weather-app', team: {slug: 'weather'}, contactEmail: 'ann@example.com'})
    expect((await api.listApps()).apps.map((a) => a.slug)).toEqual(['weather-app'])
    expect(await api.getApp('weather-app')).toMatchObject({slug: 'weather-app', name: 'Weather'})
  })

  it('real problem details map to our codes: conflict, not_found, validation, forbidden', async () => {
    expect(await rejection(() => api.createApp({slug: 'weather-app', name: 'Again', team: 'weather', contactEmail: 'ann@example.com'}))).toMatchObject({code: 'conflict', exitCode: 1})
    expect(await rejection(() => api.getApp('no-such-app'))).toMatchObject({code: 'not_found', exitCode: 1})
    const invalid = await rejection(() => api.createApp({slug: 'X', name: 'Bad', team: 'weather', contactEmail: 'ann@example.com'}))
    expect(invalid).toMatchObject({code: 'validation', exitCode: 2})
    const forbidden = await rejection(() => api.createApp({slug: 'billing-app', name: 'Billing', team: 'billing', contactEmail: 'ann@example.com'}))
    expect(forbidden.exitCode).toBe(1)
    expect(['forbidden', 'not_found']).toContain(forbidden.code)
  })

  it('createKey(), listKeys(), whoamiKey()', async () => {
    const issued = await api.createKey('weather-app', {env: 'dev', name: 'laptop', metadata: {hostname: 'ann-laptop'}})
    secrets.push(issued.key)
    expect(parseKey(issued.key)).toMatchObject({app: 'weather-app', env: 'dev'})
    const {keys} = await api.listKeys('weather-app')
    expect(keys.map((k) => k.id)).toContain(issued.id)
    expect(JSON.stringify(keys)).not.toContain(issued.key)
    const who = await anon.whoamiKey(issued.key)
    expect(who.app.slug).toBe('weather-app')
    expect(who.key).toMatchObject({id: issued.id, env: 'dev', status: 'active'})
  })

  it('whoamiKey() with an unknown (well-formed) key fails with a key code, not a login hint', async () => {
    const issued = (await api.listKeys('weather-app')).keys[0]
    expect(issued).toBeDefined()
    const fake = 'ak_weather-app_dev_000000000000000000000000000000' + '000000'
    const error = await rejection(() => anon.whoamiKey(fake))
    expect(error.exitCode).not.toBe(0)
    expect(error.suggestions.join('\n')).not.toContain('apikey login')
    expect(JSON.stringify(error.toJSON())).not.toContain(fake)
  })

  it('everything again through a forward proxy (HTTPS_PROXY/HTTP_PROXY honoured)', async () => {
    const before = proxy.forwarded.length
    const viaProxy = createApiClient({baseUrl: server.url, env: {http_proxy: proxy.url}, debug: (l) => debug.push(l)})
    const session = await viaProxy.login({username: 'alice', password: PASSWORD})
    secrets.push(session.token)
    const authed = viaProxy.withToken(session.token)
    await authed.me()
    await authed.listApps()
    await authed.logout()
    viaProxy.close()
    expect(proxy.forwarded.slice(before).map((l) => l.replace(server.url, ''))).toEqual(['POST /v1/sessions', 'GET /v1/me', 'GET /v1/apps', 'DELETE /v1/sessions/current'])
  })

  it('logout() ends the session: the token is then rejected with exit 4 and a login hint', async () => {
    await api.logout()
    const error = await rejection(() => api.me())
    expect(error).toMatchObject({code: 'unauthenticated', exitCode: 4})
    expect(error.suggestions.join('\n')).toContain('apikey login')
  })

  it('no password, token or key in the client’s debug output (nor in the service’s logs)', () => {
    expect(debug.length).toBeGreaterThan(10)
    const clientOut = debug.join('\n')
    const serverOut = serverLogs.join('')
    for (const secret of secrets) {
      expect(clientOut).not.toContain(secret)
      expect(serverOut).not.toContain(secret)
    }
  })
})
