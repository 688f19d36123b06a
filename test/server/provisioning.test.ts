/**
 * Provisioning tokens for CI: POST/GET/DELETE /v1/tokens, and what a token can
 * do — issue `ci` keys for its own app with build metadata — and nothing else.
 * (Every other route × provisioning token is in security.test.ts.)
 */
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

const BUILD = {
  commit: '9f2c1e7',
  branch: 'main',
  build: '1234',
  buildUrl: 'https://ci.example.com/builds/1234',
  version: '2.4.0',
  ciProvider: 'github-actions',
  repository: 'example/weather-app',
}

describe('provisioning tokens', () => {
  let h: Harness
  let ann: string // owner of mobile (weather-app)
  let cy: string // member of mobile
  let bob: string // owner of web (other-app)
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('cy', 'mobile')
    await h.addUser('bob', 'web')
    ann = await h.login('ann')
    cy = await h.login('cy')
    bob = await h.login('bob')
    await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')
    await h.createApp(bob, 'other-app', 'web')
  })
  afterEach(async () => h.cleanup())

  describe('POST /v1/tokens', () => {
    it('201: akp_ + 40 base62 shown once, display start, default expiry 90 d, stored only as SHA-256', async () => {
      const res = await h.request('POST', '/v1/tokens', {token: cy, body: {app: 'weather-app', scope: 'ci', name: 'github'}})
      expect(res.status).toBe(201)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const body = res.body
      expect(body.token).toMatch(/^akp_[0-9A-Za-z]{40}$/)
      expect(body).toEqual({
        id: expect.stringMatching(/^tok_[0-9A-Za-z]{20}$/),
        app: 'weather-app',
        scope: 'ci',
        name: 'github',
        start: `${body.token.slice(0, 8)}…`,
        createdBy: 'cy',
        createdAt: T0,
        expiresAt: T0 + 90 * DAY_MS,
        revokedAt: null,
        revokedBy: null,
        lastUsedAt: null,
        status: 'active',
        token: body.token,
      })
      const raw = new BetterSqlite3(h.dbPath, {readonly: true})
      try {
        expect((raw.prepare('select token_hash from provisioning_tokens').get() as {token_hash: string}).token_hash).toMatch(/^[0-9a-f]{64}$/)
      } finally {
        raw.close()
      }
      const secret = body.token.slice(4)
      for (const name of await readdir(h.dir)) expect((await readFile(join(h.dir, name))).includes(Buffer.from(secret)), name).toBe(false)
    })

    it('expiry: explicit ms within 365 d; seconds, past and too-distant values are 400', async () => {
      expect((await h.createToken(ann, 'weather-app', {expiresAt: T0 + 365 * DAY_MS})).expiresAt).toBe(T0 + 365 * DAY_MS)
      const create = (expiresAt: unknown) => h.request('POST', '/v1/tokens', {token: ann, body: {app: 'weather-app', scope: 'ci', expiresAt}})
      expect(expectProblemShape(await create(1_900_000_000), 400, 'validation').field).toBe('expiresAt')
      expect(expectProblemShape(await create(T0), 400, 'validation').detail).toMatch(/future/)
      expect(expectProblemShape(await create(T0 + 365 * DAY_MS + 1), 400, 'validation').detail).toMatch(/365 days/)
      expect(expectProblemShape(await h.request('POST', '/v1/tokens', {token: ann, body: {app: 'weather-app', scope: 'admin'}}), 400, 'validation').field).toBe('scope')
    })

    it("404 for an unknown app; 403 for another team's app naming the owning team", async () => {
      expectProblemShape(await h.request('POST', '/v1/tokens', {token: ann, body: {app: 'nope-app', scope: 'ci'}}), 404, 'not_found')
      const problem = expectProblemShape(await h.request('POST', '/v1/tokens', {token: bob, body: {app: 'weather-app', scope: 'ci'}}), 403, 'forbidden')
      expect(problem.owningTeam).toBe('mobile')
      expect(problem.detail).toContain('weather@example.com')
    })
  })

  describe('GET /v1/tokens and DELETE /v1/tokens/{id}', () => {
    it('lists without secrets; per app for members, all of your apps without app, all for admins', async () => {
      const a = await h.createToken(ann, 'weather-app')
      h.clock.advance(1000)
      const b = await h.createToken(ann, 'weather-app', {name: 'second'})
      const c = await h.createToken(bob, 'other-app')
      const mine = await h.request('GET', '/v1/tokens?app=weather-app', {token: cy})
      expect(mine.status).toBe(200)
      expect(mine.body.tokens.map((t: {id: string}) => t.id)).toEqual([b.id, a.id])
      for (const t of mine.body.tokens) expect(t).not.toHaveProperty('token')
      expect(mine.text).not.toContain(a.token)
      expect((await h.request('GET', '/v1/tokens', {token: bob})).body.tokens.map((t: {id: string}) => t.id)).toEqual([c.id])
      expectProblemShape(await h.request('GET', '/v1/tokens?app=weather-app', {token: bob}), 403, 'forbidden')
      expectProblemShape(await h.request('GET', '/v1/tokens?app=nope-app', {token: bob}), 404, 'not_found')
      await h.addUser('root', 'ops', {admin: true})
      const root = await h.login('root')
      expect((await h.request('GET', '/v1/tokens', {token: root})).body.tokens).toHaveLength(3)
    })

    it('revokes at once; twice answers alreadyRevoked with the original time; 404 unknown; 403 other team', async () => {
      const t = await h.createToken(ann, 'weather-app')
      expectProblemShape(await h.request('DELETE', `/v1/tokens/${t.id}`, {token: bob}), 403, 'forbidden')
      const first = await h.request('DELETE', `/v1/tokens/${t.id}`, {token: cy})
      expect(first.status).toBe(200)
      expect(first.body).toEqual({alreadyRevoked: false, token: expect.objectContaining({id: t.id, status: 'revoked', revokedAt: T0, revokedBy: 'cy'})})
      h.clock.advance(60_000)
      const again = await h.request('DELETE', `/v1/tokens/${t.id}`, {token: ann})
      expect(again.body).toEqual({alreadyRevoked: true, token: expect.objectContaining({revokedAt: T0, revokedBy: 'cy'})})
      expectProblemShape(await h.request('DELETE', `/v1/tokens/tok_${'Z'.repeat(20)}`, {token: ann}), 404, 'not_found')
      const wrongShape = await h.request('DELETE', `/v1/tokens/${t.token}`, {token: ann})
      expectProblemShape(wrongShape, 404, 'not_found')
      expect(wrongShape.text).not.toContain(t.token)
    })
  })

  describe('a provisioning token issuing CI keys', () => {
    it('issues a ci key for its app with build metadata; createdBy token:<id>; default ci lifetime; lastUsedAt kept', async () => {
      const t = await h.createToken(ann, 'weather-app')
      h.clock.advance(5000)
      const res = await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {metadata: BUILD, name: 'build 1234'}})
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({app: 'weather-app', env: 'ci', kind: 'ci', name: 'build 1234', createdBy: `token:${t.id}`, metadata: BUILD, expiresAt: T0 + 5000 + 7 * DAY_MS, status: 'active'})
      expect(res.body.key).toMatch(/^ak_weather-app_ci_/)
      // No body at all works too (env ci, defaults).
      expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token})).status).toBe(201)
      // Explicit env ci and kind ci are fine; expiry within the ci maximum (30 d).
      expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {env: 'ci', kind: 'ci', expiresAt: T0 + 30 * DAY_MS}})).status).toBe(201)
      expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {expiresAt: T0 + 31 * DAY_MS}}), 400, 'validation')
      const listed = await h.request('GET', `/v1/tokens?app=weather-app`, {token: ann})
      expect(listed.body.tokens[0].lastUsedAt).toBe(T0 + 5000)
      const keys = (await h.request('GET', '/v1/apps/weather-app/keys', {token: ann})).body.keys
      expect(keys.every((k: {createdBy: string}) => k.createdBy === `token:${t.id}`)).toBe(true)
      // The owning team can manage the key like any other.
      expect((await h.request('DELETE', `/v1/keys/${res.body.id}`, {token: ann})).body.key.revokedBy).toBe('ann')
    })

    it('403 for another app, another env or kind — with the reason', async () => {
      const t = await h.createToken(ann, 'weather-app')
      const other = expectProblemShape(await h.request('POST', '/v1/apps/other-app/keys', {token: t.token, body: {}}), 403, 'forbidden')
      expect(other.detail).toContain('provisioning tokens can only issue CI keys for their app')
      expect(other.detail).toContain('it cannot issue keys for app "other-app"')
      expect(other.app).toBe('weather-app')
      const env = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {env: 'prod'}}), 403, 'forbidden')
      expect(env.detail).toContain('env ci only, not prod')
      const kind = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {kind: 'service'}}), 403, 'forbidden')
      expect(kind.detail).toContain('kind ci only, not service')
      expect((await h.request('GET', '/v1/apps/weather-app/keys', {token: ann})).body.keys).toEqual([])
    })

    it('expired → 401 "expired at …"; revoked → 401 "revoked at …"; keys it issued stay valid', async () => {
      const t = await h.createToken(ann, 'weather-app', {expiresAt: T0 + DAY_MS})
      const key = (await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {}})).body
      h.clock.advance(DAY_MS)
      const expired = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: t.token, body: {}}), 401, 'unauthenticated')
      expect(expired.detail).toBe(`the provisioning token ${t.id} for app "weather-app" expired at 2030-01-02T00:00:00.000Z`)
      expect(expired.expiredAt).toBe(T0 + DAY_MS)

      const ann2 = await h.login('ann')
      const u = await h.createToken(ann2, 'weather-app')
      await h.request('DELETE', `/v1/tokens/${u.id}`, {token: ann2})
      const revoked = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: u.token, body: {}}), 401, 'unauthenticated')
      expect(revoked.detail).toBe(`the provisioning token ${u.id} for app "weather-app" was revoked at 2030-01-02T00:00:00.000Z`)
      expect((await h.request('POST', '/v1/keys/whoami', {token: key.key})).body.key.status).toBe('active')
    })

    it('GET /v1/me answers 403 with the token identity; whoami says it is not an API key', async () => {
      const t = await h.createToken(ann, 'weather-app')
      const me = await h.request('GET', '/v1/me', {token: t.token})
      const problem = expectProblemShape(me, 403, 'forbidden')
      expect(problem).toMatchObject({credential: 'provisioning_token', tokenId: t.id, app: 'weather-app', scope: 'ci', expiresAt: t.expiresAt})
      expect(problem.detail).toContain('it cannot call GET /v1/me')
      const who = expectProblemShape(await h.request('POST', '/v1/keys/whoami', {token: t.token}), 400, 'malformed_key')
      expect(who.detail).toMatch(/this is a provisioning token \(akp_…\), not an API key/)
      expect(me.text + JSON.stringify(who)).not.toContain(t.token)
    })

    it('can never read or change anything outside its app: every other call is refused and state is unchanged', async () => {
      const t = await h.createToken(ann, 'weather-app')
      const otherKey = await h.issueKey(bob, 'other-app')
      const calls: Array<[string, string, unknown?]> = [
        ['GET', '/v1/apps'],
        ['GET', '/v1/apps/other-app/keys'],
        ['GET', '/v1/apps/weather-app/keys'],
        ['GET', `/v1/keys/${otherKey.id}`],
        ['DELETE', `/v1/keys/${otherKey.id}`],
        ['POST', `/v1/keys/${otherKey.id}/rotate`, {graceMs: 0}],
        ['POST', '/v1/apps/other-app/keys', {env: 'ci'}],
        ['POST', '/v1/apps/weather-app/transfer', {team: 'web'}],
        ['POST', '/v1/tokens', {app: 'weather-app', scope: 'ci'}],
        ['GET', '/v1/tokens'],
        ['DELETE', `/v1/tokens/${t.id}`],
        ['GET', '/v1/audit'],
        ['POST', '/v1/apps', {slug: 'sneaky-app', name: 'x', team: 'mobile', contactEmail: 'x@example.com'}],
      ]
      for (const [method, path, body] of calls) {
        const res = await h.request(method, path, {token: t.token, ...(body === undefined ? {} : {body})})
        expect(res.status, `${method} ${path}`).toBe(403)
        expect(res.text).not.toContain(otherKey.key)
      }
      expect((await h.request('POST', '/v1/keys/whoami', {token: otherKey.key})).body.key.status).toBe('active')
      expect((await h.request('GET', '/v1/tokens?app=weather-app', {token: ann})).body.tokens[0].status).toBe('active')
      expect((await h.request('GET', '/v1/apps/sneaky-app', {token: ann})).status).toBe(404)
    })
  })
})
