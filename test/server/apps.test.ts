import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {openDatabase} from '../../src/server/db/connection.js'
import {repositories} from '../../src/server/repositories/index.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

describe('apps', () => {
  let h: Harness
  let ann: string // mobile
  let bob: string // web
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('bob', 'web')
    ann = await h.login('ann')
    bob = await h.login('bob')
  })
  afterEach(async () => h.cleanup())

  it('registers an app for a team of the caller: 201, Location, AppView, audit event', async () => {
    const res = await h.request('POST', '/v1/apps', {
      token: ann,
      body: {slug: 'weather-app', name: 'Weather', team: 'mobile', contactEmail: 'weather@example.com', description: 'forecasts'},
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe('/v1/apps/weather-app')
    expect(res.body).toEqual({
      slug: 'weather-app',
      name: 'Weather',
      team: {slug: 'mobile', name: 'Team mobile', contactEmail: 'mobile-lead@example.com'},
      contactEmail: 'weather@example.com',
      description: 'forecasts',
      createdBy: 'ann',
      createdAt: T0,
    })
    const handle = await openDatabase(h.dbPath)
    try {
      const events = await repositories(handle.db).audit.list()
      expect(events.filter((e) => e.action === 'app.create')).toEqual([
        expect.objectContaining({actorUserId: expect.any(String), targetType: 'app', details: {slug: 'weather-app', team: 'mobile'}, at: T0}),
      ])
    } finally {
      await handle.close()
    }
  })

  it('409 for a taken slug names the owning team and its contact (detail and extension members)', async () => {
    expect((await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')).status).toBe(201)
    const res = await h.request('POST', '/v1/apps', {token: bob, body: {slug: 'weather-app', name: 'Mine', team: 'web', contactEmail: 'bob@example.com'}})
    const problem = expectProblemShape(res, 409, 'conflict')
    expect(problem.detail).toContain('Team mobile (mobile)')
    expect(problem.detail).toContain('weather@example.com')
    expect(problem.owningTeam).toBe('mobile')
    expect(problem.contactEmail).toBe('weather@example.com')
    expect(problem.suggestions).toContain('apikey init --app <another-slug>')
  })

  it('403 when registering for a team the caller is not a member of; 404 for an unknown team', async () => {
    const forbidden = await h.request('POST', '/v1/apps', {token: bob, body: {slug: 'sneaky', name: 'x', team: 'mobile', contactEmail: 'bob@example.com'}})
    const problem = expectProblemShape(forbidden, 403, 'forbidden')
    expect(problem.detail).toContain('not a member of team Team mobile (mobile)')
    expect(problem.team).toBe('mobile')
    const unknown = await h.request('POST', '/v1/apps', {token: bob, body: {slug: 'sneaky', name: 'x', team: 'nosuchteam', contactEmail: 'bob@example.com'}})
    expect(expectProblemShape(unknown, 404, 'not_found').field).toBe('team')
  })

  it.each([
    ['slug', {slug: 'Weather'}, /3–32 characters/],
    ['slug', {slug: 'ab'}, /3–32 characters/],
    ['slug', {slug: 'bad--slug'}, /without "--"/],
    ['slug', {slug: '-leading'}, /starting and ending/],
    ['name', {name: '   '}, /not blank/],
    ['name', {name: 'x'.repeat(101)}, /1–100/],
    ['contactEmail', {contactEmail: 'not-an-email'}, /valid email/],
    ['description', {description: 'x'.repeat(1001)}, /at most 1000/],
  ])('400 validation naming %s and its rule (%j)', async (field, override, rule) => {
    const res = await h.request('POST', '/v1/apps', {token: ann, body: {slug: 'good-slug', name: 'Good', team: 'mobile', contactEmail: 'a@example.com', ...override}})
    const problem = expectProblemShape(res, 400, 'validation')
    expect(problem.field).toBe(field)
    expect(problem.detail).toMatch(rule)
  })

  it('400 for missing fields and unknown fields', async () => {
    const missing = await h.request('POST', '/v1/apps', {token: ann, body: {slug: 'good-slug', name: 'Good', team: 'mobile'}})
    expect(expectProblemShape(missing, 400, 'validation').field).toBe('contactEmail')
    const extra = await h.request('POST', '/v1/apps', {token: ann, body: {slug: 'good-slug', name: 'Good', team: 'mobile', contactEmail: 'a@example.com', owner: 'x'}})
    expect(expectProblemShape(extra, 400, 'validation').field).toBe('owner')
  })

  it("GET /v1/apps lists the caller's teams' apps; admins see all", async () => {
    await h.createApp(ann, 'weather-app', 'mobile')
    await h.createApp(ann, 'maps-app', 'mobile')
    await h.createApp(bob, 'shop-web', 'web')
    const annList = await h.request('GET', '/v1/apps', {token: ann})
    expect(annList.status).toBe(200)
    expect(annList.body.apps.map((a: {slug: string}) => a.slug)).toEqual(['maps-app', 'weather-app'])
    const bobList = await h.request('GET', '/v1/apps', {token: bob})
    expect(bobList.body.apps.map((a: {slug: string}) => a.slug)).toEqual(['shop-web'])
    await h.addUser('root', 'platform', {admin: true})
    const root = await h.login('root')
    const all = await h.request('GET', '/v1/apps', {token: root})
    expect(all.body.apps.map((a: {slug: string}) => a.slug)).toEqual(['maps-app', 'shop-web', 'weather-app'])
  })

  it('GET /v1/apps/{slug} is directory data for any signed-in user; 404 for unknown', async () => {
    await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')
    const res = await h.request('GET', '/v1/apps/weather-app', {token: bob})
    expect(res.status).toBe(200)
    expect(res.body.team.slug).toBe('mobile')
    expect(res.body.contactEmail).toBe('weather@example.com')
    const missing = await h.request('GET', '/v1/apps/nope-app', {token: bob})
    expect(expectProblemShape(missing, 404, 'not_found').detail).toContain('nope-app')
  })

  it('concurrent registrations of one slug: exactly one 201, the rest 409 naming the winner', async () => {
    await h.addUser('cy', 'web')
    const cy = await h.login('cy')
    const results = await Promise.all([ann, bob, cy].map((token, i) =>
      h.request('POST', '/v1/apps', {token, body: {slug: 'race-app', name: 'Race', team: i === 0 ? 'mobile' : 'web', contactEmail: 'r@example.com'}}),
    ))
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409])
  })
})
