/**
 * Per-verifier environment scope: a verifier added with `--env prod` answers
 * FORBIDDEN for genuine keys of other environments — with the owner named, no
 * token taken from the key's bucket, the command that issues a prod key, usage
 * counted as FORBIDDEN — while revoked, expired, unknown and malformed keys keep
 * their own verdicts (nothing more revealed). Unscoped verifiers are unchanged.
 * The scope is checked per request with the verifier that asks, also when the
 * key record is cached. Real service, real SQLite, injected clock.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {addVerifier} from '../../src/server/services/verifiers.js'
import {DAY_MS} from '../../src/server/settings.js'
import {startHarness, T0, type Harness} from './helpers.js'

const APP = {slug: 'weather-app', name: 'App weather-app', team: {slug: 'mobile', name: 'Team mobile'}, contactEmail: 'weather-app-poc@example.com'}

interface Key {
  id: string
  key: string
  expiresAt: number
}

let h: Harness
let ann: string
let dev: Key
let prod: Key
/** Accepts prod keys only. */
let prodOnly: string
/** Accepts every environment (as before scopes existed). */
let anyEnv: string

beforeEach(async () => {
  h = await startHarness()
  await h.addUser('ann', 'mobile')
  ann = await h.login('ann')
  await h.createApp(ann, 'weather-app', 'mobile')
  dev = await h.issueKey(ann, 'weather-app', {env: 'dev'})
  prod = await h.issueKey(ann, 'weather-app', {env: 'prod'})
  prodOnly = await h.addVerifier('orders-prod', {envs: ['prod']})
  anyEnv = await h.addVerifier('weather-gateway')
})
afterEach(async () => h.cleanup())

describe('verifier scope (--env)', () => {
  it('a dev key sent to a prod-only verifier → FORBIDDEN with the owner and the command for a prod key; the prod key is VALID', async () => {
    const res = await h.verify(prodOnly, dev.key)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.body).toEqual({
      valid: false,
      code: 'FORBIDDEN',
      app: APP,
      team: 'mobile',
      env: 'dev',
      keyId: dev.id,
      expiresAt: null,
      rateLimit: null,
      message:
        'this is a dev key of weather-app; the protected API behind verifier "orders-prod" accepts only prod keys. Get a prod key: apikey keys create --app weather-app --env prod',
      suggestions: ['apikey keys create --app weather-app --env prod'],
      docsUrl: `${h.url}/docs`,
      getKeyCommand: 'apikey init',
      keyKind: 'dev',
    })
    expect(res.text).not.toContain(dev.key)
    const ok = await h.verify(prodOnly, prod.key)
    expect(ok.body).toMatchObject({valid: true, code: 'VALID', env: 'prod', keyId: prod.id, team: 'mobile', rateLimit: {limit: 6000, remaining: 5999}})
  })

  it('every environment but prod is FORBIDDEN for a prod-only verifier', async () => {
    for (const env of ['dev', 'test', 'stage', 'ci']) {
      const key = await h.issueKey(ann, 'weather-app', {env})
      const res = await h.verify(prodOnly, key.key)
      expect(res.body, env).toMatchObject({valid: false, code: 'FORBIDDEN', env, keyId: key.id, app: {slug: 'weather-app'}, rateLimit: null})
      expect(res.body.message).toContain(`this is a ${env} key of weather-app`)
    }
  })

  it("FORBIDDEN takes no token from the key's bucket (nor from the address's failure bucket)", async () => {
    // dev keys: 60 per minute. Far more FORBIDDEN answers than that change nothing.
    for (let i = 0; i < 100; i++) expect((await h.verify(prodOnly, dev.key)).body.code).toBe('FORBIDDEN')
    const first = await h.verify(anyEnv, dev.key)
    expect(first.body).toMatchObject({code: 'VALID', rateLimit: {limit: 60, remaining: 59}})
    // The failure bucket of this address is untouched too: unknown keys are still answered NOT_FOUND.
    const body = `ak_weather-app_dev_${'Zq3x'.repeat(7)}Zq`
    expect((await h.verify(prodOnly, body + checksumOf(body))).body.code).toBe('NOT_FOUND')
  })

  it('a verifier of several environments names all of them, and a command for each', async () => {
    const staging = await h.addVerifier('orders-staging', {envs: ['prod', 'stage']})
    const res = await h.verify(staging, dev.key)
    expect(res.body).toMatchObject({code: 'FORBIDDEN', env: 'dev'})
    expect(res.body.message).toBe(
      'this is a dev key of weather-app; the protected API behind verifier "orders-staging" accepts only stage or prod keys. Get a stage or prod key: apikey keys create --app weather-app --env stage (or --env prod)',
    )
    expect(res.body.suggestions).toEqual(['apikey keys create --app weather-app --env stage', 'apikey keys create --app weather-app --env prod'])
    const stage = await h.issueKey(ann, 'weather-app', {env: 'stage'})
    expect((await h.verify(staging, stage.key)).body.code).toBe('VALID')
    expect((await h.verify(staging, prod.key)).body.code).toBe('VALID')
  })

  it('an unscoped verifier is unchanged: keys of every environment are VALID', async () => {
    for (const env of ['dev', 'test', 'stage', 'prod', 'ci']) {
      const key = await h.issueKey(ann, 'weather-app', {env})
      expect((await h.verify(anyEnv, key.key)).body, env).toMatchObject({valid: true, code: 'VALID', env})
    }
  })

  it('revoked and expired keys stay REVOKED (nothing revealed) and EXPIRED under a scoped verifier, never FORBIDDEN', async () => {
    const revoked = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    expect((await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})).status).toBe(200)
    const r = await h.verify(prodOnly, revoked.key)
    expect(r.body).toMatchObject({valid: false, code: 'REVOKED', app: null, team: null, rateLimit: null, suggestions: ['apikey init --new-key']})

    const short = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: T0 + DAY_MS})
    expect((await h.verify(prodOnly, short.key)).body.code).toBe('FORBIDDEN')
    h.clock.advance(DAY_MS)
    const e = await h.verify(prodOnly, short.key)
    expect(e.body).toMatchObject({valid: false, code: 'EXPIRED', app: {slug: 'weather-app'}, env: 'dev', expiresAt: T0 + DAY_MS})
  })

  it('unknown and malformed keys are answered as before, revealing nothing', async () => {
    const body = `ak_weather-app_prod_${'Zq3x'.repeat(7)}Zq`
    expect((await h.verify(prodOnly, body + checksumOf(body))).body).toMatchObject({code: 'NOT_FOUND', app: null, env: null, keyId: null})
    expect((await h.verify(prodOnly, 'ak_weather-app_dev_short')).body).toMatchObject({code: 'MALFORMED', app: null, env: null, keyId: null})
  })

  it('the scope is checked per request with the verifier that asks, also from a warm key-record cache', async () => {
    // Each order warms the service's per-key record cache with a different verifier first.
    expect((await h.verify(anyEnv, dev.key)).body.code).toBe('VALID')
    expect((await h.verify(prodOnly, dev.key)).body.code).toBe('FORBIDDEN')
    expect((await h.verify(anyEnv, dev.key)).body).toMatchObject({code: 'VALID', rateLimit: {remaining: 58}})
    const other = await h.issueKey(ann, 'weather-app', {env: 'test'})
    expect((await h.verify(prodOnly, other.key)).body.code).toBe('FORBIDDEN')
    expect((await h.verify(anyEnv, other.key)).body).toMatchObject({code: 'VALID', rateLimit: {limit: 120, remaining: 119}})
    expect((await h.verify(prodOnly, other.key)).body.code).toBe('FORBIDDEN')
  })

  it("usage counts FORBIDDEN answers as the key's, under code FORBIDDEN", async () => {
    for (let i = 0; i < 3; i++) await h.verify(prodOnly, dev.key, {route: '/v1/orders'})
    await h.verify(anyEnv, dev.key, {route: '/v1/forecast/:city'})
    await h.server.flushUsage()
    const report = await h.request('GET', '/v1/apps/weather-app/usage', {token: ann})
    expect(report.status).toBe(200)
    expect(report.body.byCode).toEqual({FORBIDDEN: 3, VALID: 1})
    expect(report.body.byKey).toEqual([{keyId: dev.id, env: 'dev', total: 4, byCode: {FORBIDDEN: 3, VALID: 1}}])
  })

  it('GET /v1/verify/auth-request: FORBIDDEN → 403 with X-Apikey-Code, the owner headers, the accepted environments and the command; no body', async () => {
    const res = await fetch(`${h.url}/v1/verify/auth-request`, {headers: {'x-verifier-token': prodOnly, 'x-api-key': dev.key}})
    expect(res.status).toBe(403)
    expect(await res.text()).toBe('')
    expect(Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('x-apikey-') || name.startsWith('ratelimit-') || name === 'cache-control'))).toEqual({
      'cache-control': 'no-store',
      'x-apikey-code': 'FORBIDDEN',
      'x-apikey-app': 'weather-app',
      'x-apikey-team': 'mobile',
      'x-apikey-env': 'dev',
      'x-apikey-key-id': dev.id,
      'x-apikey-allowed-envs': 'prod',
      'x-apikey-suggestion': 'apikey keys create --app weather-app --env prod',
    })
    const ok = await fetch(`${h.url}/v1/verify/auth-request`, {headers: {'x-verifier-token': prodOnly, 'x-api-key': prod.key}})
    expect(ok.status).toBe(204)
    expect(ok.headers.get('x-apikey-env')).toBe('prod')
    // The dev key through an unscoped gateway: 204 as before (its bucket untouched by the 403).
    const any = await fetch(`${h.url}/v1/verify/auth-request`, {headers: {'x-verifier-token': anyEnv, 'x-api-key': dev.key}})
    expect(any.status).toBe(204)
    expect(any.headers.get('ratelimit-remaining')).toBe('59')
  })

  it('the scope is stored as a JSON array (null = every environment) and named in the audit event', async () => {
    const created = await addVerifier({dbPath: h.dbPath, name: 'ci-runner', envs: ['ci', 'test', 'ci'], clock: h.clock})
    expect(created.allowedEnvs).toEqual(['test', 'ci'])
    const raw = new BetterSqlite3(h.dbPath, {readonly: true})
    try {
      const rows = raw.prepare('select name, allowed_envs from verifier_tokens order by name').all()
      expect(rows).toEqual([
        {name: 'ci-runner', allowed_envs: '["test","ci"]'},
        {name: 'orders-prod', allowed_envs: '["prod"]'},
        {name: 'weather-gateway', allowed_envs: null},
      ])
      const details = (raw.prepare("select details from audit_events where action = 'verifier.create' order by id").all() as Array<{details: string}>).map((r) => JSON.parse(r.details))
      expect(details.map((d) => [d.name, d.allowedEnvs])).toEqual([
        ['orders-prod', ['prod']],
        ['weather-gateway', null],
        ['ci-runner', ['test', 'ci']],
      ])
    } finally {
      raw.close()
    }
  })

  it('bad scopes are refused before anything is written, naming the valid environments', async () => {
    await expect(addVerifier({dbPath: h.dbPath, name: 'typo', envs: ['production']})).rejects.toMatchObject({
      code: 'validation',
      message: 'env: "production" is not a key environment; valid environments: dev, test, stage, prod, ci',
    })
    await expect(addVerifier({dbPath: h.dbPath, name: 'typos', envs: ['prod', 'Dev', '']})).rejects.toMatchObject({
      code: 'validation',
      message: 'env: "Dev", "" are not key environments; valid environments: dev, test, stage, prod, ci',
    })
    await expect(addVerifier({dbPath: h.dbPath, name: 'empty', envs: []})).rejects.toMatchObject({code: 'validation', message: expect.stringContaining('dev, test, stage, prod, ci')})
    const raw = new BetterSqlite3(h.dbPath, {readonly: true})
    try {
      expect(raw.prepare("select count(*) as n from verifier_tokens where name in ('typo', 'typos', 'empty')").get()).toEqual({n: 0})
    } finally {
      raw.close()
    }
  })
})
