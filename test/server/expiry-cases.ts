/**
 * Rotation grace and expiry instants against the real service,
 * with the injected clock. Shared by `expiry.test.ts` (the process time zone)
 * and `expiry-los-angeles.test.ts` (TZ=America/Los_Angeles): the answers must
 * be identical in every time zone because instants are UTC ms end to end.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parseInstant} from '../../src/core/duration.js'
import {DAY_MS} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

const HOUR_MS = 3_600_000

/** Registers the rotation-grace and expiry-instant suites under `label`. */
export function expiryAndRotationSuite(label: string): void {
  describe(`rotation grace (${label})`, () => {
    let h: Harness
    let ann: string
    beforeEach(async () => {
      h = await startHarness()
      await h.addUser('ann', 'mobile')
      ann = await h.login('ann')
      expect((await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')).status).toBe(201)
    })
    afterEach(async () => h.cleanup())

    const whoami = async (key: string) => {
      const res = await h.request('POST', '/v1/keys/whoami', {token: key})
      expect(res.status).toBe(200)
      return res.body.key
    }

    it('K1 stays active with rotation state until exactly now + 24 h; K2 is active throughout', async () => {
      const k1 = await h.issueKey(ann, 'weather-app', {env: 'prod', name: 'api', metadata: {version: '1.2.3'}})
      h.clock.advance(HOUR_MS)
      const rotatedAt = h.clock.now()
      const res = await h.request('POST', `/v1/keys/${k1.id}/rotate`, {token: ann, body: {graceMs: DAY_MS}})
      expect(res.status).toBe(201)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const {newKey: k2, oldKey} = res.body
      expect(k2.key).toMatch(/^ak_weather-app_prod_[0-9A-Za-z]{36}$/)
      expect(k2).toMatchObject({app: 'weather-app', env: 'prod', kind: k1.kind, name: 'api', metadata: {version: '1.2.3'}, status: 'active', rotation: null, createdAt: rotatedAt})
      // Same lifetime as the old key had (prod default 365 d).
      expect(k2.expiresAt).toBe(rotatedAt + 365 * DAY_MS)
      const graceEndsAt = rotatedAt + DAY_MS
      expect(oldKey).toMatchObject({id: k1.id, status: 'active', expiresAt: graceEndsAt, rotation: {rotatedAt, replacedBy: k2.id, graceEndsAt}})

      const fresh = await whoami(k1.key)
      expect(fresh.status).toBe('active')
      expect(fresh.rotation).toEqual({rotatedAt, replacedBy: k2.id, graceEndsAt})
      expect((await h.request('GET', `/v1/keys/${k1.id}`, {token: ann})).body.key.rotation.graceEndsAt).toBe(graceEndsAt)

      h.clock.advance(DAY_MS - 1)
      expect((await whoami(k1.key)).status).toBe('active')
      expect((await whoami(k2.key)).status).toBe('active')
      h.clock.advance(1)
      expect(h.clock.now()).toBe(graceEndsAt)
      expect((await whoami(k1.key)).status).toBe('expired')
      expect((await whoami(k2.key)).status).toBe('active')
      const listed = (await h.request('GET', '/v1/apps/weather-app/keys', {token: ann})).body.keys
      expect(listed.map((k: {id: string; status: string}) => [k.id, k.status])).toEqual([
        [k2.id, 'active'],
        [k1.id, 'expired'],
      ])
    })

    it('without graceMs the grace is the 24 h default (empty body or {})', async () => {
      const a = await h.issueKey(ann, 'weather-app', {env: 'dev'})
      const b = await h.issueKey(ann, 'weather-app', {env: 'dev'})
      const noBody = await h.request('POST', `/v1/keys/${a.id}/rotate`, {token: ann})
      expect(noBody.status).toBe(201)
      expect(noBody.body.oldKey.rotation.graceEndsAt).toBe(T0 + DAY_MS)
      const empty = await h.request('POST', `/v1/keys/${b.id}/rotate`, {token: ann, body: {}})
      expect(empty.status).toBe(201)
      expect(empty.body.oldKey.rotation.graceEndsAt).toBe(T0 + DAY_MS)
    })

    it('grace 0: K1 is not valid at once; K2 is', async () => {
      const k1 = await h.issueKey(ann, 'weather-app', {env: 'stage'})
      const res = await h.request('POST', `/v1/keys/${k1.id}/rotate`, {token: ann, body: {graceMs: 0}})
      expect(res.status).toBe(201)
      expect(res.body.oldKey).toMatchObject({status: 'expired', expiresAt: T0, rotation: {rotatedAt: T0, graceEndsAt: T0}})
      expect((await whoami(k1.key)).status).toBe('expired')
      expect((await whoami(res.body.newKey.key)).status).toBe('active')
    })

    it('a key that expires before the grace would end keeps its earlier end', async () => {
      const k1 = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: T0 + 2 * HOUR_MS})
      const res = await h.request('POST', `/v1/keys/${k1.id}/rotate`, {token: ann, body: {graceMs: DAY_MS}})
      expect(res.body.oldKey.rotation.graceEndsAt).toBe(T0 + 2 * HOUR_MS)
      // The replacement gets the old key's lifetime (2 h), not more.
      expect(res.body.newKey.expiresAt).toBe(T0 + 2 * HOUR_MS)
      h.clock.advance(2 * HOUR_MS)
      expect((await whoami(k1.key)).status).toBe('expired')
    })
  })

  describe(`expiry instants (${label})`, () => {
    let h: Harness
    let ann: string
    beforeEach(async () => {
      h = await startHarness()
      await h.addUser('ann', 'mobile')
      ann = await h.login('ann')
      await h.createApp(ann, 'weather-app', 'mobile', 'weather@example.com')
    })
    afterEach(async () => h.cleanup())

    const create = (body: Record<string, unknown>) => h.request('POST', '/v1/apps/weather-app/keys', {token: ann, body})

    it('epoch seconds and other implausible magnitudes are rejected, naming the rule', async () => {
      const seconds = expectProblemShape(await create({env: 'prod', expiresAt: 1_900_000_000}), 400, 'validation')
      expect(seconds.field).toBe('expiresAt')
      expect(seconds.detail).toMatch(/looks like seconds/)
      expect(expectProblemShape(await create({env: 'prod', expiresAt: 1_800_000_000}), 400, 'validation').detail).toMatch(/looks like seconds/)
      expect(expectProblemShape(await create({env: 'prod', expiresAt: 10_000_000_000_000}), 400, 'validation').detail).toMatch(/not a plausible instant/)
      // Only one numeric unit: strings (ISO or digits) are not accepted on the wire.
      expect(expectProblemShape(await create({env: 'prod', expiresAt: '2030-06-26'}), 400, 'validation').field).toBe('expiresAt')
      expect(expectProblemShape(await create({env: 'prod', expiresAt: String(T0 + DAY_MS)}), 400, 'validation').field).toBe('expiresAt')
    })

    it('past and present instants are rejected; the next millisecond is accepted', async () => {
      expect(expectProblemShape(await create({env: 'dev', expiresAt: T0 - 1}), 400, 'validation').detail).toMatch(/in the future/)
      expect(expectProblemShape(await create({env: 'dev', expiresAt: T0}), 400, 'validation').detail).toMatch(/2030-01-01T00:00:00\.000Z/)
      expect((await create({env: 'dev', expiresAt: T0 + 1})).body.expiresAt).toBe(T0 + 1)
    })

    it.each([
      ['dev', 180],
      ['test', 90],
      ['stage', 180],
      ['prod', 730],
      ['ci', 30],
    ])('a %s key lives at most %i days: exactly the maximum is accepted, 1 ms more is rejected', async (env, days) => {
      const over = expectProblemShape(await create({env, expiresAt: T0 + days * DAY_MS + 1}), 400, 'validation')
      expect(over.detail).toContain(`at most ${days} days`)
      expect((await create({env, expiresAt: T0 + days * DAY_MS})).status).toBe(201)
    })

    it('an ISO 8601 instant with an offset (parsed by the client) is stored and compared as the same UTC instant', async () => {
      const at = parseInstant('2030-06-26T00:00:00-07:00')
      expect(at).toBe(Date.UTC(2030, 5, 26, 7))
      expect(parseInstant('2030-06-26T07:00:00Z')).toBe(at)
      expect(() => parseInstant('2030-06-26')).toThrow(/time zone/)
      const issued = (await create({env: 'prod', expiresAt: at})).body
      expect(issued.expiresAt).toBe(at)
      const raw = new BetterSqlite3(h.dbPath, {readonly: true})
      try {
        expect(raw.prepare('select expires_at from api_keys where id = ?').get(issued.id)).toEqual({expires_at: at})
      } finally {
        raw.close()
      }
      h.clock.t = at - 1
      expect((await h.request('POST', '/v1/keys/whoami', {token: issued.key})).body.key.status).toBe('active')
      h.clock.t = at
      expect((await h.request('POST', '/v1/keys/whoami', {token: issued.key})).body.key.status).toBe('expired')
    })

    it('default expiries are exact UTC offsets from now, whatever the local zone', async () => {
      // 2030-03-10 is the US DST switch: a local-time computation would be an hour off.
      h.clock.t = Date.UTC(2030, 2, 9, 12)
      ann = await h.login('ann')
      const key = (await create({env: 'test'})).body
      expect(key.expiresAt - key.createdAt).toBe(30 * DAY_MS)
    })
  })
}
