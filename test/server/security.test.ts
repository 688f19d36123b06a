/**
 * Shared security suite: every authenticated route × {no token, malformed
 * token, API key instead of a session token, unknown token, expired token
 * (injected clock), signed-out token, another team's user}.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, type Harness} from './helpers.js'

interface RouteCase {
  method: string
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
]

describe('security suite', () => {
  let h: Harness
  let ann: string
  let apiKey: string
  // A fresh service per test (sign-ins here would otherwise meet the per-address login limit).
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('bob', 'web')
    ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    apiKey = (await h.issueKey(ann, 'weather-app')).key
  })
  afterEach(async () => h.cleanup())

  it('covers every session-authenticated route in the OpenAPI document', async () => {
    const doc = (await h.request('GET', '/openapi.json')).body
    const secured: string[] = []
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, {security?: Array<Record<string, unknown>>}>>)) {
      for (const [method, op] of Object.entries(ops)) {
        if (op.security?.some((s) => 'session' in s)) secured.push(`${method.toUpperCase()} ${path.replace('{slug}', 'weather-app')}`)
      }
    }
    expect(secured.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort())
  })

  describe.each(ROUTES)('$method $path', (route) => {
    const call = (token?: string, headers?: Record<string, string>) =>
      h.request(route.method, route.path, {...(token === undefined ? {} : {token}), ...(route.body === undefined ? {} : {body: route.body}), ...(headers ? {headers} : {})})

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

    it('401 with a well-formed unknown token', async () => {
      expectProblemShape(await call(`aks_${'A'.repeat(40)}`), 401, 'unauthenticated')
    })

    it('401 with an expired token (injected clock)', async () => {
      const token = await h.login('ann')
      h.clock.advance(30 * DAY_MS)
      const problem = expectProblemShape(await call(token), 401, 'unauthenticated')
      expect(problem.detail).toMatch(/expired/)
    })

    it('401 with a signed-out token', async () => {
      const token = await h.login('ann')
      expect((await h.request('DELETE', '/v1/sessions/current', {token})).status).toBe(204)
      expectProblemShape(await call(token), 401, 'unauthenticated')
    })

    it(`another team's user: ${route.otherTeam === 403 ? '403 forbidden' : 'allowed (own or directory data)'}`, async () => {
      const bob = await h.login('bob')
      const res = await call(bob)
      if (route.otherTeam === 403) {
        const problem = expectProblemShape(res, 403, 'forbidden')
        expect(problem.detail).toContain('mobile')
      } else {
        expect(res.status).toBeLessThan(300)
        // Never another team's keys or private data.
        expect(res.text).not.toContain(apiKey)
        if (route.path === '/v1/apps') expect(res.body.apps).toEqual([])
      }
    })
  })
})
