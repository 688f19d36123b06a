/**
 * Who may change a key: a personal key (kind dev, issued by a person) is
 * rotated or replaced only by the person who holds it and revoked by them or
 * an owner of the team; a service admin may revoke any key with a reason kept
 * in the audit log; ending a key in favour of one the caller already holds
 * (POST /v1/keys/{id}/replace); an app transfer stops the old team's
 * provisioning tokens.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

describe('who may rotate, replace and revoke a key', () => {
  let h: Harness
  let ann: string // owner of mobile (owns weather-app)
  let cy: string // member of mobile
  let dee: string // member of mobile
  let root: string // service admin, member of platform only
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('cy', 'mobile')
    await h.addUser('dee', 'mobile')
    await h.addUser('root', 'platform', {admin: true})
    ann = await h.login('ann')
    cy = await h.login('cy')
    dee = await h.login('dee')
    root = await h.login('root')
    expect((await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')).status).toBe(201)
  })
  afterEach(async () => h.cleanup())

  async function keyOf(id: string): Promise<any> {
    return (await h.request('GET', `/v1/keys/${id}`, {token: ann})).body.key
  }

  it("a team member cannot rotate a colleague's personal dev key (no new secret); the holder can", async () => {
    const personal = await h.issueKey(dee, 'weather-app', {env: 'dev'})
    const refused = expectProblemShape(await h.request('POST', `/v1/keys/${personal.id}/rotate`, {token: cy, body: {graceMs: 0}}), 403, 'forbidden')
    expect(refused.detail).toContain('personal dev key of dee')
    expect(refused.detail).toContain('only dee (who holds it) can rotate it')
    expect(refused.holder).toBe('dee')
    expect(refused.newKey).toBeUndefined()
    // Team owners may not rotate it either (they may revoke it).
    expectProblemShape(await h.request('POST', `/v1/keys/${personal.id}/rotate`, {token: ann, body: {}}), 403, 'forbidden')
    expect(await keyOf(personal.id)).toMatchObject({status: 'active', rotation: null})
    expect((await h.request('GET', '/v1/keys/' + personal.id, {token: ann})).body.app.slug).toBe('weather-app')
    const own = await h.request('POST', `/v1/keys/${personal.id}/rotate`, {token: dee, body: {graceMs: 0}})
    expect(own.status).toBe(201)
    expect(own.body.newKey.createdBy).toBe('dee')
  })

  it('any member may rotate a team key (service or ci)', async () => {
    const service = await h.issueKey(ann, 'weather-app', {env: 'prod', kind: 'service'})
    const res = await h.request('POST', `/v1/keys/${service.id}/rotate`, {token: cy, body: {graceMs: 60_000}})
    expect(res.status, res.text).toBe(201)
    expect(res.body.newKey.createdBy).toBe('cy')
  })

  it("a member cannot revoke a colleague's personal key; a team owner can, and whoami says who and when", async () => {
    const personal = await h.issueKey(dee, 'weather-app', {env: 'dev'})
    const refused = expectProblemShape(await h.request('DELETE', `/v1/keys/${personal.id}`, {token: cy}), 403, 'forbidden')
    expect(refused.detail).toContain('only dee (who holds it) or an owner of team mobile can revoke it')
    expect((await keyOf(personal.id)).status).toBe('active')
    h.clock.advance(5000)
    const res = await h.request('DELETE', `/v1/keys/${personal.id}`, {token: ann})
    expect(res.status).toBe(200)
    const who = await h.request('POST', '/v1/keys/whoami', {token: personal.key})
    expect(who.body.key).toMatchObject({status: 'revoked', revokedBy: 'ann', revokedAt: T0 + 5000})
  })

  it("a member cannot rate-limit a colleague's personal key; its holder, a team owner and a service admin can; team keys stay open to members", async () => {
    const personal = await h.issueKey(dee, 'weather-app', {env: 'dev'})
    const refused = expectProblemShape(await h.request('PUT', `/v1/keys/${personal.id}/limit`, {token: cy, body: {rpm: 1}}), 403, 'forbidden')
    expect(refused.detail).toContain('only dee (who holds it) or an owner of team mobile can change its rate limit')
    expect(refused.suggestions.join(' ')).toContain(`apikey keys limit ${personal.id} --rpm N`)
    for (const token of [dee, ann, root]) expect((await h.request('PUT', `/v1/keys/${personal.id}/limit`, {token, body: {rpm: 100}})).status).toBe(200)
    const service = await h.issueKey(ann, 'weather-app', {env: 'stage', kind: 'service'})
    expect((await h.request('PUT', `/v1/keys/${service.id}/limit`, {token: cy, body: {rpm: 5}})).status).toBe(200)
  })

  it('the holder may revoke their own personal key; any member may revoke a team key', async () => {
    const personal = await h.issueKey(dee, 'weather-app', {env: 'dev'})
    expect((await h.request('DELETE', `/v1/keys/${personal.id}`, {token: dee})).body.key.revokedBy).toBe('dee')
    const service = await h.issueKey(ann, 'weather-app', {env: 'stage', kind: 'service'})
    expect((await h.request('DELETE', `/v1/keys/${service.id}`, {token: cy})).body.key.revokedBy).toBe('cy')
  })

  it('a service admin outside the team revokes any key with a reason, which the audit log keeps', async () => {
    const personal = await h.issueKey(dee, 'weather-app', {env: 'dev'})
    const noReason = expectProblemShape(await h.request('DELETE', `/v1/keys/${personal.id}`, {token: root}), 400, 'validation')
    expect(noReason.field).toBe('reason')
    expect((await keyOf(personal.id)).status).toBe('active')
    expectProblemShape(await h.request('DELETE', `/v1/keys/${personal.id}`, {token: root, body: {reason: '  '}}), 400, 'validation')
    expectProblemShape(await h.request('DELETE', `/v1/keys/${personal.id}`, {token: root, body: {reason: 'x'.repeat(501)}}), 400, 'validation')
    const res = await h.request('DELETE', `/v1/keys/${personal.id}`, {token: root, body: {reason: 'leaked in a public gist (INC-7)'}})
    expect(res.status, res.text).toBe(200)
    expect(res.body.key).toMatchObject({status: 'revoked', revokedBy: 'root'})
    const audit = await h.request('GET', '/v1/audit?app=weather-app', {token: ann})
    const event = audit.body.events.find((e: any) => e.action === 'key.revoke')
    expect(event).toMatchObject({actor: 'root', target: `key:${personal.id}`, details: {reason: 'leaked in a public gist (INC-7)', asAdmin: true}})
  })

  it('a non-admin outside the team is refused whatever the reason', async () => {
    await h.addUser('bob', 'web')
    const bob = await h.login('bob')
    const key = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    expectProblemShape(await h.request('DELETE', `/v1/keys/${key.id}`, {token: bob, body: {reason: 'incident'}}), 403, 'forbidden')
    expect((await keyOf(key.id)).status).toBe('active')
  })

  describe('POST /v1/keys/{id}/replace', () => {
    it('ends the old key after the grace in favour of a key the caller holds; no key is issued', async () => {
      const old = await h.issueKey(dee, 'weather-app', {env: 'dev'})
      const fresh = await h.issueKey(dee, 'weather-app', {env: 'dev'})
      const res = await h.request('POST', `/v1/keys/${old.id}/replace`, {token: dee, body: {replacementId: fresh.id, graceMs: 60_000}})
      expect(res.status, res.text).toBe(200)
      expect(res.body.oldKey).toMatchObject({id: old.id, status: 'active', rotation: {rotatedAt: T0, replacedBy: fresh.id, graceEndsAt: T0 + 60_000}})
      expect(res.body.newKey).toMatchObject({id: fresh.id, status: 'active'})
      expect(res.text).not.toContain(fresh.key)
      expect((await h.request('GET', '/v1/apps/weather-app/keys', {token: dee})).body.keys).toHaveLength(2)
      h.clock.advance(60_000)
      expect((await h.request('POST', '/v1/keys/whoami', {token: old.key})).body.key.status).toBe('expired')
      const audit = await h.request('GET', '/v1/audit?app=weather-app', {token: ann})
      expect(audit.body.events.find((e: any) => e.action === 'key.rotate')).toMatchObject({actor: 'dee', details: {newKeyId: fresh.id, existingReplacement: true, graceMs: 60_000}})
    })

    it("refuses a colleague's personal key, an unsuitable replacement, and an ended key", async () => {
      const old = await h.issueKey(dee, 'weather-app', {env: 'dev'})
      const mine = await h.issueKey(cy, 'weather-app', {env: 'dev'})
      expectProblemShape(await h.request('POST', `/v1/keys/${old.id}/replace`, {token: cy, body: {replacementId: mine.id}}), 403, 'forbidden')
      const otherEnv = await h.issueKey(dee, 'weather-app', {env: 'test'})
      for (const replacementId of [old.id, otherEnv.id, mine.id]) {
        const problem = expectProblemShape(await h.request('POST', `/v1/keys/${old.id}/replace`, {token: dee, body: {replacementId}}), 400, 'validation')
        expect(problem.field).toBe('replacementId')
      }
      expectProblemShape(await h.request('POST', `/v1/keys/${old.id}/replace`, {token: dee, body: {replacementId: 'nonsense'}}), 400, 'validation')
      expect((await keyOf(old.id)).rotation).toBeNull()
      const fresh = await h.issueKey(dee, 'weather-app', {env: 'dev'})
      await h.request('DELETE', `/v1/keys/${old.id}`, {token: dee})
      const ended = expectProblemShape(await h.request('POST', `/v1/keys/${old.id}/replace`, {token: dee, body: {replacementId: fresh.id}}), 409, 'conflict')
      expect(ended.detail).toContain('a revoked key cannot be rotated')
    })
  })
})

describe('an app transfer stops the old team’s provisioning tokens', () => {
  let h: Harness
  afterEach(async () => h.cleanup())

  it('revokes every active token of the app, lists them in the answer and the audit log; the new team sees them', async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('ann', 'web', {role: 'owner'})
    await h.addUser('bob', 'web')
    const ann = await h.login('ann')
    const bob = await h.login('bob')
    expect((await h.createApp(ann, 'weather-app', 'mobile')).status).toBe(201)
    const active = await h.createToken(ann, 'weather-app', {name: 'build'})
    const revokedBefore = await h.createToken(ann, 'weather-app', {name: 'old'})
    await h.request('DELETE', `/v1/tokens/${revokedBefore.id}`, {token: ann})
    expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: active.token, body: {}})).status).toBe(201)

    const moved = await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web'}})
    expect(moved.status, moved.text).toBe(200)
    expect(moved.body.team.slug).toBe('web')
    expect(moved.body.revokedTokens.map((t: any) => t.id)).toEqual([active.id])
    expect(moved.body.revokedTokens[0]).toMatchObject({status: 'revoked', revokedBy: 'ann'})
    expect(moved.text).not.toContain(active.token)

    const refused = expectProblemShape(await h.request('POST', '/v1/apps/weather-app/keys', {token: active.token, body: {}}), 401, 'unauthenticated')
    expect(refused.detail).toContain('was revoked')
    const listed = await h.request('GET', '/v1/tokens?app=weather-app', {token: bob})
    expect(listed.status).toBe(200)
    expect(listed.body.tokens.map((t: any) => t.id).sort()).toEqual([active.id, revokedBefore.id].sort())
    const audit = await h.request('GET', '/v1/audit?app=weather-app', {token: ann})
    expect(audit.body.events.find((e: any) => e.action === 'app.transfer').details.revokedTokens).toEqual([active.id])
    expect(audit.body.events.filter((e: any) => e.action === 'token.revoke' && e.details.reason === 'app transferred')).toHaveLength(1)
  })
})
