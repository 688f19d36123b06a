/**
 * HTTP adapters: key extraction edge cases, problem
 * details (RFC 9457) with the command to run, rate-limit headers, and the
 * Node http, Express-shaped, Fastify and fetch-style adapters on real servers.
 */
import type {IncomingMessage, Server} from 'node:http'
import {connect} from 'node:net'
import Fastify from 'fastify'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  createVerifier,
  expressMiddleware,
  extractKey,
  fastifyPlugin,
  fetchGuard,
  nodeMiddleware,
  problemFor,
  type Verdict,
  type Verifier,
  type VerifierOptions,
} from '../../src/verify/index.js'
import {DOCS, FakeClock, startProtectedApi, startStandin, TOKEN, type Standin} from './helpers.js'

let clock: FakeClock
let standin: Standin
let verifier: Verifier
let api: Server
let apiUrl: URL
let key: string

function make(options: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({serviceUrl: standin.url, verifierToken: TOKEN, clock, docsUrl: DOCS, ...options})
}

/** A protected Node http API: 200 with the identity, or the middleware's problem. */
async function startApi(v: Verifier, middleware = nodeMiddleware(v, {route: () => '/v1/forecast/:city'})): Promise<void> {
  const started = await startProtectedApi(middleware, (apikey) => ({app: apikey?.app, team: apikey?.team, env: apikey?.env, keyId: apikey?.keyId}))
  api = started.server
  apiUrl = new URL(started.url)
}

/** Sends a request with exact header lines over a raw socket (duplicates, odd spacing). */
function raw(path: string, headerLines: string[]): Promise<{status: number; headers: Record<string, string>; body: string}> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(apiUrl.port), '127.0.0.1')
    let data = ''
    socket.on('data', (chunk) => (data += chunk.toString('utf8')))
    socket.on('error', reject)
    socket.on('end', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n')
      const [statusLine = '', ...lines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({status: Number(statusLine.split(' ')[1]), headers, body})
    })
    socket.write(`GET ${path} HTTP/1.1\r\nHost: api\r\nConnection: close\r\n${headerLines.map((l) => `${l}\r\n`).join('')}\r\n`)
  })
}

beforeEach(async () => {
  clock = new FakeClock()
  standin = await startStandin(clock)
  key = standin.issue()
  verifier = make()
  await startApi(verifier)
})
afterEach(async () => {
  await new Promise<void>((resolve) => api.close(() => resolve()))
  await verifier.close({deadlineMs: 1})
  await standin.close()
})

describe('request edge cases', () => {
  it('no key → 401 problem details "missing key" naming `apikey init` and the docs, no lookup', async () => {
    const res = await fetch(apiUrl)
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({type: 'tag:apikey,2025:problem:missing_key', title: 'Missing API key', status: 401, code: 'missing_key', docsUrl: DOCS, suggestions: ['apikey init']})
    expect(body.detail).toContain('apikey init')
    expect(body.detail).toContain(DOCS)
    expect(standin.verifyCalls).toBe(0)
  })

  it('an empty header and a whitespace-only header are "missing key" (HTTP strips the optional whitespace), no lookup', async () => {
    for (const line of ['X-API-Key:', 'X-API-Key:    ', 'X-API-Key: \t ']) {
      const res = await raw('/v1/forecast/paris', [line])
      expect(res.status).toBe(401)
      expect(JSON.parse(res.body).code).toBe('missing_key')
    }
    expect(standin.verifyCalls).toBe(0)
  })

  it('the header twice with different values → 401 malformed (conflict) in either order, no lookup', async () => {
    const other = standin.issue()
    const a = await raw('/x', [`X-API-Key: ${key}`, `X-API-Key: ${other}`])
    const b = await raw('/x', [`X-API-Key: ${other}`, `x-api-key: ${key}`])
    expect(a.status).toBe(401)
    expect(JSON.parse(a.body)).toMatchObject({code: 'malformed_key'})
    expect(JSON.parse(a.body).detail).toContain('2 different API keys')
    expect(a.body).toBe(b.body)
    expect(a.body).not.toContain(key)
    expect(standin.verifyCalls).toBe(0)
  })

  it('the same key twice is one key', async () => {
    const res = await raw('/x', [`X-API-Key: ${key}`, `X-API-Key: ${key}`])
    expect(res.status).toBe(200)
  })

  it('X-API-Key and Authorization: Bearer with different keys → conflict; with the same key → admitted', async () => {
    const other = standin.issue()
    expect((await raw('/x', [`X-API-Key: ${key}`, `Authorization: Bearer ${other}`])).status).toBe(401)
    expect((await raw('/x', [`Authorization: Bearer ${other}`, `Authorization: Bearer ${key}`])).status).toBe(401)
    expect(standin.verifyCalls).toBe(0)
    expect((await raw('/x', [`X-API-Key: ${key}`, `Authorization: bearer ${key}`])).status).toBe(200)
  })

  it('a key in the query is refused (URLs are logged), also next to the header; allowQueryKey makes it a candidate', async () => {
    const res = await raw(`/x?api_key=${key}`, [`X-API-Key: ${key}`])
    expect(res.status).toBe(401)
    expect(JSON.parse(res.body).detail).toContain('not accepted in the URL')
    const other = standin.issue()
    const carrier = (query: string) => ({headerValues: (n: string) => (n === 'x-api-key' ? [key] : []), query})
    expect(extractKey(carrier(`api_key=${other}`), {allowQueryKey: true})).toMatchObject({kind: 'malformed'})
    expect(extractKey(carrier(`api_key=${key}`), {allowQueryKey: true})).toEqual({kind: 'key', key})
    expect(standin.verifyCalls).toBe(0)
  })

  it('a 10 KB header value → 401 malformed before any lookup', async () => {
    const res = await raw('/x', [`X-API-Key: ${'A'.repeat(10 * 1024)}`])
    expect(res.status).toBe(401)
    expect(JSON.parse(res.body).detail).toContain('10240 characters long')
    expect(standin.verifyCalls).toBe(0)
  })

  it("sources: ['x-api-key'] lets an API keep Authorization for its own user tokens", () => {
    const carrier = {headerValues: (n: string) => (n === 'x-api-key' ? [key] : n === 'authorization' ? ['Bearer user-jwt'] : []), query: ''}
    expect(extractKey(carrier)).toMatchObject({kind: 'malformed'})
    expect(extractKey(carrier, {sources: ['x-api-key']})).toEqual({kind: 'key', key})
  })
})

describe('admitted and rejected requests', () => {
  it('a valid key: the handler sees app, team, env and keyId; the context reaches the service', async () => {
    const res = await fetch(apiUrl, {headers: {'X-API-Key': key, 'X-Client-App': 'com.example.weather', 'X-Client-Version': '2.0.1'}})
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({app: 'weather-app', team: 'weather', env: 'dev', keyId: 'key_1'})
    await verifier.flush()
    expect(standin.usageBodies[0]!.events[0]).toMatchObject({route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '2.0.1', clientIp: '127.0.0.1', code: 'VALID'})
  })

  it('Authorization: Bearer works the same', async () => {
    expect((await fetch(apiUrl, {headers: {authorization: `Bearer ${key}`}})).status).toBe(200)
  })

  it('a revoked key → 401 key_revoked naming `apikey init --new-key` (an ended key cannot be rotated)', async () => {
    standin.revoke(key)
    const res = await fetch(apiUrl, {headers: {'X-API-Key': key}})
    expect(res.status).toBe(401)
    const body = (await res.json()) as {code: string; detail: string; keyId: string; suggestions: string[]}
    expect(body.code).toBe('key_revoked')
    expect(body.keyId).toBe('key_1')
    expect(body.suggestions).toEqual(['apikey init --new-key'])
    expect(body.detail).toContain('apikey init --new-key')
    expect(body.detail).toContain(DOCS)
  })

  it('an unknown key → 401 key_not_found naming `apikey init`', async () => {
    standin.keys.delete(key)
    const body = (await (await fetch(apiUrl, {headers: {'X-API-Key': key}})).json()) as {code: string; detail: string}
    expect(body.code).toBe('key_not_found')
    expect(body.detail).toContain('apikey init')
  })

  it('rate limited → 429 with Retry-After ≥ 1 and RateLimit-* headers; admitted requests carry RateLimit-*', async () => {
    const limited = standin.issue('weather-app', {limit: {capacity: 2, refillPerMs: 1 / 6000}})
    const first = await fetch(apiUrl, {headers: {'X-API-Key': limited}})
    expect(first.status).toBe(200)
    expect(first.headers.get('ratelimit-limit')).toBe('2')
    expect(first.headers.get('ratelimit-remaining')).toBe('1')
    expect(first.headers.get('ratelimit-reset')).toBe('6')
    expect((await fetch(apiUrl, {headers: {'X-API-Key': limited}})).status).toBe(200)
    const third = await fetch(apiUrl, {headers: {'X-API-Key': limited}})
    expect(third.status).toBe(429)
    expect(third.headers.get('content-type')).toBe('application/problem+json')
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(third.headers.get('ratelimit-remaining')).toBe('0')
    const body = (await third.json()) as {code: string; retryAfterSeconds: number}
    expect(body.code).toBe('rate_limited')
    expect(body.retryAfterSeconds).toBe(Number(third.headers.get('retry-after')))
  })

  it('verification unavailable (fail closed) → 503 with Retry-After; fail-open admits with no identity', async () => {
    await standin.pause()
    const res = await fetch(apiUrl, {headers: {'X-API-Key': key}})
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('2')
    expect(await res.json()).toMatchObject({code: 'verification_unavailable', title: 'Verification unavailable'})
    const open = make({outagePolicy: {unknownKeys: 'fail-open'}})
    await new Promise<void>((resolve) => api.close(() => resolve()))
    await startApi(open)
    const admitted = await fetch(apiUrl, {headers: {'X-API-Key': key}})
    expect(admitted.status).toBe(200)
    expect(await admitted.json()).toEqual({app: null, team: null, env: null, keyId: null})
    await open.close({deadlineMs: 1})
    await standin.resume()
  })

  it('problemFor maps every rejecting code to 401/403/429/503 and admits valid verdicts', () => {
    const base: Verdict = {valid: false, code: 'MALFORMED', app: null, team: null, env: null, keyId: null, expiresAt: null, rateLimit: null, message: 'x', suggestions: [], docsUrl: DOCS, source: 'service'}
    expect(problemFor({...base, valid: true, code: 'VALID'})).toBeNull()
    expect(problemFor({...base, code: 'EXPIRED'})?.status).toBe(401)
    expect(problemFor({...base, code: 'FORBIDDEN'})?.status).toBe(403)
    expect(problemFor({...base, code: 'RATE_LIMITED', rateLimit: {limit: 5, remaining: 0, resetMs: 1, retryAfterSeconds: 1}})?.headers['Retry-After']).toBe('1')
    expect(problemFor({...base, code: 'RATE_LIMITED', rateLimit: {limit: 5, remaining: 0, resetMs: 0}})?.headers['Retry-After']).toBe('1')
    expect(problemFor({...base, code: 'UNAVAILABLE', unavailable: true})?.status).toBe(503)
  })
})

describe('other adapters', () => {
  it('Express-shaped middleware takes the client address from req.ip', async () => {
    await new Promise<void>((resolve) => api.close(() => resolve()))
    const mw = expressMiddleware(verifier)
    await startApi(verifier, (req, res, next) => {
      ;(req as IncomingMessage & {ip?: string}).ip = '203.0.113.9'
      mw(req, res, next)
    })
    expect((await fetch(apiUrl, {headers: {'X-API-Key': key}})).status).toBe(200)
    await verifier.flush()
    expect(standin.usageBodies[0]!.events[0]!.clientIp).toBe('203.0.113.9')
  })

  it('Fastify plugin: onRequest hook, route template from the matched route, request.apikey for handlers', async () => {
    const app = Fastify()
    await app.register(fastifyPlugin(verifier))
    app.get('/v1/forecast/:city', async (request) => ({app: (request as unknown as {apikey: {app: string}}).apikey.app}))
    const ok = await app.inject({method: 'GET', url: '/v1/forecast/paris', headers: {'x-api-key': key}})
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({app: 'weather-app'})
    const missing = await app.inject({method: 'GET', url: '/v1/forecast/paris'})
    expect(missing.statusCode).toBe(401)
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(missing.json()).toMatchObject({code: 'missing_key'})
    await verifier.flush()
    expect(standin.usageBodies[0]!.events[0]!.route).toBe('/v1/forecast/:city')
    await app.close()
  })

  it('fetch-style guard: a Response for rejected requests, the verdict and headers for admitted ones', async () => {
    const guard = fetchGuard(verifier, {route: () => '/v1/forecast/:city'})
    const rejected = await guard(new Request('http://api.test/v1/forecast/paris'))
    expect(rejected).toBeInstanceOf(Response)
    expect((rejected as Response).status).toBe(401)
    const admitted = await guard(new Request('http://api.test/v1/forecast/paris', {headers: {'x-api-key': key}}))
    expect(admitted).not.toBeInstanceOf(Response)
    expect((admitted as {identity: {app: string}}).identity.app).toBe('weather-app')
    const both = new Headers()
    both.append('x-api-key', key)
    both.append('x-api-key', standin.issue())
    const conflict = (await guard(new Request('http://api.test/', {headers: both}))) as Response
    expect(conflict.status).toBe(401)
    expect(((await conflict.json()) as {detail: string}).detail).toContain('2 different API keys')
  })
})
