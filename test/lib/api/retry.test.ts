import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {createApiClient} from '../../../src/lib/api/index.js'
import {META, rejection, sendJson, sendProblem, startServer, type TestServer} from './helpers.js'

const USER = {user: {id: 'u1', username: 'alice', isAdmin: false}, teams: [], sessionExpiresAt: 1}
const SESSION = {token: 'aks_0123456789abcdefghij', expiresAt: 1, user: USER.user, teams: []}

describe('retries: idempotent methods only, bounded by the deadline', () => {
  let server: TestServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('GET answered 503, 503, 200 succeeds after 3 attempts', async () => {
    let n = 0
    server = await startServer((_req, res) => (++n <= 2 ? sendProblem(res, 503, {title: 'Unavailable', code: 'server_error'}) : sendJson(res, 200, META)))
    const lines: string[] = []
    const api = createApiClient({baseUrl: server.url, env: {}, retry: {backoffMs: 10}, debug: (l) => lines.push(l)})
    await expect(api.meta()).resolves.toMatchObject({service: 'apikey'})
    api.close()
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(3).fill('GET /v1/meta'))
    expect(lines.filter((l) => l.includes('retry'))).toHaveLength(2)
  })

  it('GET on 502 and 504 is retried too; after the limit the last answer is mapped', async () => {
    server = await startServer((_req, res) => sendProblem(res, server!.requests.length % 2 ? 502 : 504, {title: 'Gateway', code: 'server_error'}))
    const api = createApiClient({baseUrl: server.url, token: SESSION.token, env: {}, retry: {backoffMs: 1, limit: 3}})
    const error = await rejection(() => api.me())
    api.close()
    expect(server.requests).toHaveLength(4)
    expect(error.code).toBe('server_error')
  })

  it('POST (login) on 503 is attempted exactly once', async () => {
    server = await startServer((_req, res) => sendProblem(res, 503, {title: 'Unavailable', detail: 'Maintenance', code: 'server_error'}))
    const api = createApiClient({baseUrl: server.url, env: {}, retry: {backoffMs: 1}})
    const error = await rejection(() => api.login({username: 'alice', password: 'correct horse'}))
    api.close()
    expect(server.requests).toHaveLength(1)
    expect(error.code).toBe('server_error')
  })

  it('no POST route is retried (create app, create key, whoami)', async () => {
    server = await startServer((_req, res) => sendProblem(res, 503, {title: 'Unavailable', code: 'server_error'}))
    const api = createApiClient({baseUrl: server.url, token: SESSION.token, env: {}, retry: {backoffMs: 1}})
    await rejection(() => api.createApp({slug: 'weather-app', name: 'Weather', team: 'core', contactEmail: 'a@example.com'}))
    await rejection(() => api.createKey('weather-app', {env: 'dev'}))
    await rejection(() => api.whoamiKey('ak_weather-app_dev_0123456789012345678901234567890abcde'))
    api.close()
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST'])
  })

  it('a connection reset is retried for GET, not for POST', async () => {
    // Destroy the socket as soon as a request arrives: no answer at all.
    let count = 0
    const raw = http.createServer((req) => {
      count++
      req.socket.destroy()
    })
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()))
    const port = (raw.address() as AddressInfo).port
    const api = createApiClient({baseUrl: `http://127.0.0.1:${port}`, token: SESSION.token, env: {}, retry: {backoffMs: 1}})
    const getError = await rejection(() => api.me())
    const afterGet = count
    const postError = await rejection(() => api.login({username: 'alice', password: 'pw'}))
    api.close()
    raw.closeAllConnections()
    await new Promise<void>((resolve) => raw.close(() => resolve()))
    expect(afterGet).toBe(3)
    expect(count - afterGet).toBe(1)
    expect(getError.code).toBe('network')
    expect(getError.details?.['phase']).toBe('http')
    expect(postError.code).toBe('network')
  })

  it('a backoff that does not fit in the deadline is not waited for', async () => {
    server = await startServer((_req, res) => sendProblem(res, 503, {title: 'Unavailable', code: 'server_error'}))
    const api = createApiClient({baseUrl: server.url, env: {}, timeoutMs: 300, retry: {backoffMs: 1000}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(server.requests).toHaveLength(1)
    expect(error.code).toBe('server_error')
  })
})
