/**
 * Usage rollups: minutes are added into hours and hours into days by
 * `rollupUsage()`, old rows of each level are deleted after their retention, and
 * reports read the coarsest level that answers. For random events and random
 * ranges the report equals a naive count over the range it says it covers —
 * before and after rollups and retention, with late events, and after a second
 * rollup that must change nothing. Ranges far beyond what is kept are answered
 * for the kept part; since ≥ until is refused. A database with usage in the
 * previous layout keeps its counts through the migration.
 */
import BetterSqlite3 from 'better-sqlite3'
import {Kysely, Migrator, SqliteDialect} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {staticMigrationProvider} from '../../src/server/db/connection.js'
import {DAY_MS, MINUTE_MS, resolveSettings} from '../../src/server/settings.js'
import {expectProblemShape, startHarness, T0, TestClock, type Harness} from './helpers.js'

const HOUR_MS = 60 * MINUTE_MS

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Sent {
  keyId: string
  at: number
  count: number
  code: string
  route: string
  clientApp: string
}

const CODES = ['VALID', 'RATE_LIMITED', 'EXPIRED']
const ROUTES = ['/v1/forecast/:city', '/v1/alerts', '/v1/radar']
const APPS = ['com.example.weather', 'com.example.widget']

function rawRows(h: Harness, query: string): Array<Record<string, unknown>> {
  const raw = new BetterSqlite3(h.dbPath, {readonly: true})
  try {
    return raw.prepare(query).all() as Array<Record<string, unknown>>
  } finally {
    raw.close()
  }
}

/** Every usage row of every level and the progress marks, in a stable order. */
function dump(h: Harness): unknown {
  return Object.fromEntries(
    ['usage_minute', 'usage_hour', 'usage_day', 'usage_facet_hour', 'usage_facet_day', 'usage_facet_week', 'usage_levels'].map((table) => [table, rawRows(h, table === 'usage_levels' ? 'select * from usage_levels order by level' : table.startsWith('usage_facet') ? `select * from ${table} order by 1, 2, 3, 4, 5, 6` : `select * from ${table} order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`)]),
  )
}

interface World {
  h: Harness
  ann: string
  verifier: string
  keys: Array<{id: string}>
  sent: Sent[]
}

async function world(settings: Record<string, number> = {}): Promise<World> {
  const h = await startHarness({settings})
  await h.addUser('ann', 'mobile')
  const ann = await h.login('ann')
  await h.createApp(ann, 'weather-app', 'mobile')
  const keys = [await h.issueKey(ann, 'weather-app'), await h.issueKey(ann, 'weather-app', {env: 'test'})]
  return {h, ann, verifier: await h.addVerifier('weather-api'), keys: keys.map((k) => ({id: k.key?.id ?? k.id})), sent: []}
}

/** Sends `n` random events with instants in [from, to) in batches; every one must be stored. */
async function sendRandom(w: World, random: () => number, n: number, from: number, to: number): Promise<void> {
  const events: Sent[] = []
  for (let i = 0; i < n; i++) {
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!
    events.push({keyId: pick(w.keys).id, at: from + Math.floor(random() * (to - from)), count: 1 + Math.floor(random() * 5), code: pick(CODES), route: pick(ROUTES), clientApp: pick(APPS)})
  }
  for (let i = 0; i < events.length; i += 200) {
    const batch = events.slice(i, i + 200)
    const res = await w.h.request('POST', '/v1/usage', {token: w.verifier, body: {events: batch.map((e) => ({...e, app: 'weather-app', clientIp: '192.0.2.7'}))}})
    expect(res.status, res.text).toBe(200)
    expect(res.body.stored).toBe(batch.reduce((sum, e) => sum + e.count, 0))
  }
  w.sent.push(...events)
}

/** The naive count of what was sent in [since, until). */
function naive(sent: Sent[], since: number, until: number) {
  const inRange = sent.filter((e) => e.at >= since && e.at < until)
  const sum = (by: (e: Sent) => string) => {
    const out: Record<string, number> = {}
    for (const e of inRange) out[by(e)] = (out[by(e)] ?? 0) + e.count
    return out
  }
  return {total: inRange.reduce((s, e) => s + e.count, 0), byCode: sum((e) => e.code), byKey: sum((e) => e.keyId), byRoute: sum((e) => e.route), byClientApp: sum((e) => e.clientApp)}
}

/** Asks for `ranges` and checks each answer against the naive count over the range it says it covers. */
async function checkRanges(w: World, random: () => number, ranges: number, lo: number, hi: number, label: string): Promise<void> {
  for (let i = 0; i < ranges; i++) {
    let since = lo + Math.floor(random() * (hi - lo))
    let until = lo + Math.floor(random() * (hi - lo))
    if (since === until) until += MINUTE_MS
    if (since > until) [since, until] = [until, since]
    // Some ranges on whole hours and days, as reports are usually asked.
    if (i % 3 === 1) (since = Math.floor(since / HOUR_MS) * HOUR_MS), (until = Math.ceil(until / HOUR_MS) * HOUR_MS)
    if (i % 3 === 2) (since = Math.floor(since / DAY_MS) * DAY_MS), (until = Math.ceil(until / DAY_MS) * DAY_MS)
    const res = await w.h.request('GET', `/v1/apps/weather-app/usage?since=${since}&until=${until}`, {token: w.ann})
    expect(res.status, res.text).toBe(200)
    const r = res.body
    const where = `${label}: asked [${new Date(since).toISOString()}, ${new Date(until).toISOString()}), covered [${new Date(r.since).toISOString()}, ${new Date(r.until).toISOString()}) at ${r.resolution}`
    expect(r.requested, where).toEqual({since, until})
    // The parts tile the covered range, and the covered range holds the asked one rounded to minutes (unless cut by retention).
    if (r.parts.length > 0) {
      expect(r.parts[0].since, where).toBe(r.since)
      expect(r.parts.at(-1).until, where).toBe(r.until)
      for (let p = 1; p < r.parts.length; p++) expect(r.parts[p].since, where).toBe(r.parts[p - 1].until)
    }
    // Edges on minutes; widened (resolution hour or day) only outward.
    expect(r.since % MINUTE_MS, where).toBe(0)
    expect(r.until % MINUTE_MS, where).toBe(0)
    if (r.parts.length > 0) expect(r.until, where).toBeGreaterThanOrEqual(Math.floor(until / MINUTE_MS) * MINUTE_MS)
    if (r.resolution !== 'minute') expect(r.since < Math.floor(since / MINUTE_MS) * MINUTE_MS || r.until > Math.floor(until / MINUTE_MS) * MINUTE_MS, where).toBe(true)
    const expected = naive(w.sent, r.since, r.until)
    expect(r.total, where).toBe(expected.total)
    expect(r.byCode, where).toEqual(expected.byCode)
    expect(Object.fromEntries(r.byKey.map((k: {keyId: string; total: number}) => [k.keyId, k.total])), where).toEqual(expected.byKey)
    expect(Object.fromEntries(r.byRoute.map((b: {value: string; count: number}) => [b.value, b.count])), where).toEqual(expected.byRoute)
    expect(Object.fromEntries(r.byClientApp.map((b: {value: string; count: number}) => [b.value, b.count])), where).toEqual(expected.byClientApp)
  }
}

describe('usage rollups', () => {
  let w: World | undefined
  afterEach(async () => {
    await w?.h.cleanup()
    w = undefined
  })

  it.each([1, 2, 3])('random events and ranges: the report equals the naive count before and after rollups, retention and late events (seed %i)', async (seed) => {
    const random = prng(seed)
    w = await world()
    const {h} = w
    // Five days of events, now at the end of them.
    h.clock.advance(5 * DAY_MS)
    await sendRandom(w, random, 600, T0, T0 + 5 * DAY_MS)
    await checkRanges(w, random, 15, T0 - DAY_MS, T0 + 6 * DAY_MS, 'before rollups')

    const first = await h.server.rollupUsage()
    expect(first.hoursRolled).toBeGreaterThanOrEqual(100)
    expect(first.daysRolled).toBe(5)
    // Minutes older than 48 hours were deleted (their hours hold them).
    expect(first.pruned.minute).toBeGreaterThan(0)
    await checkRanges(w, random, 20, T0 - DAY_MS, T0 + 6 * DAY_MS, 'after rollup')

    // A second pass finds nothing to do and changes nothing.
    const before = dump(h)
    const second = await h.server.rollupUsage()
    expect(second).toEqual({hoursRolled: 0, daysRolled: 0, weeksRolled: 0, pruned: {minute: 0, hour: 0, day: 0}, pruneBatches: 4})
    expect(dump(h)).toEqual(before)

    // Late events: for minutes already rolled into hours (within the minute window), for minutes no
    // longer kept (hours only), and for hours already in days.
    await sendRandom(w, random, 300, T0, T0 + 5 * DAY_MS)
    await checkRanges(w, random, 15, T0 - DAY_MS, T0 + 6 * DAY_MS, 'late events')
    await h.server.rollupUsage()
    await checkRanges(w, random, 10, T0 - DAY_MS, T0 + 6 * DAY_MS, 'late events, rolled again')

    // 40 days on: hours older than 35 days are deleted too; reports widen to days there.
    h.clock.advance(40 * DAY_MS)
    w.ann = await h.login('ann')
    const later = await h.server.rollupUsage()
    expect(later.pruned.hour).toBeGreaterThan(0)
    await checkRanges(w, random, 15, T0 - DAY_MS, T0 + 46 * DAY_MS, 'after hour retention')
    await sendRandom(w, random, 200, T0, T0 + 5 * DAY_MS)
    await checkRanges(w, random, 10, T0 - DAY_MS, T0 + 46 * DAY_MS, 'late events for deleted hours')
    // Whole days are read from days; a start inside a day whose hours are gone is widened to the day.
    const whole = (await h.request('GET', `/v1/apps/weather-app/usage?since=${T0}&until=${T0 + 6 * DAY_MS}`, {token: w.ann})).body
    expect(whole).toMatchObject({since: T0, until: T0 + 6 * DAY_MS, resolution: 'minute'})
    expect(whole.parts).toEqual([{level: 'day', since: T0, until: T0 + 6 * DAY_MS}])
    // Whole weeks (from Thursdays, as the epoch) from week facets, the days around them from days.
    const thursday = T0 + 2 * DAY_MS
    const fortnight = (await h.request('GET', `/v1/apps/weather-app/usage?since=${T0}&until=${T0 + 14 * DAY_MS}`, {token: w.ann})).body
    expect(new Date(thursday).getUTCDay()).toBe(4)
    expect(fortnight.parts).toEqual([
      {level: 'day', since: T0, until: thursday},
      {level: 'week', since: thursday, until: thursday + 7 * DAY_MS},
      {level: 'day', since: thursday + 7 * DAY_MS, until: T0 + 14 * DAY_MS},
    ])
    expect(fortnight.total).toBe(naive(w.sent, T0, T0 + 14 * DAY_MS).total)
    expect(whole.total).toBe(naive(w.sent, T0, T0 + 6 * DAY_MS).total)
    const widened = (await h.request('GET', `/v1/apps/weather-app/usage?since=${T0 + 30 * MINUTE_MS}&until=${T0 + 6 * DAY_MS}`, {token: w.ann})).body
    expect(widened).toMatchObject({since: T0, until: T0 + 6 * DAY_MS, resolution: 'day', requested: {since: T0 + 30 * MINUTE_MS}})
    expect(widened.total).toBe(whole.total)

    // Past the retention of days, everything is gone and the range is cut to what is kept.
    h.clock.advance(100 * DAY_MS)
    w.ann = await h.login('ann')
    const gone = await h.server.rollupUsage()
    expect(gone.pruned.day).toBeGreaterThan(0)
    for (const table of ['usage_minute', 'usage_hour', 'usage_day']) expect(rawRows(h, `select count(*) as n from ${table}`)[0]?.n, table).toBe(0)
    const old = (await h.request('GET', `/v1/apps/weather-app/usage?since=${T0}&until=${T0 + 6 * DAY_MS}`, {token: w.ann})).body
    expect(old).toMatchObject({total: 0, requested: {since: T0, until: T0 + 6 * DAY_MS}, parts: []})
  })

  it('retention deletes in batches of the configured size, only rows already rolled up', async () => {
    const random = prng(7)
    w = await world({usagePruneBatchRows: 10})
    const {h} = w
    h.clock.advance(4 * DAY_MS)
    await sendRandom(w, random, 300, T0, T0 + 4 * DAY_MS)
    const minuteRows = Number(rawRows(h, 'select count(*) as n from usage_minute')[0]?.n)
    const result = await h.server.rollupUsage()
    // Minutes older than 48 hours go, ten per transaction; the last 48 hours stay.
    const left = Number(rawRows(h, 'select count(*) as n from usage_minute')[0]?.n)
    expect(result.pruned.minute).toBe(minuteRows - left)
    expect(result.pruneBatches).toBeGreaterThanOrEqual(Math.ceil(result.pruned.minute / 10))
    expect(rawRows(h, `select min(minute) as m from usage_minute`)[0]?.m).toBeGreaterThanOrEqual((T0 + 2 * DAY_MS) / MINUTE_MS)
    // Nothing not yet rolled is deleted: the rollup mark is ahead of the retention mark.
    const marks = rawRows(h, "select * from usage_levels where level = 'minute'")[0]!
    expect(Number(marks.rolled_before)).toBeGreaterThanOrEqual(Number(marks.pruned_before))
    await checkRanges(w, random, 10, T0, T0 + 4 * DAY_MS, 'after batched retention')
  })

  it('a 10-year range is answered for what is kept (bounded); since at or after until is 400', async () => {
    w = await world()
    const {h} = w
    h.clock.advance(200 * DAY_MS)
    w.ann = await h.login('ann')
    await sendRandom(w, prng(11), 50, h.clock.now() - 10 * DAY_MS, h.clock.now())
    await h.server.rollupUsage()
    const now = h.clock.now()
    const tenYears = 3653 * DAY_MS
    const res = await h.request('GET', `/v1/apps/weather-app/usage?since=${now - tenYears}&until=${now + tenYears}`, {token: w.ann})
    expect(res.status, res.text).toBe(200)
    const r = res.body
    // Cut to the oldest day retention keeps (90 days) and to a day ahead (nothing is stored beyond either).
    expect(r.since).toBe(Math.floor((now - 90 * DAY_MS) / DAY_MS) * DAY_MS)
    expect(r.until).toBeLessThanOrEqual(now + DAY_MS + 2 * MINUTE_MS)
    expect(r.requested).toEqual({since: now - tenYears, until: now + tenYears})
    // At most minutes, hours, days, weeks, days, hours, minutes.
    expect(r.parts.length).toBeLessThanOrEqual(7)
    expect(r.total).toBe(naive(w.sent, r.since, r.until).total)
    for (const query of [`since=${now}&until=${now}`, `since=${now}&until=${now - DAY_MS}`]) {
      const problem = expectProblemShape(await h.request('GET', `/v1/apps/weather-app/usage?${query}`, {token: w.ann}), 400, 'validation')
      expect(problem.detail).toMatch(/before until/)
    }
  })

  it('a database with usage in the previous layout keeps its counts through the migration', async () => {
    w = await world()
    const {h} = w
    const dir = h.dir
    await h.stop()
    // Back to the schema before the rollup tables, with usage rows as that version stored them.
    const raw = new BetterSqlite3(h.dbPath)
    const db = new Kysely<any>({dialect: new SqliteDialect({database: raw})})
    const down = await new Migrator({db, provider: staticMigrationProvider}).migrateTo('2026-12-06T23-30-00_sign-in-networks')
    expect(down.error).toBeUndefined()
    expect(down.results?.map((r) => r.migrationName)).toContain('2026-12-07T02-00-00_usage-rollups')
    const insert = raw.prepare('insert into usage_minutes (key_id, minute, source, code, route, client_app, app_version, ua_family, ua_os, network, count) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    const random = prng(5)
    for (let i = 0; i < 500; i++) {
      const e: Sent = {keyId: w.keys[i % 2]!.id, at: T0 + Math.floor(random() * 3 * DAY_MS), count: 1 + (i % 7), code: CODES[i % 3]!, route: ROUTES[i % 3]!, clientApp: APPS[i % 2]!}
      insert.run(e.keyId, Math.floor(e.at / MINUTE_MS) * MINUTE_MS, i % 4 === 0 ? 'verify' : 'reported', e.code, e.route, e.clientApp, '1.0.0', 'okhttp', 'other', `net${i % 9}`, e.count)
      const row = w.sent.find((s) => s.keyId === e.keyId && Math.floor(s.at / MINUTE_MS) === Math.floor(e.at / MINUTE_MS) && s.code === e.code && s.route === e.route && s.clientApp === e.clientApp)
      if (row === undefined) w.sent.push(e)
      else row.count += e.count
    }
    await db.destroy()
    w.h = await startHarness({dir, clock: new TestClock(T0 + 3 * DAY_MS)})
    w.ann = await w.h.login('ann')
    expect(rawRows(w.h, 'select count(*) as n from sqlite_master where name = ?'.replace('?', "'usage_minutes' and type = 'view'"))[0]?.n).toBe(1)
    await checkRanges(w, random, 10, T0, T0 + 3 * DAY_MS, 'migrated, before rollup')
    const all = (await w.h.request('GET', `/v1/apps/weather-app/usage?since=${T0}&until=${T0 + 3 * DAY_MS}`, {token: w.ann})).body
    expect(all.distinctNetworks).toBe(9)
    await w.h.server.rollupUsage()
    await checkRanges(w, random, 10, T0, T0 + 3 * DAY_MS, 'migrated, after rollup')

    // Hours and days stored before their per-app facets existed get them from the migration that adds them.
    await w.h.stop()
    const again = new Kysely<any>({dialect: new SqliteDialect({database: new BetterSqlite3(w.h.dbPath)})})
    const facetsDown = await new Migrator({db: again, provider: staticMigrationProvider}).migrateTo('2026-12-07T02-00-00_usage-rollups')
    expect(facetsDown.results?.map((r) => r.migrationName)).toContain('2026-12-07T02-30-00_usage-facets')
    await again.destroy()
    w.h = await startHarness({dir, clock: new TestClock(T0 + 3 * DAY_MS)})
    w.ann = await w.h.login('ann')
    expect(Number(rawRows(w.h, 'select count(*) as n from usage_facet_day')[0]?.n)).toBeGreaterThan(0)
    await checkRanges(w, random, 10, T0, T0 + 3 * DAY_MS, 'facets migrated')
  })
})

describe('usage retention settings', () => {
  it('finer windows shrink to a shorter retention; windows out of order or negative intervals are refused with what to set', () => {
    expect(resolveSettings({usageRetentionMs: 7 * DAY_MS})).toMatchObject({usageRetentionMs: 7 * DAY_MS, usageHourRetentionMs: 7 * DAY_MS, usageMinuteRetentionMs: 2 * DAY_MS})
    expect(resolveSettings({usageRetentionMs: DAY_MS})).toMatchObject({usageHourRetentionMs: DAY_MS, usageMinuteRetentionMs: DAY_MS})
    expect(resolveSettings({})).toMatchObject({usageRetentionMs: 90 * DAY_MS, usageHourRetentionMs: 35 * DAY_MS, usageMinuteRetentionMs: 2 * DAY_MS, usageRollupIntervalMs: MINUTE_MS, usagePruneBatchRows: 5000})
    expect(() => resolveSettings({usageMinuteRetentionMs: 30 * MINUTE_MS})).toThrow(/usageMinuteRetentionMs must be between an hour/)
    expect(() => resolveSettings({usageHourRetentionMs: 100 * DAY_MS})).toThrow(/usageHourRetentionMs must be between a day .* and usageRetentionMs/)
    expect(() => resolveSettings({usageRollupIntervalMs: -1})).toThrow(/usageRollupIntervalMs must be a non-negative integer/)
    expect(() => resolveSettings({usagePruneBatchRows: 0})).toThrow(/usagePruneBatchRows must be a positive integer \(rows deleted per transaction\), got 0/)
  })
})
