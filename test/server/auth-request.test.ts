/**
 * GET /v1/verify/auth-request (the nginx auth_request form), in process: only
 * 204, 401 or 403 ever, the key from X-API-Key or Authorization: Bearer
 * with deterministic rules for absent, empty, repeated and conflicting keys and
 * keys in URLs, and the verifier token in X-Verifier-Token.
 */
import {request as httpRequest, type IncomingHttpHeaders} from 'node:http'
import BetterSqlite3 from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {routeTemplateOf} from '../../src/server/services/verify.js'
import {startHarness, type Harness} from './helpers.js'

/** A raw request so headers can repeat (fetch joins them). */
function get(h: Harness, headers: Record<string, string | string[]>, path = '/v1/verify/auth-request'): Promise<{status: number; headers: IncomingHttpHeaders; text: string}> {
  const url = new URL(h.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: url.hostname, port: url.port, path, method: 'GET', headers, agent: false}, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString()))
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, text}))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('GET /v1/verify/auth-request', () => {
  let h: Harness
  let verifier: string
  let k1: {id: string; key: string}
  let k2: {id: string; key: string}
  beforeAll(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    k1 = await h.issueKey(ann, 'weather-app', {env: 'prod'})
    k2 = await h.issueKey(ann, 'weather-app')
    verifier = await h.addVerifier('nginx')
  })
  afterAll(async () => h.cleanup())

  const as = (headers: Record<string, string | string[]>) => get(h, {'x-verifier-token': verifier, ...headers})

  it('VALID → 204 with the owner headers and RateLimit-*; never a body', async () => {
    const forms: Array<Record<string, string | string[]>> = [{'x-api-key': k1.key}, {authorization: `Bearer ${k1.key}`}, {'x-api-key': [k1.key, k1.key]}, {'x-api-key': k1.key, authorization: `Bearer ${k1.key}`}]
    for (const headers of forms) {
      const res = await as(headers)
      expect(res.status).toBe(204)
      expect(res.text).toBe('')
      expect(res.headers).toMatchObject({'x-apikey-app': 'weather-app', 'x-apikey-team': 'mobile', 'x-apikey-env': 'prod', 'x-apikey-key-id': k1.id, 'ratelimit-limit': '6000'})
    }
  })

  it.each([
    ['no key', {}],
    ['an empty X-API-Key', {'x-api-key': ''}],
    ['a whitespace-only X-API-Key (never trimmed into a key)', {'x-api-key': '   '}],
    ['the header twice with different values', {'x-api-key': ['K1', 'K2']}],
    ['different keys in X-API-Key and Authorization', {'x-api-key': 'K1', authorization: 'Bearer K2'}],
    ['a 10 KB value', {'x-api-key': 'x'.repeat(10_240)}],
    ['the key also in the URL query', {'x-api-key': 'K1', 'x-original-uri': '/v1/forecast?api_key=K1'}],
  ])('%s → 401 MALFORMED', async (_name, headers) => {
    const fill = (v: string) => v.replace('K1', k1.key).replace('K2', k2.key)
    const res = await as(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(fill) : fill(v)])))
    expect(res.status).toBe(401)
    expect(res.headers['x-apikey-code']).toBe('MALFORMED')
    expect(res.headers['x-apikey-app']).toBeUndefined()
    expect(res.text).toBe('')
  })

  it('a missing or rejected verifier token → 403 VERIFIER_REJECTED (the gateway maps it to 503; 401 would blame the client)', async () => {
    const forms: Array<Record<string, string>> = [{'x-api-key': k1.key}, {'x-api-key': k1.key, 'x-verifier-token': 'akv_nope'}, {'x-api-key': k1.key, authorization: `Bearer ${verifier}`}]
    for (const headers of forms) {
      const res = await get(h, headers)
      expect(res.status).toBe(403)
      expect(res.headers['x-apikey-code']).toBe('VERIFIER_REJECTED')
    }
  })

  it('a failing key store → 403 UNAVAILABLE, never 5xx', async () => {
    const raw = new BetterSqlite3(h.dbPath)
    raw.exec('alter table api_keys rename to api_keys_hidden')
    try {
      const res = await as({'x-api-key': k2.key})
      expect(res.status).toBe(403)
      expect(res.headers['x-apikey-code']).toBe('UNAVAILABLE')
      expect(res.headers['x-apikey-retry-after']).toBe('1')
    } finally {
      raw.exec('alter table api_keys_hidden rename to api_keys')
      raw.close()
    }
  })

  it('route templates from concrete URIs: ids become :id, the query is dropped', () => {
    expect(routeTemplateOf('/v1/users/12345/orders?page=2')).toBe('/v1/users/:id/orders')
    expect(routeTemplateOf('/v1/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBe('/v1/items/:id')
    expect(routeTemplateOf('/v1/forecast/berlin')).toBe('/v1/forecast/berlin')
    expect(routeTemplateOf(undefined)).toBeUndefined()
  })
})
