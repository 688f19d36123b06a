import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {generateKey, randomBase62} from '../../../src/core/key-format.js'
import {createApiClient, maskSecret, redactAuthorization, redactJson, redactUrl, scrubText} from '../../../src/lib/api/index.js'
import {META, rejection, sendJson, sendProblem, startServer, type TestServer} from './helpers.js'

const TOKEN = 'aks_sessionTOKEN0123456789abcdefWXYZ'
const NEW_TOKEN = 'aks_freshTOKENfromLOGIN0123456789LMNO'
const PASSWORD = 'correct horse battery staple'
const KEY = 'ak_weather-app_dev_4fT9qZ8kLm2Np7Rs5Tv1Wx3Yz6Ab9Cd012ab'
const ISSUED = 'ak_weather-app_dev_ZZZZqZ8kLm2Np7Rs5Tv1Wx3Yz6Ab9Cd09xyz'

const USER = {id: 'u1', username: 'alice', isAdmin: false}
const KEY_VIEW = {id: 'key_1', app: 'weather-app', env: 'dev', kind: 'dev', name: null, start: 'ak_weather-app_dev_4fT9…', createdBy: 'alice', createdAt: 1, expiresAt: null, revokedAt: null, revokedBy: null, lastUsedAt: null, status: 'active', metadata: {}}
const APP = {slug: 'weather-app', name: 'Weather', team: {slug: 'core', name: 'Core', contactEmail: null}, contactEmail: 'a@example.com', description: null, createdBy: 'alice', createdAt: 1}

describe('secrets never reach debug output or errors', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startServer((req, res) => {
      if (req.url === '/v1/sessions') return sendJson(res, 201, {token: NEW_TOKEN, expiresAt: 1, user: USER, teams: []}) // echoes nothing else
      if (req.url === '/v1/me') return sendJson(res, 200, {user: USER, teams: [], sessionExpiresAt: 1})
      if (req.url === '/v1/apps/weather-app/keys' && req.method === 'POST') return sendJson(res, 201, {...KEY_VIEW, key: ISSUED})
      if (req.url === '/v1/keys/whoami') return sendJson(res, 200, {app: APP, key: KEY_VIEW})
      // A misbehaving server that echoes the credential into its problem.
      if (req.url === '/v1/apps/leaky') return sendProblem(res, 403, {title: 'Forbidden', detail: `Token ${req.headers.authorization ?? ''} may not see this`, code: 'forbidden', auth: req.headers.authorization})
      return sendJson(res, 200, META)
    })
  })
  afterAll(() => server.close())

  it('login, me, createKey, whoami: no password, token or key in the debug lines; one line per call', async () => {
    const lines: string[] = []
    const api = createApiClient({baseUrl: server.url, token: TOKEN, env: {}, debug: (l) => lines.push(l)})
    const session = await api.login({username: 'alice', password: PASSWORD})
    expect(session.token).toBe(NEW_TOKEN)
    await api.withToken(session.token).me()
    await api.me()
    const issued = await api.createKey('weather-app', {env: 'dev'})
    expect(issued.key).toBe(ISSUED)
    await api.whoamiKey(KEY)
    api.close()

    const all = lines.join('\n')
    for (const secret of [TOKEN, NEW_TOKEN, PASSWORD, KEY, ISSUED, 'correct horse']) expect(all).not.toContain(secret)
    // No character of a secret: a key keeps its public parts, a token its kind prefix.
    expect(all).toContain('authorization: Bearer aks_***')
    expect(all).toContain('"password":"***"')
    expect(all).toContain('"token":"aks_***"')
    expect(all).toContain('"key":"ak_weather-app_dev_***"')
    for (const tail of ['WXYZ', 'LMNO', '9xyz', '12ab']) expect(all).not.toContain(tail)
    expect(all).toMatch(/HTTP <- 201 POST http:\/\/127\.0\.0\.1:\d+\/v1\/sessions in \d+ ms/)
    for (const line of lines) expect(line).not.toMatch(/[\r\n]/)
    // The request really carried the credentials.
    expect(server.requests.find((r) => r.url === '/v1/keys/whoami')?.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(server.requests.find((r) => r.url === '/v1/sessions')?.body).toContain(PASSWORD)
  })

  it('a very short key shows no hint at all', async () => {
    const lines: string[] = []
    const api = createApiClient({baseUrl: server.url, env: {}, debug: (l) => lines.push(l)})
    await api.whoamiKey('ab12')
    api.close()
    expect(lines.join('\n')).toContain('authorization: Bearer ***')
    expect(lines.join('\n')).not.toContain('ab12')
  })

  it('a key with a line break is refused before sending, and not echoed', async () => {
    const before = server.requests.length
    const lines: string[] = []
    const api = createApiClient({baseUrl: server.url, env: {}, debug: (l) => lines.push(l)})
    const error = await rejection(() => api.whoamiKey(`${KEY}\n`))
    api.close()
    expect(error.code).toBe('malformed_key')
    expect(error.message).toContain('line breaks')
    expect(JSON.stringify(error)).not.toContain(KEY)
    expect(server.requests.length).toBe(before)
    expect(lines).toEqual([])
  })

  it('a token with a trailing newline is refused before sending (exit 4)', async () => {
    const api = createApiClient({baseUrl: server.url, token: `${TOKEN}\n`, env: {}})
    const error = await rejection(() => api.me())
    api.close()
    expect(error).toMatchObject({code: 'unauthenticated', exitCode: 4})
    expect(error.message).not.toContain(TOKEN)
  })

  it('a server echoing the token into a problem does not leak it into the error', async () => {
    const api = createApiClient({baseUrl: server.url, token: TOKEN, env: {}})
    const error = await rejection(() => api.getApp('leaky'))
    api.close()
    expect(error.code).toBe('forbidden')
    const json = JSON.stringify((error as unknown as {toJSON(): unknown}).toJSON())
    expect(json).not.toContain(TOKEN)
    expect(error.message).toContain('Bearer aks_***')
    expect(error.message).not.toContain('WXYZ')
  })

  it('helpers: mask, scrub, redact JSON', () => {
    expect(maskSecret(KEY)).toBe('ak_weather-app_dev_***')
    expect(maskSecret('short')).toBe('***')
    expect(maskSecret('correct horse battery staple')).toBe('***')
    expect(maskSecret(`${KEY} and more`)).toBe('***')
    expect(redactAuthorization(`Bearer ${TOKEN}`)).toBe('Bearer aks_***')
    expect(redactAuthorization('Bearer opaque-credential-1234')).toBe('Bearer ***')
    expect(scrubText(`key=${KEY} token=${TOKEN}`)).toBe('key=ak_weather-app_dev_*** token=aks_***')
    expect(scrubText('pw is hunter2hunter2', ['hunter2hunter2'])).toBe('pw is ***')
    expect(redactJson({username: 'alice', password: 'x', nested: {clientSecret: 'abc', keyPrefix: 'ak', key: {id: 'key_1'}}})).toEqual({
      username: 'alice',
      password: '***',
      nested: {clientSecret: '***', keyPrefix: 'ak', key: {id: 'key_1'}},
    })
  })

  it('every secret shape in a URL path, a query string, userinfo, a JSON body and a debug trace: no character of it shown', async () => {
    const shapes = [generateKey({prefix: 'ak', app: 'weather-app', env: 'prod'}), `aks_${randomBase62(40)}`, `akp_${randomBase62(40)}`, `akv_${randomBase62(40)}`]
    for (const secret of shapes) {
      const random = secret.slice(secret.lastIndexOf('_') + 1)
      const texts = [
        redactUrl(`https://keys.example.com/v1/keys/${secret}`),
        redactUrl(`https://keys.example.com/v1/keys/${encodeURIComponent(secret)}?note=${secret}&app=x`),
        redactUrl(`https://keys.example.com/v1/audit?app=${secret}`),
        redactUrl(`https://${secret}@proxy.example.com/`),
        redactUrl(`https://user:${secret}@proxy.example.com/`),
        JSON.stringify(redactJson({name: secret, nested: [{description: `copy of ${secret}`}], metadata: {branch: secret}})),
        scrubText(`Bearer ${secret}`),
        scrubText(`error: ${secret} was refused`),
      ]
      for (const text of texts) {
        expect(text).not.toContain(random.slice(0, 4))
        expect(text).not.toContain(random.slice(-4))
      }
    }
    // Through the client's own trace: a secret in a JSON body field that is not named like a secret.
    const lines: string[] = []
    const api = createApiClient({baseUrl: server.url, token: TOKEN, env: {}, debug: (l) => lines.push(l)})
    await api.createKey('weather-app', {env: 'dev', name: shapes[0]!})
    api.close()
    const all = lines.join('\n')
    expect(all).toContain('HTTP -> body')
    expect(all).toContain('ak_weather-app_prod_***')
    for (const secret of [...shapes, TOKEN, ISSUED]) expect(all).not.toContain(secret.slice(-8))
  })
})
