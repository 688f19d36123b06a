/**
 * kill -9 of the service in the middle of a usage rollup pass and in the middle of
 * a retention pass (a real subprocess on a real SQLite file; the pass is stretched
 * by the pause setting and the kill comes when the database shows the pass half
 * done), while a verifier keeps sending usage batches with Idempotency-Keys,
 * late events included. After a restart, batches not acknowledged are sent again
 * (a batch that was stored is answered as a duplicate and not counted again), the
 * pass is finished, and every verification is counted exactly once at every level
 * the report reads.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {fileURLToPath} from 'node:url'
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, describe, expect, it} from 'vitest'
import {DAY_MS, MINUTE_MS} from '../../src/server/settings.js'
import {startHarness, T0, TestClock, type Harness} from './helpers.js'

const SCRIPT = fileURLToPath(new URL('./fixtures/usage-service-process.mjs', import.meta.url))
const NOW = T0 + 3 * DAY_MS
/** Bound of one wait for a condition (the wait ends as soon as it holds). */
const WAIT_MS = 60_000

interface Batch {
  id: string
  events: Array<{keyId: string; app: string; code: string; route: string; clientIp: string; at: number; count: number}>
  acknowledged: boolean
}

function makeBatch(id: string, keyIds: string[], n: number, seed: number): Batch {
  let x = seed
  const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31)
  return {
    id,
    acknowledged: false,
    events: Array.from({length: n}, () => ({
      keyId: keyIds[Math.floor(next() * keyIds.length)]!,
      app: 'weather-app',
      code: next() < 0.9 ? 'VALID' : 'RATE_LIMITED',
      route: ['/v1/forecast/:city', '/v1/alerts', '/v1/radar', '/v1/history'][Math.floor(next() * 4)]!,
      clientIp: `198.51.${Math.floor(next() * 50)}.7`,
      at: T0 + Math.floor(next() * 3 * DAY_MS),
      count: 1 + Math.floor(next() * 9),
    })),
  }
}

async function send(url: string, verifier: string, batch: Batch): Promise<{status: number; duplicate: boolean}> {
  const res = await fetch(`${url}/v1/usage`, {
    method: 'POST',
    headers: {authorization: `Bearer ${verifier}`, 'content-type': 'application/json', 'idempotency-key': batch.id},
    body: JSON.stringify({events: batch.events}),
  })
  const body = (await res.json()) as {duplicate?: boolean}
  return {status: res.status, duplicate: body.duplicate === true}
}

function readMarks(dbPath: string): {hoursFrom: number | null; minutePruned: number; minuteRowsBelowPruned: number} {
  const raw = new BetterSqlite3(dbPath, {readonly: true, fileMustExist: true})
  try {
    const row = raw.prepare("select rolled_before as r, pruned_before as p from usage_levels where level = 'minute'").get() as {r: number | null; p: number}
    const below = raw.prepare('select count(*) as n from usage_minute where minute < ?').get(row.p) as {n: number}
    return {hoursFrom: row.r, minutePruned: row.p, minuteRowsBelowPruned: below.n}
  } finally {
    raw.close()
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('usage rollup and retention under kill -9', () => {
  let h: Harness | undefined
  let child: ChildProcess | undefined
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await h?.cleanup()
    h = undefined
    child = undefined
  })

  it.each(['rollup', 'retention'] as const)('kill -9 in the middle of a %s pass: every acknowledged verification counted exactly once afterwards', async (pass) => {
    h = await startHarness({clock: new TestClock(NOW)})
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    const keyIds = [(await h.issueKey(ann, 'weather-app')).id, (await h.issueKey(ann, 'weather-app', {env: 'test'})).id] as string[]
    const verifier = await h.addVerifier('weather-api')
    const batches: Batch[] = []
    // Three days of usage before the pass: many hours to roll up, many minute rows to delete.
    for (let i = 0; i < 8; i++) {
      const batch = makeBatch(`before-${i}`, keyIds, 500, i + 1)
      batches.push(batch)
      expect((await send(h.url, verifier, batch)).status).toBe(200)
      batch.acknowledged = true
    }
    if (pass === 'retention') await h.server.rollupUsage()
    const dbPath = h.dbPath
    const dir = h.dir
    await h.stop()

    const startMarks = readMarks(dbPath)
    child = spawn(process.execPath, [SCRIPT, dbPath], {
      env: {
        ...process.env,
        APIKEY_TEST_NOW: String(NOW),
        APIKEY_TEST_SETTINGS: JSON.stringify({
          usageRollupIntervalMs: 1,
          usageMaintenancePauseMs: 15,
          usagePruneBatchRows: 20,
          ...(pass === 'retention' ? {usageMinuteRetentionMs: 60 * MINUTE_MS} : {}),
        }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const [line] = (await once(child.stdout!, 'data')) as [Buffer]
    const url = line.toString().trim()

    // A verifier keeps sending batches (late events among them) until the service dies.
    let stop = false
    const sender = (async () => {
      for (let i = 0; !stop; i++) {
        const batch = makeBatch(`during-${i}`, keyIds, 50, 1000 + i)
        batches.push(batch)
        try {
          if ((await send(url, verifier, batch)).status === 200) batch.acknowledged = true
        } catch {
          return // the service is gone: this batch's fate is unknown
        }
      }
    })()

    // The kill comes when the database shows the pass half done.
    const closedHour = NOW / MINUTE_MS
    const seen = await waitFor(`the ${pass} pass half done`, () => {
      const marks = readMarks(dbPath)
      if (pass === 'rollup') return marks.hoursFrom !== null && marks.hoursFrom > (startMarks.hoursFrom ?? 0) + 60 && marks.hoursFrom < closedHour - 60 ? marks : undefined
      return marks.minutePruned > startMarks.minutePruned && marks.minuteRowsBelowPruned > 20 ? marks : undefined
    })
    child.kill('SIGKILL')
    await once(child, 'exit')
    stop = true
    await sender
    expect(seen).toBeDefined()

    // Restart on the same file; batches not acknowledged are sent again under their keys.
    h = await startHarness({dir, clock: new TestClock(NOW)})
    let duplicates = 0
    for (const batch of batches.filter((b) => !b.acknowledged)) {
      const res = await send(h.url, verifier, batch)
      expect(res.status).toBe(200)
      if (res.duplicate) duplicates++
      batch.acknowledged = true
    }
    expect(duplicates).toBeLessThanOrEqual(1)
    const pending = readMarks(dbPath)
    if (pass === 'rollup') expect(pending.hoursFrom).toBeLessThan(closedHour)
    else expect(pending.minuteRowsBelowPruned).toBeGreaterThan(0)
    await h.server.rollupUsage()
    const done = readMarks(dbPath)
    expect(done.hoursFrom).toBe(closedHour)
    expect(done.minuteRowsBelowPruned).toBe(0)

    // Exactly once: whole range (days), and ranges read from hours and minutes.
    const token = await h.login('ann')
    const events = batches.flatMap((b) => b.events)
    const expected = (since: number, until: number) => events.filter((e) => e.at >= since && e.at < until).reduce((sum, e) => sum + e.count, 0)
    for (const [since, until] of [
      [T0, NOW],
      [T0 + 2 * DAY_MS + 7 * 60 * MINUTE_MS, NOW],
      [NOW - 30 * MINUTE_MS, NOW],
      [T0 + 13 * 60 * MINUTE_MS, T0 + 2 * DAY_MS + 5 * 60 * MINUTE_MS],
    ] as const) {
      const r = (await h.request('GET', `/v1/apps/weather-app/usage?since=${since}&until=${until}`, {token})).body
      expect(r.total, `[${new Date(r.since).toISOString()}, ${new Date(r.until).toISOString()}) from ${JSON.stringify(r.parts)}`).toBe(expected(r.since, r.until))
    }
    const raw = new BetterSqlite3(dbPath, {readonly: true})
    try {
      const sums = raw.prepare('select (select sum(count) from usage_hour) as hours, (select sum(count) from usage_day) as days').get() as {hours: number; days: number}
      expect(sums.days).toBe(expected(T0, T0 + 3 * DAY_MS))
      expect(sums.hours).toBe(expected(T0, T0 + 3 * DAY_MS))
    } finally {
      raw.close()
    }
  })
})
