/**
 * Lifecycle change events: every mutation that can change a key's verdict goes through the
 * lifecycle module, which emits exactly one change event after commit with
 * the right key ids — what the service's verdict cache subscribes to. A
 * matrix over mutation × route, plus the refusals that must emit nothing.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {openDatabase} from '../../src/server/db/connection.js'
import {defaultRandom} from '../../src/server/services/crypto.js'
import {KeyLifecycle, LifecycleEvents, type LifecycleEvent} from '../../src/server/services/lifecycle.js'
import {DAY_MS, resolveSettings} from '../../src/server/settings.js'
import {startHarness, T0, type Answer, type Harness} from './helpers.js'

interface Fixture {
  h: Harness
  ann: string
  bob: string
  k1: {id: string; key: string; expiresAt: number}
  k2: {id: string; key: string; expiresAt: number}
  provisioning: string
}

interface MutationCase {
  name: string
  act(f: Fixture): Promise<Answer>
  status: number
  /** The one event expected (ids as functions of the fixture and the answer). */
  expected(f: Fixture, answer: Answer): Omit<LifecycleEvent, 'at'> & {at?: number}
  /** Status of K1 from whoami right after. */
  k1After: 'active' | 'expired' | 'revoked'
}

const MUTATIONS: MutationCase[] = [
  {
    name: 'issue (session) → key.created',
    act: (f) => f.h.request('POST', '/v1/apps/weather-app/keys', {token: f.ann, body: {env: 'dev'}}),
    status: 201,
    expected: (_f, a) => ({type: 'key.created', keyIds: [a.body.id], app: 'weather-app'}),
    k1After: 'active',
  },
  {
    name: 'issue (provisioning token) → key.created',
    act: (f) => f.h.request('POST', '/v1/apps/weather-app/keys', {token: f.provisioning, body: {metadata: {commit: 'abc'}}}),
    status: 201,
    expected: (_f, a) => ({type: 'key.created', keyIds: [a.body.id], app: 'weather-app'}),
    k1After: 'active',
  },
  {
    name: 'revoke → key.revoked',
    act: (f) => f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.ann}),
    status: 200,
    expected: (f) => ({type: 'key.revoked', keyIds: [f.k1.id], app: 'weather-app'}),
    k1After: 'revoked',
  },
  {
    name: 'rotate with grace 0 → key.rotated (old key ends at once)',
    act: (f) => f.h.request('POST', `/v1/keys/${f.k1.id}/rotate`, {token: f.ann, body: {graceMs: 0}}),
    status: 201,
    expected: (f, a) => ({type: 'key.rotated', keyIds: [f.k1.id, a.body.newKey.id], app: 'weather-app', replacedBy: a.body.newKey.id, graceEndsAt: T0}),
    k1After: 'expired',
  },
  {
    name: 'rotate with grace 24 h → key.rotated (old key carries its deadline)',
    act: (f) => f.h.request('POST', `/v1/keys/${f.k1.id}/rotate`, {token: f.ann, body: {graceMs: DAY_MS}}),
    status: 201,
    expected: (f, a) => ({type: 'key.rotated', keyIds: [f.k1.id, a.body.newKey.id], app: 'weather-app', replacedBy: a.body.newKey.id, graceEndsAt: T0 + DAY_MS}),
    k1After: 'active',
  },
  {
    name: 'app transfer → app.transferred with every key of the app and the provisioning tokens it stopped',
    act: (f) => f.h.request('POST', '/v1/apps/weather-app/transfer', {token: f.ann, body: {team: 'web'}}),
    status: 200,
    expected: (f, a) => {
      expect(a.body.revokedTokens).toHaveLength(1)
      return {type: 'app.transferred', keyIds: [f.k1.id, f.k2.id].sort(), app: 'weather-app', fromTeam: 'mobile', toTeam: 'web', revokedTokenIds: [a.body.revokedTokens[0].id]}
    },
    k1After: 'active',
  },
]

interface RefusalCase {
  name: string
  act(f: Fixture): Promise<Answer>
  status: number
}

const REFUSALS: RefusalCase[] = [
  {name: "revoke another team's key", act: (f) => f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.bob}), status: 403},
  {name: "rotate another team's key", act: (f) => f.h.request('POST', `/v1/keys/${f.k1.id}/rotate`, {token: f.bob, body: {graceMs: 0}}), status: 403},
  {name: 'rotate with a grace over the maximum', act: (f) => f.h.request('POST', `/v1/keys/${f.k1.id}/rotate`, {token: f.ann, body: {graceMs: 8 * DAY_MS}}), status: 400},
  {name: "transfer another team's app", act: (f) => f.h.request('POST', '/v1/apps/weather-app/transfer', {token: f.bob, body: {team: 'web'}}), status: 403},
  {name: 'issue for another app with a provisioning token', act: (f) => f.h.request('POST', '/v1/apps/other-app/keys', {token: f.provisioning, body: {}}), status: 403},
  {name: 'revoke with a provisioning token', act: (f) => f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.provisioning}), status: 403},
  {name: 'issue with an implausible expiry', act: (f) => f.h.request('POST', '/v1/apps/weather-app/keys', {token: f.ann, body: {env: 'dev', expiresAt: 1_900_000_000}}), status: 400},
]

describe('lifecycle change events', () => {
  let f: Fixture
  let events: LifecycleEvent[]
  /** Whether each event's change was visible to a second connection when the event arrived. */
  let committed: boolean[]
  beforeEach(async () => {
    const bus = new LifecycleEvents()
    const h = await startHarness({events: bus})
    await h.addUser('ann', 'mobile')
    await h.addUser('ann', 'web')
    await h.addUser('bob', 'web')
    const ann = await h.login('ann')
    const bob = await h.login('bob')
    await h.createApp(ann, 'weather-app', 'mobile')
    await h.createApp(bob, 'other-app', 'web')
    const k1 = await h.issueKey(ann, 'weather-app', {env: 'dev'})
    const k2 = await h.issueKey(ann, 'weather-app', {env: 'ci'})
    const provisioning = (await h.createToken(ann, 'weather-app')).token as string
    f = {h, ann, bob, k1, k2, provisioning}
    events = []
    committed = []
    bus.subscribe((event) => {
      events.push(event)
      // A listener runs after commit: another connection already sees the change.
      const raw = new BetterSqlite3(h.dbPath, {readonly: true})
      try {
        const id = event.keyIds[0] as string
        const row = raw.prepare('select k.revoked_at, k.rotated_at, a.team_id, t.slug as team from api_keys k join apps a on a.id = k.app_id join teams t on t.id = a.team_id where k.id = ?').get(id) as
          | {revoked_at: number | null; rotated_at: number | null; team: string}
          | undefined
        committed.push(
          event.type === 'key.created'
            ? row !== undefined
            : event.type === 'key.revoked'
              ? row?.revoked_at === event.at
              : event.type === 'key.rotated'
                ? row?.rotated_at === event.at
                : event.type === 'app.transferred'
                  ? row?.team === event.toTeam
                  : true,
        )
      } finally {
        raw.close()
      }
    })
    expect(h.server.events).toBe(bus)
  })
  afterEach(async () => f.h.cleanup())

  describe.each(MUTATIONS)('$name', (mutation) => {
    it('emits exactly one event after commit, with the right key ids', async () => {
      const answer = await mutation.act(f)
      expect(answer.status, answer.text).toBe(mutation.status)
      expect(events).toHaveLength(1)
      const event = events[0] as LifecycleEvent
      const expected = mutation.expected(f, answer)
      expect({...event, keyIds: event.type === 'app.transferred' ? [...event.keyIds].sort() : event.keyIds}).toEqual({at: T0, ...expected})
      expect(committed).toEqual([true])
      expect((await f.h.request('POST', '/v1/keys/whoami', {token: f.k1.key})).body.key.status).toBe(mutation.k1After)
    })
  })

  describe.each(REFUSALS)('refused: $name', (refusal) => {
    it('emits nothing', async () => {
      expect((await refusal.act(f)).status).toBe(refusal.status)
      expect(events).toEqual([])
    })
  })

  it('revoking twice emits once', async () => {
    expect((await f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.ann})).body.alreadyRevoked).toBe(false)
    expect((await f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.ann})).body.alreadyRevoked).toBe(true)
    expect(events.map((e) => e.type)).toEqual(['key.revoked'])
  })

  it('a throwing listener neither fails the request nor stops other listeners, and is logged', async () => {
    const bus = f.h.server.events
    const seen: string[] = []
    const off = bus.subscribe(() => {
      throw new Error('listener boom')
    })
    bus.subscribe((e) => seen.push(e.type))
    expect((await f.h.request('DELETE', `/v1/keys/${f.k1.id}`, {token: f.ann})).status).toBe(200)
    expect(seen).toEqual(['key.revoked'])
    expect(f.h.logs.join('')).toContain('a lifecycle listener failed')
    off()
    expect((await f.h.request('DELETE', `/v1/keys/${f.k2.id}`, {token: f.ann})).status).toBe(200)
    expect(seen).toEqual(['key.revoked', 'key.revoked'])
  })

  it('an expiry change (lifecycle API; no route yet) emits key.expiry_changed, and a past expiry ends the key', async () => {
    const handle = await openDatabase(f.h.dbPath)
    try {
      const bus = new LifecycleEvents()
      const seen: LifecycleEvent[] = []
      bus.subscribe((e) => seen.push(e))
      const lifecycle = new KeyLifecycle({db: handle.db, readDb: handle.readDb, bulkDb: handle.bulkDb, clock: f.h.clock, random: defaultRandom, settings: resolveSettings(), pepper: Buffer.alloc(32)}, bus)
      f.h.clock.advance(1000)
      const view = await lifecycle.setExpiry(f.k1.id, T0 + 500, {userId: null, tokenId: null, sourceAddress: null})
      expect(view).toMatchObject({id: f.k1.id, expiresAt: T0 + 500, status: 'expired'})
      expect(seen).toEqual([{type: 'key.expiry_changed', keyIds: [f.k1.id], app: 'weather-app', at: T0 + 1000, expiresAt: T0 + 500}])
      expect((await f.h.request('POST', '/v1/keys/whoami', {token: f.k1.key})).body.key.status).toBe('expired')
      const audit = (await f.h.request('GET', '/v1/audit?app=weather-app', {token: f.ann})).body.events
      expect(audit[0]).toMatchObject({action: 'key.expiry', target: `key:${f.k1.id}`, details: {from: f.k1.expiresAt, to: T0 + 500}})
    } finally {
      await handle.close()
    }
  })
})
