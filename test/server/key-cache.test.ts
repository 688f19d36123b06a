/**
 * The service's key-record cache (settings.keyCacheMs, keyCacheSyncMs): records are
 * reused for up to a minute, yet a change is seen at once in the process that made it
 * (lifecycle events) and within keyCacheSyncMs in every other process writing the same
 * database (the audit log is read for changes). The other process here is a second app
 * built on the same SQLite file and pepper (not listening: a second *service* on one SQLite
 * file is refused at start), with one injected clock; nothing sleeps.
 */
import {Writable} from 'node:stream'
import BetterSqlite3 from 'better-sqlite3'
import type {FastifyInstance} from 'fastify'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {buildApp} from '../../src/server/app.js'
import {openDatabase, type DatabaseHandle} from '../../src/server/db/connection.js'
import {pepperPathFor, readPepper} from '../../src/server/services/pepper.js'
import {TestClock, verifyFixture, type VerifyFixture} from './helpers.js'

/** A second app on the database of `f` (its own connection, cache and clock `clock`), answering through inject. */
interface OtherApp {
  verify(verifierToken: string, key: string): Promise<{body: any}>
  logs: string[]
  stop(): Promise<void>
}

async function otherApp(f: VerifyFixture, clock: TestClock, settings: {keyCacheSyncMs: number}): Promise<OtherApp> {
  const handle: DatabaseHandle = await openDatabase(f.h.dbPath, {mustExist: true})
  const pepper = await readPepper(pepperPathFor(f.h.dbPath))
  if (pepper === undefined) throw new Error('the service made no pepper file')
  const logs: string[] = []
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk))
      callback()
    },
  })
  const app: FastifyInstance = await buildApp({db: handle.db, pepper: pepper.key, clock, settings, logStream, logLevel: 'debug', adminChangePollMs: 0})
  return {
    async verify(verifierToken, key) {
      const res = await app.inject({method: 'POST', url: '/v1/verify', headers: {authorization: `Bearer ${verifierToken}`, 'content-type': 'application/json'}, payload: JSON.stringify({key})})
      return {body: res.json()}
    },
    logs,
    async stop() {
      await app.close()
      await handle.close()
    },
  }
}

const SYNC_MS = 1000

describe('key-record cache across processes on one database', () => {
  let f: VerifyFixture
  /** A second app on the same database file (and pepper file), same clock. */
  let other: OtherApp
  beforeEach(async () => {
    const clock = new TestClock()
    f = await verifyFixture({clock, settings: {keyCacheSyncMs: SYNC_MS}})
    other = await otherApp(f, clock, {keyCacheSyncMs: SYNC_MS})
  })
  afterEach(async () => {
    await other.stop()
    await f.h.cleanup()
  })

  /** Verifies on the second service; the verdict's code. */
  const codeOnOther = async (key = f.key.key): Promise<string> => (await other.verify(f.verifier, key)).body.code

  it('a revocation made by one process: at once there, within keyCacheSyncMs in the other (whose cache held the key)', async () => {
    expect(await codeOnOther()).toBe('VALID')
    expect((await f.h.request('DELETE', `/v1/keys/${f.key.id}`, {token: f.ann})).status).toBe(200)
    expect((await f.h.verify(f.verifier, f.key.key)).body.code).toBe('REVOKED')
    // Within the bound the other process may still answer from its cache: here it does (the sync is not due yet).
    f.h.clock.advance(SYNC_MS - 1)
    expect(await codeOnOther()).toBe('VALID')
    f.h.clock.advance(1)
    expect(await codeOnOther()).toBe('REVOKED')
  })

  it('rotation without grace, a key limit change and an app transfer reach the other process within keyCacheSyncMs', async () => {
    expect((await other.verify(f.verifier, f.key.key)).body).toMatchObject({code: 'VALID', team: 'mobile', rateLimit: {limit: 60}})

    const limited = await f.h.request('PUT', `/v1/keys/${f.key.id}/limit`, {token: f.ann, body: {rpm: 600}})
    expect(limited.status, limited.text).toBe(200)
    f.h.clock.advance(SYNC_MS)
    expect((await other.verify(f.verifier, f.key.key)).body.rateLimit.limit).toBe(600)

    await f.h.addUser('ann', 'web') // transfers go to a team of the caller's
    expect((await f.h.request('POST', '/v1/apps/weather-app/transfer', {token: f.ann, body: {team: 'web'}})).status).toBe(200)
    f.h.clock.advance(SYNC_MS)
    expect((await other.verify(f.verifier, f.key.key)).body.team).toBe('web')

    // Personal keys are rotated only by their holder.
    const rotated = await f.h.request('POST', `/v1/keys/${f.key.id}/rotate`, {token: f.ann, body: {graceMs: 0}})
    expect(rotated.status, rotated.text).toBe(201)
    f.h.clock.advance(SYNC_MS)
    expect(await codeOnOther()).toBe('EXPIRED')
    expect(await codeOnOther(rotated.body.newKey.key)).toBe('VALID')
  })

  it('a change the audit log does not show (a direct database edit) is seen once the record is older than keyCacheMs', async () => {
    const clock = new TestClock()
    const g = await verifyFixture({clock, settings: {keyCacheMs: 5000, keyCacheSyncMs: SYNC_MS}})
    try {
      expect((await g.h.verify(g.verifier, g.key.key)).body.code).toBe('VALID')
      const raw = new BetterSqlite3(g.h.dbPath)
      raw.prepare('update api_keys set revoked_at = ? where id = ?').run(clock.now(), g.key.id)
      raw.close()
      clock.advance(4999)
      expect((await g.h.verify(g.verifier, g.key.key)).body.code).toBe('VALID')
      clock.advance(1)
      expect((await g.h.verify(g.verifier, g.key.key)).body.code).toBe('REVOKED')
    } finally {
      await g.h.cleanup()
    }
  })

  it('when the audit log cannot be read, the cache is dropped (and logged) and verdicts come from the key table', async () => {
    expect(await codeOnOther()).toBe('VALID')
    const raw = new BetterSqlite3(f.h.dbPath)
    raw.exec('alter table audit_events rename to audit_events_hidden')
    raw.prepare('update api_keys set revoked_at = ? where id = ?').run(f.h.clock.now(), f.key.id)
    try {
      f.h.clock.advance(SYNC_MS)
      expect(await codeOnOther()).toBe('REVOKED')
      expect(other.logs.some((line) => line.includes('reading the audit log for key changes failed'))).toBe(true)
    } finally {
      raw.exec('alter table audit_events_hidden rename to audit_events')
      raw.close()
    }
  })
})
