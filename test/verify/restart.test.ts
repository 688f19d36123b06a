/**
 * The real key service stops and restarts (same port, same SQLite file and
 * pepper) while a verifier keeps answering: during the outage known keys are
 * served from the cache and unknown keys fail closed; buffered usage events
 * are delivered after the restart, and every recorded event is accounted for
 * (sent + dropped + buffered) and stored once. Injected clock, no sleeps.
 */
import {afterEach, expect, it} from 'vitest'
import {Writable} from 'node:stream'
import {checksumOf} from '../../src/core/key-format.js'
import {startServer, type RunningServer} from '../../src/server/main.js'
import {createVerifier, type Verifier} from '../../src/verify/index.js'
import {startHarness, T0, TestClock} from '../server/helpers.js'
import {FakeClock} from './helpers.js'

class SharedClock extends FakeClock {
  readonly server = new TestClock(T0)
  constructor() {
    super(T0)
  }
  override advance(ms: number): void {
    super.advance(ms)
    this.server.t = this.now()
  }
}

let restarted: RunningServer | undefined
let verifier: Verifier | undefined
afterEach(async () => {
  await verifier?.close({deadlineMs: 500})
  await restarted?.close()
})

it('the service restarts under traffic: the verifier answers per its policy and no usage event is lost or counted twice', async () => {
  const clock = new SharedClock()
  const h = await startHarness({clock: clock.server})
  await h.addUser('ann', 'mobile')
  const ann = await h.login('ann')
  await h.createApp(ann, 'weather-app', 'mobile')
  const key = await h.issueKey(ann, 'weather-app')
  const token = await h.addVerifier('weather-api')
  const body = 'ak_weather-app_dev_' + 'U'.repeat(30)
  const unknownKey = body + checksumOf(body)

  verifier = createVerifier({serviceUrl: h.url, verifierToken: token, clock, timeoutMs: 500, usage: {flushIntervalMs: 60_000}})
  const v = verifier
  expect(await v.verify(key.key)).toMatchObject({valid: true, source: 'service'})
  // (The dev default limit is 60/min, enforced by the verifier on cache hits: stay below it.)
  let recorded = 1
  for (let i = 0; i < 40; i++) {
    expect((await v.verify(key.key, {route: '/v1/forecast/:city'})).valid).toBe(true)
    recorded++
  }

  // Outage: the service stops. Past the staleness bound the known key is served stale; an unknown key fails closed.
  await h.stop()
  clock.advance(6_000)
  for (let i = 0; i < 10; i++) {
    const verdict = await v.verify(key.key, {route: '/v1/forecast/:city'})
    expect(verdict).toMatchObject({valid: true, stale: true})
    recorded++
  }
  const unknown = await v.verify(unknownKey)
  recorded++
  expect(unknown).toMatchObject({valid: false, unavailable: true})
  await v.flush()
  const during = v.stats()
  expect(during.sent).toBe(0)
  expect(during.buffered + during.dropped).toBeGreaterThan(0)

  // Restart on the same port with the same database and pepper.
  const port = Number(new URL(h.url).port)
  restarted = await startServer({host: '127.0.0.1', port, dbPath: h.dbPath, clock: clock.server, logStream: new Writable({write: (_c, _e, cb) => cb()})})
  clock.advance(60_000)
  await v.flush()
  await v.flush()
  const after = v.stats()
  expect(after.buffered).toBe(0)
  // Every recorded verification is accounted for, and none was dropped: the buffer outlived the outage.
  expect(after.sent + after.dropped).toBe(recorded)
  expect(after.dropped).toBe(0)

  // After the restart the key is verified by the service again.
  clock.advance(6_000)
  expect(await v.verify(key.key)).toMatchObject({valid: true, source: 'service'})

  // Stored once each: the service's count = 1 service-side verification + every event sent.
  await restarted.flushUsage()
  const report = await fetch(`${h.url}/v1/apps/weather-app/usage?since=${T0 - 60_000}&until=${clock.now() + 120_000}`, {headers: {authorization: `Bearer ${ann}`}})
  expect(report.status).toBe(200)
  const usage = (await report.json()) as {total: number; bySource: Record<string, number>}
  // Reported: everything sent except the first verdict (answered, and already counted, by the service)
  // and the unknown key's (no key id: unattributed).
  expect(usage.bySource.reported).toBe(after.sent - 2)
  expect(usage.bySource.verify).toBe(2)
})
