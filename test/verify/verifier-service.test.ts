/**
 * The verifier against the real key service (src/server, startServer on
 * 127.0.0.1:0 with a SQLite file): verdicts, revocation within the staleness
 * bound, deadlines, authoritative negatives vs. a rejected
 * verifier token, rate limits, usage ingestion,
 * FORBIDDEN from an environment-scoped verifier token, and the HTTP adapter.
 * The service and the verifier share one injected clock.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {createVerifier, nodeMiddleware, problemFor, type Verifier, type VerifierOptions} from '../../src/verify/index.js'
import {startHarness, T0, TestClock, type Harness} from '../server/helpers.js'
import {FakeClock} from './helpers.js'

/** One clock for the service and the verifiers. */
class SharedClock extends FakeClock {
  readonly server = new TestClock(T0)
  constructor() {
    super(T0)
  }
  override advance(ms: number): void {
    super.advance(ms)
    this.server.t = this.now()
  }
}

let clock: SharedClock
let h: Harness
let ann: string
let token: string
let key: {id: string; key: string; expiresAt: number}
const verifiers: Verifier[] = []

function make(options: Partial<VerifierOptions> = {}): Verifier {
  const v = createVerifier({serviceUrl: h.url, verifierToken: token, clock, usage: {flushIntervalMs: 60_000}, ...options})
  verifiers.push(v)
  return v
}

beforeEach(async () => {
  clock = new SharedClock()
  h = await startHarness({clock: clock.server})
  await h.addUser('ann', 'mobile')
  ann = await h.login('ann')
  await h.createApp(ann, 'weather-app', 'mobile')
  key = await h.issueKey(ann, 'weather-app')
  token = await h.addVerifier('weather-api')
})
afterEach(async () => {
  for (const v of verifiers.splice(0)) await v.close({deadlineMs: 1000})
  await h.cleanup()
})

describe('verifier ↔ real service', () => {
  it('VALID with the owner, from the service, then from the cache', async () => {
    const v = make()
    const first = await v.verify(key.key, {route: '/v1/forecast/:city'})
    expect(first).toMatchObject({valid: true, code: 'VALID', source: 'service', app: {slug: 'weather-app', team: {slug: 'mobile'}}, team: 'mobile', env: 'dev', keyId: key.id, expiresAt: key.expiresAt})
    expect(first.rateLimit).toMatchObject({limit: 60, remaining: 59})
    expect(await v.verify(key.key)).toMatchObject({valid: true, source: 'cache', keyId: key.id})
    expect(v.stats()).toMatchObject({fetches: 1, cacheHits: 1})
  })

  it('revoked through the service → REVOKED at once from the service, and on two warm verifiers within the staleness bound', async () => {
    const a = make()
    const b = make()
    expect((await a.verify(key.key)).valid).toBe(true)
    expect((await b.verify(key.key)).valid).toBe(true)
    const revoke = await h.request('DELETE', `/v1/keys/${key.id}`, {token: ann})
    expect(revoke.status).toBe(200)
    expect(await make().verify(key.key)).toMatchObject({valid: false, code: 'REVOKED', source: 'service'})
    clock.advance(1000)
    // Within the bound the warm verdicts may still be served …
    expect((await a.verify(key.key)).source).toBe('cache')
    // … but never past it.
    clock.advance(4000)
    expect(await a.verify(key.key)).toMatchObject({valid: false, code: 'REVOKED', source: 'service'})
    expect(await b.verify(key.key)).toMatchObject({valid: false, code: 'REVOKED', source: 'service'})
  })

  it("a key expiring inside the cache window is not served VALID past its expiry", async () => {
    const short = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: T0 + 2000})
    const v = make({stalenessMs: 5000})
    expect(await v.verify(short.key)).toMatchObject({valid: true, expiresAt: T0 + 2000})
    clock.advance(1999)
    expect((await v.verify(short.key)).source).toBe('cache')
    clock.advance(1001)
    expect(await v.verify(short.key)).toMatchObject({valid: false, code: 'EXPIRED', source: 'service'})
  })

  it('NOT_FOUND is authoritative and cached; a rejected verifier token is "unavailable", never cached', async () => {
    const body = `ak_weather-app_dev_${'Zq3x'.repeat(7)}Zq`
    const foreign = body + checksumOf(body)
    const v = make()
    expect(await v.verify(foreign)).toMatchObject({valid: false, code: 'NOT_FOUND', source: 'service'})
    expect(await v.verify(foreign)).toMatchObject({code: 'NOT_FOUND', source: 'cache'})

    const wrong = make({verifierToken: `akv_${'A'.repeat(40)}`, circuitFailures: 0})
    expect(await wrong.verify(key.key)).toMatchObject({valid: false, code: 'UNAVAILABLE', unavailable: true})
    expect(wrong.stats().lastFailure?.reason).toContain('401')
    expect(wrong.stats().cacheSize).toBe(0)
  })

  it('100 concurrent verifications of a 60/min key → exactly 60 pass, in local and in service mode', async () => {
    const local = make()
    const verdicts = await Promise.all(Array.from({length: 100}, () => local.verify(key.key)))
    expect(verdicts.filter((x) => x.valid)).toHaveLength(60)
    expect(verdicts.filter((x) => x.code === 'RATE_LIMITED').every((x) => (x.rateLimit?.retryAfterSeconds ?? 0) >= 1)).toBe(true)

    const other = await h.issueKey(ann, 'weather-app')
    const exact = make({rateLimits: 'service'})
    const answers = await Promise.all(Array.from({length: 100}, () => exact.verify(other.key)))
    expect(answers.filter((x) => x.valid)).toHaveLength(60)
    expect(exact.stats().fetches).toBe(100)
  })

  it('usage batches are accepted (2xx) and show up in the owner\'s usage report as reported events', async () => {
    const v = make()
    for (let i = 0; i < 25; i++) await v.verify(key.key, {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '1.2.3', clientIp: '192.0.2.7'})
    await v.flush()
    expect(v.stats()).toMatchObject({sent: 25, dropped: 0, rejected: 0, buffered: 0})
    // All sources: the first (a miss) was counted by /v1/verify, the 24 cache hits by the verifier's batches.
    const report = await h.request('GET', '/v1/apps/weather-app/usage', {token: ann})
    expect(report.status).toBe(200)
    expect(report.body.total).toBe(25)
    expect(report.body.byRoute).toEqual([{value: '/v1/forecast/:city', count: 25}])
    expect(report.body.byKey[0]).toMatchObject({keyId: key.id, total: 25})
    expect(report.body.bySource).toEqual({verify: 1, reported: 24})
  })

  it('concurrent misses share one call, yet every verification is counted once: the shared call by /v1/verify, the others by the batches', async () => {
    const v = make()
    const revoked = await h.issueKey(ann, 'weather-app')
    await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})
    const verdicts = await Promise.all([...Array.from({length: 10}, () => v.verify(key.key)), ...Array.from({length: 4}, () => v.verify(revoked.key))])
    expect(v.stats().fetches).toBe(2)
    // Every caller's verdict still says it came from the service (the shared call).
    expect(verdicts.map((x) => x.source)).toEqual(Array(14).fill('service'))
    expect(verdicts.filter((x) => x.valid)).toHaveLength(10)
    await v.flush()
    expect(v.stats()).toMatchObject({sent: 14, dropped: 0})
    const report = await h.request('GET', '/v1/apps/weather-app/usage', {token: ann})
    expect(report.body.total).toBe(14)
    expect(report.body.bySource).toEqual({verify: 2, reported: 12})
    expect(report.body.byKey).toEqual([
      {keyId: key.id, env: 'dev', total: 10, byCode: {VALID: 10}},
      {keyId: revoked.id, env: 'dev', total: 4, byCode: {REVOKED: 4}},
    ])
  })

  it('close flushes 3,000 buffered events to the real service within the deadline', async () => {
    const v = make({usage: {flushIntervalMs: 60_000, maxBatch: 500, maxBuffer: 10_000}})
    const another = await h.issueKey(ann, 'weather-app')
    for (let i = 0; i < 3000; i++) await v.verify(another.key, {route: '/v1/forecast/:city'})
    const report = await v.close({deadlineMs: 5000})
    expect(report.sent + report.dropped).toBe(3000)
    expect(report).toMatchObject({sent: 3000, dropped: 0, flushed: true})
    // All sources: the miss counted once by /v1/verify, every cache hit by the batches — 3,000 in all, none twice.
    const usage = await h.request('GET', '/v1/apps/weather-app/usage', {token: ann})
    expect(usage.body.total).toBe(3000)
  })

  it('FORBIDDEN from a prod-only verifier token: cached (authoritative for this token), served through an outage, 403 naming the command; the key stays VALID elsewhere', async () => {
    const prodOnly = await h.addVerifier('orders-prod', {envs: ['prod']})
    const v = make({verifierToken: prodOnly, circuitFailures: 0})
    const first = await v.verify(key.key, {route: '/v1/orders'})
    expect(first).toMatchObject({valid: false, code: 'FORBIDDEN', source: 'service', app: {slug: 'weather-app'}, team: 'mobile', env: 'dev', keyId: key.id, rateLimit: null})
    expect(first.suggestions).toEqual(['apikey keys create --app weather-app --env prod'])
    expect(await v.verify(key.key)).toMatchObject({code: 'FORBIDDEN', source: 'cache'})
    expect(v.stats()).toMatchObject({fetches: 1, cacheHits: 1})

    // The answer is problem details with 403, the owner's key id and the command for a prod key.
    const problem = problemFor(first)
    expect(problem?.status).toBe(403)
    expect(problem?.headers['WWW-Authenticate']).toBeUndefined()
    expect(problem?.body).toMatchObject({code: 'key_not_allowed', title: 'API key not allowed here', keyId: key.id, suggestions: ['apikey keys create --app weather-app --env prod']})
    expect(problem?.body.detail).toContain('accepts only prod keys. Get a prod key: apikey keys create --app weather-app --env prod')

    // The same key through an unscoped verifier token: VALID, and its bucket untouched by the refusals.
    expect(await make().verify(key.key)).toMatchObject({valid: true, code: 'VALID', rateLimit: {limit: 60, remaining: 59}})

    // A key's environment and a token's scope never change: during an outage the refusal is served
    // stale, also past the hard ceiling (like REVOKED and EXPIRED), never "unavailable" or fail-open.
    await h.stop()
    clock.advance(5000)
    expect(await v.verify(key.key)).toMatchObject({valid: false, code: 'FORBIDDEN', stale: true})
    clock.advance(120_000)
    expect(await v.verify(key.key)).toMatchObject({valid: false, code: 'FORBIDDEN', stale: true})
    const open = make({verifierToken: prodOnly, circuitFailures: 0, outagePolicy: {unknownKeys: 'fail-open', knownKeys: 'fail-closed'}})
    expect(await open.verify(key.key)).toMatchObject({valid: true, unavailable: true}) // never asked before: the outage policy decides
  })

  it('aggregated usage: the counts stored by the real service add up exactly, per route, client app, source and code', async () => {
    // Observe what goes over the wire (the real fetch to the real service; nothing is answered by the test).
    // Each batch once: a retry (same Idempotency-Key) resends the same events, e.g. after a
    // client timeout on the injected clock, which this loop advances faster than real I/O.
    const sent: Array<{count: number}> = []
    const batches = new Set<string>()
    const observe = async (url: string, init: {method: string; headers: Record<string, string>; body: string; signal: AbortSignal}) => {
      const batchId = Object.entries(init.headers).find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1] ?? ''
      if (url.endsWith('/v1/usage') && !batches.has(batchId)) {
        batches.add(batchId)
        sent.push(...(JSON.parse(init.body) as {events: Array<{count: number}>}).events)
      }
      return fetch(url, init)
    }
    const v = make({fetch: observe})
    const routes = ['/v1/forecast/:city', '/v1/alerts', '/v1/radar']
    const apps = ['com.example.weather', 'com.example.widget']
    const perRoute = new Map<string, number>()
    const perApp = new Map<string, number>()
    const perCode = new Map<string, number>()
    let recorded = 0
    // 600 verifications over 5 minutes (one every 0.5 s), a flush every 100: the same dimensions reach the
    // service in several batches and minutes, and the 60/min limit makes some answers RATE_LIMITED.
    for (let i = 0; i < 600; i++) {
      const route = routes[i % 3]!
      const clientApp = apps[Math.floor(i / 7) % 2]!
      const verdict = await v.verify(key.key, {route, clientApp, appVersion: '1.2.3', clientIp: '192.0.2.7'})
      recorded++
      perRoute.set(route, (perRoute.get(route) ?? 0) + 1)
      perApp.set(clientApp, (perApp.get(clientApp) ?? 0) + 1)
      perCode.set(verdict.code, (perCode.get(verdict.code) ?? 0) + 1)
      clock.advance(500)
      if (i % 100 === 99) await v.flush()
    }
    await v.flush()
    expect(v.stats()).toMatchObject({sent: recorded, dropped: 0, rejected: 0, buffered: 0})
    // Aggregation happened: far fewer events than verifications, and their counts sum to every verification.
    expect(sent.length).toBeLessThan(recorded / 4)
    expect(sent.reduce((sum, e) => sum + e.count, 0)).toBe(recorded)
    // Every verification counted once: by POST /v1/verify (misses) or by the reported events (the rest).
    const report = await h.request('GET', `/v1/apps/weather-app/usage?since=${T0}&until=${clock.now() + 60_000}`, {token: ann})
    expect(report.status).toBe(200)
    expect(report.body.total).toBe(recorded)
    expect(report.body.bySource.verify + report.body.bySource.reported).toBe(recorded)
    expect(report.body.bySource.reported).toBeGreaterThan(report.body.bySource.verify)
    expect(Object.fromEntries(report.body.byRoute.map((b: {value: string; count: number}) => [b.value, b.count]))).toEqual(Object.fromEntries(perRoute))
    expect(Object.fromEntries(report.body.byClientApp.map((b: {value: string; count: number}) => [b.value, b.count]))).toEqual(Object.fromEntries(perApp))
    expect(report.body.byCode).toEqual(Object.fromEntries(perCode))
    expect(perCode.get('RATE_LIMITED')).toBeGreaterThan(0)
  })

  it('the Node middleware admits a real key and answers a revoked one with 401 naming the commands', async () => {
    const v = make()
    const mw = nodeMiddleware(v)
    const {createServer} = await import('node:http')
    const api = createServer((req, res) => mw(req, res, () => res.writeHead(204).end()))
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(api.address() as {port: number}).port}/`
    expect((await fetch(url, {headers: {'X-API-Key': key.key}})).status).toBe(204)
    await h.request('DELETE', `/v1/keys/${key.id}`, {token: ann})
    clock.advance(5000)
    const res = await fetch(url, {headers: {'X-API-Key': key.key}})
    expect(res.status).toBe(401)
    const body = (await res.json()) as {code: string; detail: string}
    expect(body.code).toBe('key_revoked')
    expect(body.detail).toMatch(/apikey init --new-key|apikey keys rotate/)
    await new Promise<void>((resolve) => api.close(() => resolve()))
  })
})

describe('the command and docs link callers are shown come from the service', () => {
  it('by default: `apikey init` and the service\'s own docs page, which exists; never `npx apikey init`', async () => {
    const v = make()
    const missing = problemFor(await v.verify(''))
    expect(missing?.body).toMatchObject({code: 'missing_key', suggestions: ['apikey init'], docsUrl: `${h.url}/docs`})
    expect(missing?.body.detail).not.toContain('npx apikey')
    expect((await fetch(missing?.body.docsUrl ?? '')).status).toBe(200)
  })

  it('a service with --cli-package: the verifier learns its command; revoked and expired keys get their own title and the new-key command', async () => {
    await h.cleanup()
    h = await startHarness({clock: clock.server, settings: {cliPackage: '@acme/apikey'}})
    await h.addUser('ann', 'mobile')
    ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    key = await h.issueKey(ann, 'weather-app')
    const other = await h.issueKey(ann, 'weather-app')
    token = await h.addVerifier('weather-api')
    const v = make()
    expect((await v.verify(key.key)).valid).toBe(true)
    // Decided locally, after the service has answered once: the service's command.
    const missing = problemFor(await v.verify(''))
    expect(missing?.body).toMatchObject({code: 'missing_key', suggestions: ['npx --yes @acme/apikey init']})
    expect(missing?.body.detail).toContain('`npx --yes @acme/apikey init`')
    const malformed = problemFor(await v.verify('ak_weather-app_dev_short'))
    expect(malformed?.body.suggestions).toEqual(['npx --yes @acme/apikey init'])

    expect((await h.request('DELETE', `/v1/keys/${key.id}`, {token: ann})).status).toBe(200)
    clock.advance(6000)
    const revoked = problemFor(await v.verify(key.key))
    expect(revoked?.body).toMatchObject({status: 401, title: 'API key revoked', code: 'key_revoked', keyId: key.id, suggestions: ['npx --yes @acme/apikey init --new-key']})
    expect(revoked?.body.detail).toMatch(/^this API key was revoked at .*Get a new key: npx --yes @acme\/apikey init --new-key; see http:\/\/127\.0\.0\.1:\d+\/docs$/)

    clock.advance(other.expiresAt - clock.now())
    const expired = problemFor(await v.verify(other.key))
    expect(expired?.body).toMatchObject({status: 401, title: 'API key expired', code: 'key_expired', suggestions: ['npx --yes @acme/apikey init --new-key']})
  })
})

describe('an expired or revoked key is told the command that issues a key of its kind', () => {
  it('a service key (env test): the service names `apikey keys create --app weather-app --env test`, and the verifier passes it on', async () => {
    const revoked = await h.issueKey(ann, 'weather-app', {env: 'test', kind: 'service'})
    const expiring = await h.issueKey(ann, 'weather-app', {env: 'test', kind: 'service', expiresAt: clock.now() + 60_000})
    const v = make()
    expect((await v.verify(revoked.key)).valid).toBe(true)
    expect((await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})).status).toBe(200)
    clock.advance(6000)
    const r = problemFor(await v.verify(revoked.key))
    expect(r?.body).toMatchObject({code: 'key_revoked', suggestions: ['apikey keys create --app weather-app --env test']})
    expect(r?.body.detail).toContain('Get a new key: apikey keys create --app weather-app --env test')
    expect(r?.body.detail).not.toContain('--new-key')

    clock.advance(60_000)
    const e = problemFor(await v.verify(expiring.key))
    expect(e?.body).toMatchObject({code: 'key_expired', suggestions: ['apikey keys create --app weather-app --env test']})
  })

  it('past the deadline of a cached VALID verdict with the service down, the local fallback names the same command (service key → keys create, dev key → init --new-key)', async () => {
    const service = await h.issueKey(ann, 'weather-app', {env: 'test', kind: 'service', expiresAt: clock.now() + 2000})
    const dev = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: clock.now() + 2000})
    const v = make({stalenessMs: 5000})
    expect((await v.verify(service.key)).valid).toBe(true)
    expect((await v.verify(dev.key)).valid).toBe(true)
    await h.stop()
    clock.advance(3000)
    const s = await v.verify(service.key)
    expect(s).toMatchObject({code: 'EXPIRED', source: 'cache', suggestions: ['apikey keys create --app weather-app --env test']})
    expect(problemFor(s)?.body.suggestions).toEqual(['apikey keys create --app weather-app --env test'])
    expect(await v.verify(dev.key)).toMatchObject({code: 'EXPIRED', source: 'cache', suggestions: ['apikey init --new-key']})
  })
})
