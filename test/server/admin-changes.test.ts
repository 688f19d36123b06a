/**
 * Changes made by `apikey server …` admin commands on the host (users, teams,
 * memberships, promotions, verifiers) reach a running service as change events
 * on its LifecycleEvents, read from the audit log those commands write. The
 * harness's addUser/addVerifier/revokeVerifier are the functions the commands
 * call, on their own database connection, as another process would.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {LifecycleEvent} from '../../src/server/services/lifecycle.js'
import {startHarness, type Harness} from './helpers.js'

describe('admin changes become change events of the running service', () => {
  let h: Harness
  let seen: LifecycleEvent[]
  beforeEach(async () => {
    h = await startHarness()
    seen = []
    h.server.events.subscribe((event) => seen.push(event))
  })
  afterEach(async () => h.cleanup())

  it('server users add: team.created, user.created and membership.added with their targets; joining another team and promotion too; nothing replayed', async () => {
    const first = await h.addUser('ann', 'weather', {role: 'owner'})
    expect(seen).toEqual([])
    expect(await h.server.pollAdminChanges()).toBe(3)
    expect(seen.map((e) => [e.type, e.target?.type])).toEqual([
      ['team.created', 'team'],
      ['user.created', 'user'],
      ['membership.added', 'team'],
    ])
    expect(seen.every((e) => e.keyIds.length === 0 && e.app === '')).toBe(true)
    expect(seen[1]!.target!.id).toBe(first.user.id)
    seen = []
    await h.addUser('ann', 'radar', {admin: true})
    await h.server.pollAdminChanges()
    expect(seen.map((e) => e.type)).toEqual(['team.created', 'user.promoted', 'membership.added'])
    seen = []
    expect(await h.server.pollAdminChanges()).toBe(0)
    expect(seen).toEqual([])
  })

  it('API changes are not repeated by the feed: an issued key is announced once, by the API', async () => {
    await h.addUser('ann', 'weather', {role: 'owner'})
    await h.server.pollAdminChanges()
    const session = await h.login('ann')
    expect((await h.createApp(session, 'weather-app', 'weather')).status).toBe(201)
    await h.issueKey(session, 'weather-app', {env: 'dev'})
    await h.server.pollAdminChanges()
    expect(seen.filter((e) => !['team.created', 'user.created', 'membership.added'].includes(e.type)).map((e) => e.type)).toEqual(['key.created'])
  })

  it('server verifiers revoke: the running service refuses the token as soon as the event arrives, not only after its token cache expires', async () => {
    await h.addUser('ann', 'weather', {role: 'owner'})
    const token = await h.addVerifier('gateway')
    const ask = () => h.request('POST', '/v1/verify', {token, body: {key: 'ak_weather-app_dev_000000000000000000000000000000000000'}})
    expect((await ask()).status).toBe(200)
    await h.revokeVerifier('gateway')
    // Same instant: the service's verifier-token cache still holds the token.
    expect((await ask()).status).toBe(200)
    await h.server.pollAdminChanges()
    expect(seen.map((e) => e.type)).toContain('verifier.revoked')
    const refused = await ask()
    expect(refused.status).toBe(401)
    expect(refused.body.detail).toContain('revoked')
  })
})
