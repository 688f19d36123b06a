/**
 * Shared security suite: every authenticated route × {no token, malformed
 * token, API key instead of a session token, unknown token, expired token
 * (injected clock), signed-out token, another team's user} — and × a
 * provisioning token (valid for the app, expired, revoked), which may only
 * issue CI keys for its own app.
 */
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, type Harness} from './helpers.js'

interface RouteCase {
  method: string
  /** Path with `{keyId}` / `{tokenId}` placeholders filled per test. */
  path: string
  body?: unknown
  /** What another team's signed-in user gets: 'allowed' (directory/own data) or 403. */
  otherTeam: 'allowed' | 403
}

const ROUTES: RouteCase[] = [
  {method: 'GET', path: '/v1/me', otherTeam: 'allowed'},
  {method: 'DELETE', path: '/v1/sessions/current', otherTeam: 'allowed'},
  {method: 'GET', path: '/v1/apps', otherTeam: 'allowed'},
  {method: 'POST', path: '/v1/apps', body: {slug: 'intruder-app', name: 'x', team: 'mobile', contactEmail: 'x@example.com'}, otherTeam: 403},
  {method: 'GET', path: '/v1/apps/weather-app', otherTeam: 'allowed'},
  {method: 'GET', path: '/v1/apps/weather-app/keys', otherTeam: 403},
  {method: 'POST', path: '/v1/apps/weather-app/keys', body: {env: 'dev'}, otherTeam: 403},
  {method: 'POST', path: '/v1/apps/weather-app/transfer', body: {team: 'web'}, otherTeam: 403},
  {method: 'GET', path: '/v1/keys/{keyId}', otherTeam: 403},
  {method: 'POST', path: '/v1/keys/{keyId}/rotate', body: {graceMs: 0}, otherTeam: 403},
  {method: 'POST', path: '/v1/keys/{keyId}/replace', body: {replacementId: `key_${'A'.repeat(20)}`}, otherTeam: 403},
  {method: 'DELETE', path: '/v1/keys/{keyId}', otherTeam: 403},
  {method: 'GET', path: '/v1/audit?app=weather-app', otherTeam: 403},
  {method: 'POST', path: '/v1/tokens', body: {app: 'weather-app', scope: 'ci'}, otherTeam: 403},
  {method: 'GET', path: '/v1/tokens?app=weather-app', otherTeam: 403},
  {method: 'DELETE', path: '/v1/tokens/{tokenId}', otherTeam: 403},
  {method: 'PUT', path: '/v1/keys/{keyId}/limit', body: {rpm: 100}, otherTeam: 403},
  {method: 'PUT', path: '/v1/apps/weather-app/limit', body: {rpm: 100}, otherTeam: 403},
  {method: 'GET', path: '/v1/apps/weather-app/usage', otherTeam: 403},
]

/** The OpenAPI form of a route case: `{id}` placeholders, no query string. */
function openApiForm(route: RouteCase): string {
  return `${route.method} ${route.path.split('?')[0]}`.replace('{keyId}', '{id}').replace('{tokenId}', '{id}')
}

describe('security suite', () => {
  let h: Harness
  let ann: string
  let apiKey: string
  let keyId: string
  let tokenId: string
  let provisioning: string
  /** This test's own users, teams and app on the shared service, and the clock when they were made. */
  let world: {ann: string; bob: string; mobile: string; web: string; app: string; start: number}
  let worlds = 0
  // One service for the file (sign-in limits relaxed: every test signs in from 127.0.0.1); each test
  // makes its own users, teams and app, so what one test changes (a signed-out session, a revoked
  // token, the clock moved on) cannot reach another.
  beforeAll(async () => {
    const relaxed = {capacity: 100_000, refillIntervalMs: 1000}
    h = await startHarness({settings: {loginLimitPerIp: relaxed, loginLimitPerUsername: relaxed, loginBackoff: {freeFailures: 100_000}}})
  })
  afterAll(async () => h?.cleanup())
  beforeEach(async () => {
    const n = ++worlds
    world = {ann: `ann-${n}`, bob: `bob-${n}`, mobile: `mobile-${n}`, web: `web-${n}`, app: `weather-app-${n}`, start: h.clock.now()}
    await h.addUser(world.ann, world.mobile)
    await h.addUser(world.bob, world.web)
    ann = await h.login(world.ann)
    await h.createApp(ann, world.app, world.mobile)
    const issued = await h.issueKey(ann, world.app)
    apiKey = issued.key
    keyId = issued.id
    const token = await h.createToken(ann, world.app)
    provisioning = token.token
    tokenId = token.id
  })

  /** A route case's path or body with this test's app and teams in place of weather-app, mobile and web. */
  const local = (text: string): string =>
    text.replaceAll('weather-app', world.app).replaceAll('intruder-app', `intruder-app-${worlds}`).replaceAll('"mobile"', `"${world.mobile}"`).replaceAll('"web"', `"${world.web}"`)

  it('covers every session-authenticated route in the OpenAPI document', async () => {
    const doc = (await h.request('GET', '/openapi.json')).body
    const secured: string[] = []
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, {security?: Array<Record<string, unknown>>}>>)) {
      for (const [method, op] of Object.entries(ops)) {
        if (op.security?.some((s) => 'session' in s)) secured.push(`${method.toUpperCase()} ${path.replace('{slug}', 'weather-app')}`)
      }
    }
    expect(secured.sort()).toEqual(ROUTES.map(openApiForm).sort())
  })

  describe.each(ROUTES)('$method $path', (route) => {
    const call = (token?: string, headers?: Record<string, string>) =>
      h.request(route.method, local(route.path).replace('{keyId}', keyId).replace('{tokenId}', tokenId), {
        ...(token === undefined ? {} : {token}),
        ...(route.body === undefined ? {} : {body: JSON.parse(local(JSON.stringify(route.body)))}),
        ...(headers ? {headers} : {}),
      })

    it('401 without a token', async () => {
      const problem = expectProblemShape(await call(), 401, 'unauthenticated')
      expect(problem.suggestions).toEqual(['apikey login'])
    })

    it('401 with a malformed token, another scheme, or an API key', async () => {
      expectProblemShape(await call('aks_short'), 401, 'unauthenticated')
      expectProblemShape(await call(undefined, {authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}`}), 401, 'unauthenticated')
      const res = await call(apiKey)
      expectProblemShape(res, 401, 'unauthenticated')
      expect(res.text).not.toContain(apiKey)
    })

    it('401 with a well-formed unknown token (session or provisioning)', async () => {
      expectProblemShape(await call(`aks_${'A'.repeat(40)}`), 401, 'unauthenticated')
      expectProblemShape(await call(`akp_${'A'.repeat(40)}`), 401, 'unauthenticated')
      expectProblemShape(await call('akp_short'), 401, 'unauthenticated')
    })

    it('401 with an expired token (injected clock)', async () => {
      const token = await h.login(world.ann)
      h.clock.advance(30 * DAY_MS)
      const problem = expectProblemShape(await call(token), 401, 'unauthenticated')
      expect(problem.detail).toMatch(/expired/)
    })

    it('401 with a signed-out token', async () => {
      const token = await h.login(world.ann)
      expect((await h.request('DELETE', '/v1/sessions/current', {token})).status).toBe(204)
      expectProblemShape(await call(token), 401, 'unauthenticated')
    })

    it(`another team's user: ${route.otherTeam === 403 ? '403 forbidden' : 'allowed (own or directory data)'}`, async () => {
      const bob = await h.login(world.bob)
      const res = await call(bob)
      if (route.otherTeam === 403) {
        const problem = expectProblemShape(res, 403, 'forbidden')
        expect(problem.detail).toContain(world.mobile)
      } else {
        expect(res.status).toBeLessThan(300)
        // Never another team's keys or private data.
        expect(res.text).not.toContain(apiKey)
        if (route.path === '/v1/apps') expect(res.body.apps).toEqual([])
      }
    })

    it('a provisioning token of the app: 403 naming its scope, and nothing changes', async () => {
      const before = await h.request('GET', `/v1/apps/${world.app}/keys`, {token: ann})
      const res = await call(provisioning)
      const problem = expectProblemShape(res, 403, 'forbidden')
      expect(problem.detail).toContain('provisioning tokens can only issue CI keys for their app')
      expect(problem.tokenId).toBe(tokenId)
      expect(res.text).not.toContain(provisioning)
      expect(res.text).not.toContain(apiKey)
      const after = await h.request('GET', `/v1/apps/${world.app}/keys`, {token: ann})
      expect(after.body).toEqual(before.body)
      expect((await h.request('GET', '/v1/apps', {token: ann})).body.apps.map((a: {team: {slug: string}}) => a.team.slug)).toEqual([world.mobile])
    })

    it('an expired provisioning token: 401 "expired at …"; a revoked one: 401 "revoked at …"', async () => {
      h.clock.advance(90 * DAY_MS)
      const expired = expectProblemShape(await call(provisioning), 401, 'unauthenticated')
      expect(expired.detail).toContain(`expired at ${new Date(world.start + 90 * DAY_MS).toISOString()}`)
      h.clock.advance(-90 * DAY_MS)
      const owner = await h.login(world.ann)
      expect((await h.request('DELETE', `/v1/tokens/${tokenId}`, {token: owner})).status).toBe(200)
      const res = await call(provisioning)
      const revoked = expectProblemShape(res, 401, 'unauthenticated')
      expect(revoked.detail).toContain(`revoked at ${new Date(world.start).toISOString()}`)
      expect(res.text).not.toContain(provisioning)
    })
  })
})
