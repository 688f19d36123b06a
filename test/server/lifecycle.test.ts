/**
 * Key lifecycle routes: GET /v1/keys/{id}, rotate, revoke, app transfer, and
 * key-creation rules (prod point of contact). Rotation grace and expiry instants live in
 * expiry-cases.ts; change events in lifecycle-events.test.ts.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

describe('key lifecycle routes', () => {
  let h: Harness
  let ann: string // owner of mobile (owns weather-app)
  let cy: string // member (not owner) of mobile
  let bob: string // owner of web
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('cy', 'mobile')
    await h.addUser('bob', 'web')
    ann = await h.login('ann')
    cy = await h.login('cy')
    bob = await h.login('bob')
    expect((await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')).status).toBe(201)
  })
  afterEach(async () => h.cleanup())

  function expectOwningTeamNamed(problem: any): void {
    expect(problem.detail).toContain('Team mobile (mobile)')
    expect(problem.detail).toContain('weather@example.com')
    expect(problem.owningTeam).toBe('mobile')
    expect(problem.contactEmail).toBe('weather@example.com')
  }

  describe('GET /v1/keys/{id}', () => {
    it('answers the app and the key view with rotation null and status at the injected clock', async () => {
      const issued = await h.issueKey(ann, 'weather-app', {env: 'ci', metadata: {commit: 'abc'}})
      const res = await h.request('GET', `/v1/keys/${issued.id}`, {token: cy})
      expect(res.status).toBe(200)
      const {key: _plaintext, ...view} = issued
      expect(res.body).toEqual({app: expect.objectContaining({slug: 'weather-app', team: expect.objectContaining({slug: 'mobile'})}), key: view})
      expect(res.body.key.rotation).toBeNull()
      expect(res.text).not.toContain(issued.key)
      h.clock.advance(7 * DAY_MS)
      expect((await h.request('GET', `/v1/keys/${issued.id}`, {token: ann})).body.key.status).toBe('expired')
    })

    it('404 for an unknown or malformed id; 403 for another team naming the owning team', async () => {
      const issued = await h.issueKey(ann, 'weather-app')
      expectProblemShape(await h.request('GET', `/v1/keys/key_${'A'.repeat(20)}`, {token: ann}), 404, 'key_not_found')
      expectProblemShape(await h.request('GET', '/v1/keys/nonsense', {token: ann}), 404, 'key_not_found')
      expectOwningTeamNamed(expectProblemShape(await h.request('GET', `/v1/keys/${issued.id}`, {token: bob}), 403, 'forbidden'))
    })
  })

  describe('POST /v1/keys/{id}/rotate', () => {
    it("403 for another team's key naming the owning team; 404 for an unknown id", async () => {
      const issued = await h.issueKey(ann, 'weather-app')
      expectOwningTeamNamed(expectProblemShape(await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: bob, body: {}}), 403, 'forbidden'))
      expectProblemShape(await h.request('POST', `/v1/keys/key_${'B'.repeat(20)}/rotate`, {token: ann, body: {}}), 404, 'key_not_found')
      // Nothing changed.
      expect((await h.request('GET', `/v1/keys/${issued.id}`, {token: ann})).body.key.rotation).toBeNull()
    })

    it('any member of the owning team may rotate a team key (not only owners)', async () => {
      const issued = await h.issueKey(ann, 'weather-app', {env: 'stage', kind: 'service'})
      const res = await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: cy, body: {graceMs: 60_000}})
      expect(res.status).toBe(201)
      expect(res.body.newKey.createdBy).toBe('cy')
    })

    it('400 naming the rule for a grace over the maximum (7 d), negative or fractional', async () => {
      const issued = await h.issueKey(ann, 'weather-app')
      const over = expectProblemShape(await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {graceMs: 7 * DAY_MS + 1}}), 400, 'validation')
      expect(over.field).toBe('graceMs')
      expect(over.detail).toContain('604800000')
      expect(over.detail).toContain('7 days')
      const negative = expectProblemShape(await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {graceMs: -1}}), 400, 'validation')
      expect(negative.detail).toMatch(/from 0/)
      expect(expectProblemShape(await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {graceMs: 1.5}}), 400, 'validation').field).toBe('graceMs')
      expect(expectProblemShape(await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {grace: 5}}), 400, 'validation').field).toBe('grace')
      // Exactly the maximum is fine.
      expect((await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {graceMs: 7 * DAY_MS}})).status).toBe(201)
    })

    it('409 for a revoked, an expired, or an already rotated key, with a clear detail', async () => {
      const revoked = await h.issueKey(ann, 'weather-app')
      expect((await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})).status).toBe(200)
      const r1 = expectProblemShape(await h.request('POST', `/v1/keys/${revoked.id}/rotate`, {token: ann, body: {}}), 409, 'conflict')
      expect(r1.detail).toMatch(/was revoked at 2030-01-01T00:00:00.000Z; a revoked key cannot be rotated/)

      const rotated = await h.issueKey(ann, 'weather-app')
      const first = await h.request('POST', `/v1/keys/${rotated.id}/rotate`, {token: ann, body: {}})
      const r2 = expectProblemShape(await h.request('POST', `/v1/keys/${rotated.id}/rotate`, {token: ann, body: {}}), 409, 'conflict')
      expect(r2.detail).toContain(`rotate its replacement ${first.body.newKey.id} instead`)
      expect(r2.replacedBy).toBe(first.body.newKey.id)

      const short = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: T0 + 1000})
      h.clock.advance(1000)
      const r3 = expectProblemShape(await h.request('POST', `/v1/keys/${short.id}/rotate`, {token: ann, body: {}}), 409, 'conflict')
      expect(r3.detail).toMatch(/expired at 2030-01-01T00:00:01.000Z; an expired key cannot be rotated/)
      expect(r3.status).toBe(409)
    })

    it('409 for an ended key names the command that issues a new key of its kind (service → keys create, dev → init --new-key)', async () => {
      for (const [body, command] of [
        [{env: 'test', kind: 'service'}, 'apikey keys create --app weather-app --env test'],
        [{env: 'dev'}, 'apikey init --new-key'],
      ] as const) {
        const revoked = await h.issueKey(ann, 'weather-app', body)
        expect((await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})).status).toBe(200)
        const r = expectProblemShape(await h.request('POST', `/v1/keys/${revoked.id}/rotate`, {token: ann, body: {}}), 409, 'conflict')
        expect(r.detail).toMatch(new RegExp(`a revoked key cannot be rotated — issue a new key instead: ${command}$`))
        expect(r.suggestions).toEqual([command])

        const short = await h.issueKey(ann, 'weather-app', {...body, expiresAt: h.clock.now() + 1000})
        h.clock.advance(1000)
        const e = expectProblemShape(await h.request('POST', `/v1/keys/${short.id}/rotate`, {token: ann, body: {}}), 409, 'conflict')
        expect(e.detail).toMatch(new RegExp(`an expired key cannot be rotated — issue a new key instead: ${command}$`))
        expect(e.suggestions).toEqual([command])
      }
    })
  })

  describe('DELETE /v1/keys/{id}', () => {
    it('revokes at once; twice answers 200 alreadyRevoked with the original revokedAt/revokedBy; whoami shows them', async () => {
      const issued = await h.issueKey(ann, 'weather-app', {env: 'prod', kind: 'service'})
      const res = await h.request('DELETE', `/v1/keys/${issued.id}`, {token: ann})
      expect(res.status).toBe(200)
      expect(res.body).toEqual({alreadyRevoked: false, key: expect.objectContaining({id: issued.id, status: 'revoked', revokedAt: T0, revokedBy: 'ann'})})
      h.clock.advance(5000)
      const again = await h.request('DELETE', `/v1/keys/${issued.id}`, {token: cy})
      expect(again.status).toBe(200)
      expect(again.body).toEqual({alreadyRevoked: true, key: expect.objectContaining({status: 'revoked', revokedAt: T0, revokedBy: 'ann'})})
      const who = await h.request('POST', '/v1/keys/whoami', {token: issued.key})
      expect(who.body.key).toMatchObject({status: 'revoked', revokedAt: T0, revokedBy: 'ann'})
    })

    it("403 for another team's key naming the owning team (key stays active); 404 for an unknown id", async () => {
      const issued = await h.issueKey(ann, 'weather-app')
      expectOwningTeamNamed(expectProblemShape(await h.request('DELETE', `/v1/keys/${issued.id}`, {token: bob}), 403, 'forbidden'))
      expect((await h.request('POST', '/v1/keys/whoami', {token: issued.key})).body.key.status).toBe('active')
      expectProblemShape(await h.request('DELETE', `/v1/keys/key_${'C'.repeat(20)}`, {token: ann}), 404, 'key_not_found')
    })

    it('revoking a rotated key ends its grace period at once', async () => {
      const issued = await h.issueKey(ann, 'weather-app')
      await h.request('POST', `/v1/keys/${issued.id}/rotate`, {token: ann, body: {graceMs: DAY_MS}})
      const res = await h.request('DELETE', `/v1/keys/${issued.id}`, {token: ann})
      expect(res.body.key).toMatchObject({status: 'revoked', rotation: expect.objectContaining({graceEndsAt: T0 + DAY_MS})})
      expect((await h.request('POST', '/v1/keys/whoami', {token: issued.key})).body.key.status).toBe('revoked')
    })
  })

  describe('POST /v1/apps/{slug}/keys rules', () => {
    it('a prod key needs the app to have a point of contact (409 otherwise)', async () => {
      const raw = new BetterSqlite3(h.dbPath)
      try {
        raw.prepare("update apps set contact_email = '' where slug = 'weather-app'").run()
      } finally {
        raw.close()
      }
      const res = await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'prod'}})
      expect(expectProblemShape(res, 409, 'conflict').detail).toMatch(/no valid point of contact; a prod key needs one/)
      expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {env: 'dev'}})).status).toBe(201)
    })

    it('a session caller must name the env', async () => {
      expect(expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body: {}}), 400, 'validation').field).toBe('env')
      expect(expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: ann}), 400, 'validation').field).toBe('env')
    })
  })

  describe('POST /v1/apps/{slug}/transfer', () => {
    it('an owner of the current team who is a member of the target moves the app; keys do not change', async () => {
      await h.addUser('ann', 'web') // ann becomes a member of web
      const key = await h.issueKey(ann, 'weather-app', {env: 'prod'})
      const res = await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web', contactEmail: 'web-weather@example.com'}})
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({slug: 'weather-app', team: {slug: 'web', name: 'Team web'}, contactEmail: 'web-weather@example.com', createdBy: 'ann'})
      // The same key still works and now names the new team.
      const who = await h.request('POST', '/v1/keys/whoami', {token: key.key})
      expect(who.body.key).toMatchObject({id: key.id, status: 'active', expiresAt: key.expiresAt})
      expect(who.body.app.team.slug).toBe('web')
      // Access follows the owning team.
      expect((await h.request('GET', '/v1/apps/weather-app/keys', {token: bob})).status).toBe(200)
      expectProblemShape(await h.request('GET', '/v1/apps/weather-app/keys', {token: cy}), 403, 'forbidden')
    })

    it('without contactEmail the point of contact is unchanged', async () => {
      await h.addUser('ann', 'web')
      const res = await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web'}})
      expect(res.body.contactEmail).toBe('weather@example.com')
    })

    it('403 for a member who is not an owner, for an outsider, and for an owner who is not in the target team', async () => {
      await h.addUser('cy', 'web')
      const member = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: cy, body: {team: 'web'}}), 403, 'forbidden')
      expect(member.detail).toMatch(/only owners of that team \(or service admins\) can transfer it, and only to a team they are a member of/)
      expect(member.owningTeam).toBe('mobile')
      expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: bob, body: {team: 'web'}}), 403, 'forbidden')
      const notInTarget = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web'}}), 403, 'forbidden')
      expect(notInTarget.detail).toMatch(/not a member of team Team web \(web\)/)
      expect((await h.request('GET', '/v1/apps/weather-app', {token: ann})).body.team.slug).toBe('mobile')
    })

    it('an admin may transfer any app to any team', async () => {
      await h.addUser('root', 'ops', {admin: true})
      const root = await h.login('root')
      const res = await h.request('POST', '/v1/apps/weather-app/transfer', {token: root, body: {team: 'web'}})
      expect(res.status).toBe(200)
      expect(res.body.team.slug).toBe('web')
    })

    it('404 for an unknown app or team, 409 for the current team, 400 for a bad contact email', async () => {
      await h.addUser('ann', 'web')
      expectProblemShape(await h.request('POST', '/v1/apps/nope-app/transfer', {token: ann, body: {team: 'web'}}), 404, 'not_found')
      expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'nope-team'}}), 404, 'not_found')
      expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'mobile'}}), 409, 'conflict')
      expect(expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web', contactEmail: 'nope'}}), 400, 'validation').field).toBe('contactEmail')
      expect(expectProblemShape(await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {}}), 400, 'validation').field).toBe('team')
    })
  })
})
