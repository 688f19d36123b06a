import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ApikeyError} from '../../../src/core/errors.js'
import {createApiClient, parseRetryAfter, type ApiClient} from '../../../src/lib/api/index.js'
import {META, rejection, sendJson, sendProblem, startServer, type TestServer} from './helpers.js'

const TOKEN = 'aks_problemtests0123456789'

/**
 * A transport-level fake: canned answers by path, to exercise the mapping of
 * RFC 9457 problem details and of answers that are not from an apikey service.
 */
describe('problem details (RFC 9457) → ApikeyError', () => {
  let server: TestServer
  let api: ApiClient
  let anon: ApiClient

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const slug = /^\/v1\/apps\/([^/]+)/.exec(req.url)?.[1]
      switch (slug ?? req.url) {
        case 'p400':
          return sendProblem(res, 400, {title: 'Invalid request', detail: 'slug: must be 3–32 characters', code: 'validation', errors: [{path: '/slug', message: 'too short'}]})
        case 'p401':
          return sendProblem(res, 401, {title: 'Unauthenticated', detail: 'The session has expired.', code: 'unauthenticated'})
        case 'p401s':
          return sendProblem(res, 401, {title: 'Unauthenticated', detail: 'Token revoked.', code: 'unauthenticated', suggestions: ['apikey login --server https://elsewhere']})
        case 'p403':
          return sendProblem(res, 403, {title: 'Forbidden', detail: 'You are not a member of team "core".', code: 'forbidden', team: 'core', members: ['bob']})
        case 'p404':
          return sendProblem(res, 404, {title: 'Not found', detail: 'No app "nope".', code: 'not_found'})
        case 'p404u':
          return sendProblem(res, 404, {title: 'Not found', code: 'some_future_code'})
        case 'p409':
          return sendProblem(res, 409, {title: 'Conflict', detail: 'App "weather-app" exists.', code: 'conflict', existing: 'weather-app'})
        case 'p429':
          return sendProblem(res, 429, {title: 'Too many requests', detail: 'Rate limit of 10/min exceeded.', code: 'rate_limited'}, {'retry-after': '42'})
        case 'p500':
          return sendProblem(res, 500, {title: 'Internal error', code: 'internal', instance: '/errors/abc'})
        case 'html':
          res.writeHead(200, {'content-type': 'text/html'}).end('<html><body>Welcome to nginx!</body></html>')
          return
        case 'html502':
          res.writeHead(502, {'content-type': 'text/html'}).end('<html>Bad gateway</html>')
          return
        case 'json404':
          return sendJson(res, 404, {message: 'Cannot GET /x'})
        case 'badjson':
          res.writeHead(200, {'content-type': 'application/json'}).end('{"apps": [')
          return
        case 'wrongshape':
          return sendJson(res, 200, {hello: 'world'})
        case 'redirect':
          res.writeHead(301, {location: 'https://keys.example/v1/apps/redirect'}).end()
          return
        case '/v1/meta':
          return sendJson(res, 200, {...META, service: 'something-else'})
        case '/v1/sessions':
          return sendProblem(res, 401, {title: 'Invalid credentials', detail: 'Wrong user name or password.', code: 'invalid_credentials'})
        case '/v1/keys/whoami':
          return sendProblem(res, 401, {title: 'Unknown key', detail: 'No such key.', code: 'key_not_found'})
        default:
          return sendJson(res, 500, {})
      }
    })
    api = createApiClient({baseUrl: server.url, token: TOKEN, env: {}, retry: {backoffMs: 1}})
    anon = createApiClient({baseUrl: server.url, env: {}, retry: {backoffMs: 1}})
  })
  afterAll(async () => {
    api.close()
    anon.close()
    await server.close()
  })

  const fail = (slug: string) => rejection(() => api.getApp(slug))

  it('400 → validation (exit 2), detail and extensions kept', async () => {
    const e = await fail('p400')
    expect(e).toBeInstanceOf(ApikeyError)
    expect(e).toMatchObject({code: 'validation', exitCode: 2, message: 'slug: must be 3–32 characters'})
    expect(e.details).toMatchObject({status: 400, detail: 'slug: must be 3–32 characters', extensions: {errors: [{path: '/slug', message: 'too short'}]}})
  })

  it('401 → the problem’s code, exit 4, login suggestion naming the server', async () => {
    const e = await fail('p401')
    expect(e).toMatchObject({code: 'unauthenticated', exitCode: 4, message: 'The session has expired.'})
    expect(e.suggestions).toEqual([`apikey login --server ${server.url}`])
  })

  it('401 with suggestions keeps the server’s suggestions', async () => {
    expect((await fail('p401s')).suggestions).toEqual(['apikey login --server https://elsewhere'])
  })

  it('401 on login → invalid_credentials, exit 4', async () => {
    const e = await rejection(() => anon.login({username: 'alice', password: 'wrong'}))
    expect(e).toMatchObject({code: 'invalid_credentials', exitCode: 4, message: 'Wrong user name or password.'})
  })

  it('401 on whoami keeps the key code and does not suggest login', async () => {
    const e = await rejection(() => anon.whoamiKey('ak_weather-app_dev_0123456789012345678901234567890abcde'))
    expect(e.code).toBe('key_not_found')
    expect(e.suggestions.join('\n')).not.toContain('apikey login')
  })

  it('403 → forbidden (exit 1), detail and extensions in details', async () => {
    const e = await fail('p403')
    expect(e).toMatchObject({code: 'forbidden', exitCode: 1, message: 'You are not a member of team "core".'})
    expect(e.details).toMatchObject({status: 403, extensions: {team: 'core', members: ['bob']}})
  })

  it('404 → not_found; an unknown problem code falls back to the status', async () => {
    expect(await fail('p404')).toMatchObject({code: 'not_found', exitCode: 1, message: 'No app "nope".'})
    expect(await fail('p404u')).toMatchObject({code: 'not_found', message: 'Not found'})
  })

  it('409 → conflict', async () => {
    const e = await fail('p409')
    expect(e).toMatchObject({code: 'conflict', exitCode: 1})
    expect(e.details['extensions']).toEqual({existing: 'weather-app'})
  })

  it('429 → rate_limited with Retry-After', async () => {
    const e = await fail('p429')
    expect(e).toMatchObject({code: 'rate_limited', exitCode: 1})
    expect(e.details['retryAfterSeconds']).toBe(42)
    expect(e.message).toContain('Retry after 42 s')
  })

  it('5xx → server_error naming the server', async () => {
    const e = await fail('p500')
    expect(e).toMatchObject({code: 'server_error', exitCode: 1})
    expect(e.message).toContain(server.url)
    expect(e.details).toMatchObject({status: 500, instance: '/errors/abc'})
  })

  for (const [slug, status] of [
    ['html', 200],
    ['html502', 502],
    ['json404', 404],
    ['badjson', 200],
    ['wrongshape', 200],
  ] as const) {
    it(`${slug}: an answer that is not from an apikey service says so and suggests checking --server`, async () => {
      const e = await fail(slug)
      expect(e.code).toBe('server_error')
      expect(e.details).toMatchObject({reason: 'not_apikey_service', status})
      expect(e.message).toContain('does not look like an apikey service')
      expect(e.suggestions.join('\n')).toContain('--server')
      expect(e.message).not.toContain('nginx')
    })
  }

  it('a redirect is not followed; the error names the target', async () => {
    const e = await fail('redirect')
    expect(e.details['reason']).toBe('not_apikey_service')
    expect(e.message).toContain('redirected (HTTP 301) to https://keys.example/v1/apps/redirect')
    expect(e.suggestions[0]).toBe('Use the final address as the server: --server https://keys.example')
  })

  it('meta() from a service that is not apikey is rejected', async () => {
    expect((await rejection(() => anon.meta())).details?.['reason']).toBe('not_apikey_service')
  })

  it('parseRetryAfter reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120')).toBe(120)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10)
    expect(parseRetryAfter('soon')).toBeUndefined()
  })
})
