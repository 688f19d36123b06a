/**
 * kill -9 of the key service while it commits usage batches: after a restart, every acknowledged
 * verification is counted exactly once — batches acknowledged before the kill are not lost, and
 * batches sent again under their Idempotency-Key (acknowledged or not) are not counted twice.
 * The service runs as a real subprocess (`apikey server start`) on a real SQLite file.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {MINUTE_MS} from '../../src/server/settings.js'
import {startHarness, TestClock} from './helpers.js'
import {isRunning, makeBatches, sendBatch, spawnService, stopService, type Batch, type ServiceProcess} from './service-process.js'

describe('kill -9 during usage batch commits', () => {
  const running: ServiceProcess[] = []
  afterEach(async () => {
    for (const p of running.splice(0)) await stopService(p, 'SIGKILL')
  })

  it('after a restart every acknowledged verification is counted exactly once, and retried batches count once', {timeout: 120_000}, async () => {
    // Users, app, key and verifier made by the in-process service on the wall clock; then it stops.
    const now = Date.now()
    const setup = await startHarness({clock: new TestClock(now)})
    await setup.addUser('ann', 'mobile')
    const ann = await setup.login('ann')
    await setup.createApp(ann, 'weather-app', 'mobile')
    const key = await setup.issueKey(ann, 'weather-app')
    const verifier = await setup.addVerifier('weather-gateway')
    await setup.stop()
    const dbPath = setup.dbPath

    const first = await spawnService(dbPath)
    if (!isRunning(first)) throw new Error(`the service did not start: ${first.stderr}`)
    running.push(first)
    const batches = makeBatches(120, 100, key.id, now)
    const acknowledged = new Set<Batch>()
    let next = 0
    let killed = false
    // Four verifiers send batches back to back; the service is killed once 20 are acknowledged,
    // with others in flight (some mid-commit).
    const sender = async (): Promise<void> => {
      while (!killed && next < batches.length) {
        const batch = batches[next++]!
        const res = await sendBatch(first.url, verifier, batch)
        if (res?.status === 200 && !killed) {
          acknowledged.add(batch)
          if (acknowledged.size >= 20) {
            killed = true
            first.child.kill('SIGKILL')
          }
        }
      }
    }
    await Promise.all([sender(), sender(), sender(), sender()])
    expect(await first.exited).toBeNull()
    running.splice(0)
    expect(acknowledged.size).toBeGreaterThanOrEqual(20)

    const second = await spawnService(dbPath)
    if (!isRunning(second)) throw new Error(`the service did not restart after kill -9: ${second.stderr}`)
    running.push(second)
    // Every batch is sent (again) under its own key: those stored before the kill are duplicates.
    for (const batch of batches) {
      const res = await sendBatch(second.url, verifier, batch)
      expect(res?.status, batch.idempotencyKey).toBe(200)
      if (acknowledged.has(batch)) expect(res?.body, batch.idempotencyKey).toMatchObject({duplicate: true})
    }
    const report = await fetch(`${second.url}/v1/apps/weather-app/usage?since=${now - 60 * MINUTE_MS}&until=${now + 60 * MINUTE_MS}&source=reported`, {headers: {authorization: `Bearer ${ann}`}})
    expect(report.status).toBe(200)
    const body = (await report.json()) as {total: number}
    expect(body.total).toBe(batches.reduce((sum, b) => sum + b.verifications, 0))
    expect(await stopService(second)).toBe(0)
    running.splice(0)
  })
})
