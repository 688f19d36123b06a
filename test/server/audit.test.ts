/**
 * Audit log: every mutation writes exactly one entry (actor, action, target,
 * time, source address) in the same transaction; GET /v1/audit serves them
 * newest first to owners (their apps) and admins (everything); nothing ever
 * updates or deletes an entry.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, PASSWORD, startHarness, T0, type Harness} from './helpers.js'

function rawEvents(h: Harness): Array<Record<string, unknown>> {
  const raw = new BetterSqlite3(h.dbPath, {readonly: true})
  try {
    return raw.prepare('select * from audit_events order by id').all() as Array<Record<string, unknown>>
  } finally {
    raw.close()
  }
}

describe('audit log', () => {
  let h: Harness
  let admin: string
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('cy', 'mobile')
    await h.addUser('bob', 'web')
    await h.addUser('root', 'ops', {admin: true})
    admin = await h.login('root')
  })
  afterEach(async () => h.cleanup())

  /** Events of the admin view after `since`, oldest first. */
  async function eventsSince(since: number): Promise<any[]> {
    const res = await h.request('GET', `/v1/audit?since=${since}&limit=1000`, {token: admin})
    expect(res.status).toBe(200)
    return [...res.body.events].reverse()
  }

  it('each mutation writes exactly one entry with actor, action, target, time and source address', async () => {
    const steps: Array<{action: string; target: (x: any) => string; actor: string | null; run: () => Promise<any>}> = []
    let ann = ''
    let key: any
    let rotated: any
    let token: any
    let ciKey: any
    await h.addUser('ann', 'web')
    steps.push({action: 'session.create', actor: 'ann', target: () => expect.stringMatching(/^session:ses_/), run: async () => (ann = await h.login('ann'))})
    steps.push({action: 'app.create', actor: 'ann', target: () => 'app:weather-app', run: () => h.createApp(ann, 'weather-app', 'mobile')})
    steps.push({action: 'key.create', actor: 'ann', target: () => `key:${key.id}`, run: async () => (key = await h.issueKey(ann, 'weather-app', {env: 'prod'}))})
    steps.push({
      action: 'key.rotate',
      actor: 'ann',
      target: () => `key:${key.id}`,
      run: async () => (rotated = (await h.request('POST', `/v1/keys/${key.id}/rotate`, {token: ann, body: {graceMs: 0}})).body),
    })
    steps.push({action: 'key.revoke', actor: 'ann', target: () => `key:${rotated.newKey.id}`, run: () => h.request('DELETE', `/v1/keys/${rotated.newKey.id}`, {token: ann})})
    steps.push({action: 'token.create', actor: 'ann', target: () => `token:${token.id}`, run: async () => (token = await h.createToken(ann, 'weather-app'))})
    steps.push({
      action: 'key.create',
      actor: 'TOKEN',
      target: () => `key:${ciKey.id}`,
      run: async () => (ciKey = (await h.request('POST', '/v1/apps/weather-app/keys', {token: token.token, body: {metadata: {commit: 'abc'}}})).body),
    })
    steps.push({action: 'token.revoke', actor: 'ann', target: () => `token:${token.id}`, run: () => h.request('DELETE', `/v1/tokens/${token.id}`, {token: ann})})
    steps.push({action: 'app.transfer', actor: 'ann', target: () => 'app:weather-app', run: () => h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web'}})})
    steps.push({action: 'session.revoke', actor: 'ann', target: () => expect.stringMatching(/^session:ses_/), run: () => h.request('DELETE', '/v1/sessions/current', {token: ann})})

    for (const [i, step] of steps.entries()) {
      h.clock.advance(1000)
      const since = h.clock.now()
      await step.run()
      const events = await eventsSince(since)
      expect(events.map((e) => e.action), `step ${i} ${step.action}`).toEqual([step.action])
      expect(events[0]).toEqual({
        id: expect.stringMatching(/^\d+$/),
        actor: step.actor === 'TOKEN' ? `token:${token.id}` : step.actor,
        action: step.action,
        target: step.target(undefined),
        time: since,
        sourceAddress: '127.0.0.1',
        details: expect.any(Object),
      })
      expect(JSON.stringify(events)).not.toMatch(/ak_weather-app_\w+_[0-9A-Za-z]{36}|akp_[0-9A-Za-z]{40}|aks_[0-9A-Za-z]{40}/)
    }
    // Idempotent repeats write nothing.
    h.clock.advance(1000)
    const since = h.clock.now()
    const bob = await h.login('bob')
    expect((await h.request('DELETE', `/v1/keys/${rotated.newKey.id}`, {token: bob})).body.alreadyRevoked).toBe(true)
    expect((await h.request('DELETE', `/v1/tokens/${token.id}`, {token: bob})).body.alreadyRevoked).toBe(true)
    expect((await eventsSince(since)).map((e) => e.action)).toEqual(['session.create'])
  })

  it('membership changes (addUser) and failed sign-ins are audited: `server …` commands show as "server admin (local)" with usernames, not ids; the failed sign-in is anonymous', async () => {
    await h.addUser('dee', 'mobile', {role: 'member'})
    const events = (await h.request('GET', '/v1/audit', {token: admin})).body.events
    expect(events.find((e: any) => e.action === 'membership.add' && e.details.role === 'member' && e.target === 'team:mobile')).toMatchObject({
      actor: 'server admin (local)',
      sourceAddress: null,
      details: {user: 'dee', via: 'cli'},
    })
    expect(events.find((e: any) => e.action === 'user.create' && e.target === 'user:dee')).toMatchObject({actor: 'server admin (local)'})
    // No user id is shown anywhere in what the log answers (the raw rows keep the ids).
    expect(JSON.stringify(events)).not.toMatch(/usr_[0-9A-Za-z]{20}/)
    expect(JSON.stringify(rawEvents(h))).toMatch(/usr_[0-9A-Za-z]{20}/)
    h.clock.advance(1000)
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 'wrong password'}})).status).toBe(401)
    const [failed] = await eventsSince(h.clock.now())
    expect(failed).toMatchObject({action: 'session.create.failed', actor: null, target: 'user:ann', sourceAddress: '127.0.0.1', details: {reason: 'wrong_password'}})
  })

  it('sourceAddress follows trustProxy: X-Forwarded-For counts only when the proxy is trusted', async () => {
    h.clock.advance(1000)
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}, headers: {'x-forwarded-for': '203.0.113.7'}})).status).toBe(201)
    const [spoofed] = await eventsSince(h.clock.now())
    expect(spoofed.sourceAddress).toBe('127.0.0.1')
    const dir = h.dir
    await h.stop()
    h = await startHarness({dir, clock: h.clock, settings: {trustProxy: '127.0.0.1'}})
    admin = await h.login('root')
    h.clock.advance(1000)
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}, headers: {'x-forwarded-for': '203.0.113.7'}})).status).toBe(201)
    const [forwarded] = await eventsSince(h.clock.now())
    expect(forwarded).toMatchObject({action: 'session.create', sourceAddress: '203.0.113.7'})
  })

  describe('GET /v1/audit', () => {
    let ann: string
    let cy: string
    let bob: string
    beforeEach(async () => {
      ann = await h.login('ann')
      cy = await h.login('cy')
      bob = await h.login('bob')
      await h.createApp(ann, 'weather-app', 'mobile')
      h.clock.advance(1000)
      await h.createApp(bob, 'other-app', 'web')
      h.clock.advance(1000)
      await h.issueKey(ann, 'weather-app')
      h.clock.advance(1000)
      await h.issueKey(bob, 'other-app')
    })

    it("owners see their apps' events, newest first; since and limit filter", async () => {
      const res = await h.request('GET', '/v1/audit?app=weather-app', {token: ann})
      expect(res.status).toBe(200)
      expect(res.body.events.map((e: any) => [e.action, e.time])).toEqual([
        ['key.create', T0 + 2000],
        ['app.create', T0],
      ])
      expect(res.body.events.every((e: any) => !JSON.stringify(e).includes('other-app'))).toBe(true)
      // Without app: every app of the teams the caller owns.
      expect((await h.request('GET', '/v1/audit', {token: ann})).body.events).toHaveLength(2)
      expect((await h.request('GET', `/v1/audit?app=weather-app&since=${T0 + 1}`, {token: ann})).body.events.map((e: any) => e.action)).toEqual(['key.create'])
      expect((await h.request('GET', '/v1/audit?app=weather-app&limit=1', {token: ann})).body.events.map((e: any) => e.action)).toEqual(['key.create'])
    })

    it('403 for members who are not owners and for other teams (naming the owning team); 404 unknown app', async () => {
      const member = expectProblemShape(await h.request('GET', '/v1/audit?app=weather-app', {token: cy}), 403, 'forbidden')
      expect(member.detail).toContain('only owners of that team and admins can read its audit log')
      expect(member.owningTeam).toBe('mobile')
      expect(expectProblemShape(await h.request('GET', '/v1/audit?app=weather-app', {token: bob}), 403, 'forbidden').detail).toContain('Team mobile (mobile)')
      expectProblemShape(await h.request('GET', '/v1/audit', {token: cy}), 403, 'forbidden')
      expectProblemShape(await h.request('GET', '/v1/audit?app=nope-app', {token: ann}), 404, 'not_found')
    })

    it('admins see everything, with or without app', async () => {
      const all = (await h.request('GET', '/v1/audit', {token: admin})).body.events.map((e: any) => e.action)
      expect(all).toEqual(expect.arrayContaining(['key.create', 'app.create', 'session.create', 'membership.add', 'user.create', 'team.create']))
      expect((await h.request('GET', '/v1/audit?app=other-app', {token: admin})).body.events).toHaveLength(2)
    })

    it('400 for since in seconds, a bad limit, or an unknown parameter', async () => {
      expect(expectProblemShape(await h.request('GET', '/v1/audit?since=1900000000', {token: admin}), 400, 'validation').field).toBe('since')
      expect(expectProblemShape(await h.request('GET', '/v1/audit?limit=0', {token: admin}), 400, 'validation').field).toBe('limit')
      expect(expectProblemShape(await h.request('GET', '/v1/audit?limit=1001', {token: admin}), 400, 'validation').field).toBe('limit')
      expectProblemShape(await h.request('GET', '/v1/audit?limit=ten', {token: admin}), 400, 'validation')
      expectProblemShape(await h.request('GET', '/v1/audit?actor=ann', {token: admin}), 400, 'validation')
      expect((await h.request('GET', '/v1/audit?since=0', {token: admin})).status).toBe(200)
    })
  })

  it('no route updates or deletes entries: after a flow over every route, earlier rows are unchanged', async () => {
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    const key = await h.issueKey(ann, 'weather-app')
    const before = rawEvents(h)
    const token = await h.createToken(ann, 'weather-app')
    await h.request('POST', '/v1/apps/weather-app/keys', {token: token.token, body: {}})
    const rotated = (await h.request('POST', `/v1/keys/${key.id}/rotate`, {token: ann, body: {graceMs: 0}})).body
    await h.request('DELETE', `/v1/keys/${rotated.newKey.id}`, {token: ann})
    await h.request('DELETE', `/v1/tokens/${token.id}`, {token: ann})
    await h.addUser('ann', 'web')
    await h.request('POST', '/v1/apps/weather-app/transfer', {token: ann, body: {team: 'web'}})
    await h.request('GET', '/v1/audit', {token: admin})
    await h.request('DELETE', '/v1/sessions/current', {token: ann})
    h.clock.advance(400 * DAY_MS)
    await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 'nope nope'}})
    const after = rawEvents(h)
    expect(after.length).toBeGreaterThan(before.length + 7)
    expect(after.slice(0, before.length)).toEqual(before)
    // And the database itself refuses it (triggers survive the lifecycle migration).
    const raw = new BetterSqlite3(h.dbPath)
    try {
      expect(() => raw.prepare("update audit_events set action = 'x'").run()).toThrow(/append-only/)
      expect(() => raw.prepare('delete from audit_events').run()).toThrow(/append-only/)
    } finally {
      raw.close()
    }
  })
})
