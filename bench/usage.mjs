#!/usr/bin/env node
// Usage benchmarks of the key service, on databases filled through the real ingest path.
// Prints one JSON object. Sections (argv, default all): storage reports mixed ingest.
//
// Data sets: for each size in BENCH_REPORT_SIZES (verifications; default 100k, 1M, 10M) a
// database with one app and BENCH_USAGE_KEYS keys (default 2,000) receives BENCH_USAGE_DAYS (30)
// simulated days of usage: POST /v1/usage batches of ≤ 1,000 events (events with `count`, mix in
// usage-events.mjs), two clients at once, hour by hour. The service runs with an injected clock
// (bench/service-server.mjs) set to the end of each simulated hour before its events are sent,
// and its usage rollup job (RunningServer.rollupUsage, when the service has one) runs after each hour.
// The simulation ends at the current hour; afterwards the clock is the wall clock.
// BENCH_DATA_DIR=<dir> keeps the data sets there and reuses them on the next run (development).
//
//  storage: bytes of the usage tables and their indexes (SQLite dbstat) per stored row and per
//           million verifications, per data set.
//  reports: GET /v1/apps/bench-app/usage over the 30 days on each data set, the three services
//           running at once, BENCH_ROUNDS interleaved rounds of BENCH_REPORT_REQUESTS requests each.
//           Targets: ≤ 200 ms at the largest size; largest / smallest ≤ 1.5 (median of per-round ratios).
//           In the same rounds: `apikey usage --since 30d` (the CLI, signed in with APIKEY_TOKEN) on an
//           app without usage and on the largest data set.
//  mixed:   POST /v1/verify throughput (10 connections, each its own shuffled order of 1,000 keys)
//           on a copy of the largest data set, in interleaved rounds of: idle; while 2 clients post
//           1,000-event usage batches of new rows; while keys are issued in a loop; while the
//           30-day usage report is fetched in a loop. Targets: ≥ 0.8× idle; p99 ≤ 10 ms during reports.
//           The service's event-loop delay (monitorEventLoopDelay) is read for each case.
//  ingest:  POST /v1/usage batches of new rows (count 1 each, 2 clients) into an empty database and
//           into a copy of the largest data set, interleaved rounds of BENCH_INGEST_EVENTS each.
//           Targets: ≥ 50,000 events/s; empty / largest ≤ 1.3; 0 lost (events in the database = acknowledged).
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {execFile, execFileSync, fork} from 'node:child_process'
import {promisify} from 'node:util'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {QUICK, dist, interleaved, root, load1, loadService, prepare, round, signIn, size, spread, sqlite, startService, tempDir, verifyLoad} from './lib.mjs'
import {describeMix, mixedEvents, MEAN_COUNT, newRowEvents} from './usage-events.mjs'

const execFileAsync = promisify(execFile)
const HOUR = 3_600_000
const DAY = 24 * HOUR
const sections = new Set(process.argv.slice(2).filter((a) => !a.startsWith('--')))
const all = sections.size === 0
const want = (s) => all || sections.has(s)

const sizes = (process.env.BENCH_REPORT_SIZES ?? (QUICK ? '10000,30000,100000' : '100000,1000000,10000000')).split(',').map(Number)
const usageKeys = size('BENCH_USAGE_KEYS', 2000, 500)
const days = size('BENCH_USAGE_DAYS', 30, 30)
const rounds = Math.max(1, size('BENCH_ROUNDS', 5, 5))
const reportRequests = size('BENCH_REPORT_REQUESTS', 3, 2)
const mixedSeconds = size('BENCH_MIXED_SECONDS', 5, 1)
const ingestEvents = size('BENCH_INGEST_EVENTS', 150_000, 10_000)
const batchSize = 1000

const svc = await loadService()
const {DEFAULT_SETTINGS: defaults} = await import(pathToFileURL(join(dist, 'server/settings.js')).href)
const keepData = process.env.BENCH_DATA_DIR !== undefined && process.env.BENCH_DATA_DIR !== ''
const dataDir = keepData ? process.env.BENCH_DATA_DIR : tempDir('usage')
mkdirSync(dataDir, {recursive: true})
const cleanup = []

async function post(url, verifier, events) {
  const res = await fetch(`${url}/v1/usage`, {method: 'POST', headers: {authorization: `Bearer ${verifier}`, 'content-type': 'application/json'}, body: typeof events === 'string' ? events : JSON.stringify({events})})
  const body = await res.json().catch(() => ({}))
  return {ok: res.ok, status: res.status, stored: body.stored ?? 0, body, retryAfter: res.headers.get('retry-after')}
}

/**
 * POSTs `bodies` (JSON strings) with `clients` clients at once; a batch answered 503 is sent again after
 * its Retry-After (as the verifier library does), counted in `retried`.
 * @returns {acknowledged (verifications stored), failed (batches not stored), retried, firstError, seconds}
 */
async function postAll(url, verifier, bodies, clients = 2) {
  let next = 0
  let acknowledged = 0
  let failed = 0
  let retried = 0
  let firstError
  const began = performance.now()
  await Promise.all(
    Array.from({length: clients}, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]
        for (let attempt = 0; ; attempt++) {
          const r = await post(url, verifier, body)
          if (r.ok) {
            acknowledged += r.stored
            break
          }
          if (r.status === 503 && attempt < 20) {
            retried++
            await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 1000 * Number(r.retryAfter ?? 0.1) || 100)))
            continue
          }
          failed++
          firstError ??= `${r.status} ${JSON.stringify(r.body)}`
          break
        }
      }
    }),
  )
  return {acknowledged, failed, retried, firstError, seconds: (performance.now() - began) / 1000}
}

/**
 * The data set of about `verifications` verifications (built, or reused from BENCH_DATA_DIR).
 * @returns {dbPath, verifier, keys (1,000 plaintexts), keyIds, verifications (acknowledged), events, rollup, …}
 */
async function dataset(verifications) {
  const dir = join(dataDir, `usage-${verifications}-k${usageKeys}-d${days}-v2`)
  const marker = join(dir, 'dataset.json')
  if (existsSync(marker)) {
    console.error(`bench: reusing the data set in ${dir}`)
    return JSON.parse(readFileSync(marker, 'utf8'))
  }
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  const prepared = await prepare(svc, usageKeys, 1000, dir)
  const simEnd = Math.floor(Date.now() / HOUR) * HOUR
  const simStart = simEnd - days * DAY
  const hours = days * 24
  const totalEvents = Math.max(hours, Math.round(verifications / MEAN_COUNT))
  // Rollups only when the bench asks (after each simulated hour), not also on the service's wall-clock timer.
  const server = await startService(prepared.dbPath, {clockAt: simStart, settings: 'usageRollupIntervalMs' in defaults ? {usageRollupIntervalMs: 0} : {}})
  const gen = mixedEvents(prepared.keyIds, verifications % 997)
  let acknowledged = 0
  let failed = 0
  let events = 0
  let rollupSeconds = 0
  let retriedBatches = 0
  let rollupRuns = 0
  const ingestByDay = []
  const began = performance.now()
  console.error(`bench: data set of ${verifications.toLocaleString('en-US')} verifications: ${totalEvents.toLocaleString('en-US')} events over ${days} simulated days (rollup job: ${server.hasRollup ? 'yes' : 'not in this service'})`)
  for (let h = 0; h < hours; h++) {
    const from = simStart + h * HOUR
    const n = Math.floor(((h + 1) * totalEvents) / hours) - Math.floor((h * totalEvents) / hours)
    await server.setClock(from + HOUR)
    const bodies = []
    for (let done = 0; done < n; done += batchSize) bodies.push(JSON.stringify({events: gen.events(Math.min(batchSize, n - done), from, HOUR)}))
    const r = await postAll(server.url, prepared.verifier, bodies)
    if (r.failed > 0) throw new Error(`bench: ${r.failed} usage batches failed while building the data set (first: ${r.firstError})`)
    acknowledged += r.acknowledged
    retriedBatches += r.retried
    events += n
    if (h % 24 === 0) ingestByDay.push({day: h / 24, storedBefore: acknowledged - r.acknowledged, eventsPerSec: Math.round(n / r.seconds)})
    if (server.hasRollup) {
      const t = performance.now()
      await server.setClock(from + HOUR + 120_000)
      await server.rollup()
      rollupSeconds += (performance.now() - t) / 1000
      rollupRuns++
    }
    if (h % 24 === 23) console.error(`bench:   day ${(h + 1) / 24}/${days}: ${acknowledged.toLocaleString('en-US')} verifications stored`)
  }
  await server.setClock(Date.now())
  if (server.hasRollup) {
    await server.rollup()
    rollupRuns++
  }
  await server.flushUsage()
  await server.close()
  const info = {
    dir,
    dbPath: prepared.dbPath,
    verifier: prepared.verifier,
    keys: prepared.keys,
    keyIds: prepared.keyIds,
    requested: verifications,
    verifications: acknowledged,
    events,
    failed,
    simStart,
    simEnd,
    rollup: server.hasRollup,
    rollupRuns,
    rollupSeconds: round(rollupSeconds, 1),
    retriedBatches,
    buildSeconds: round((performance.now() - began) / 1000, 1),
    ingestByDay,
  }
  writeFileSync(marker, JSON.stringify(info))
  return info
}

/** A copy of a data set's database (the copy is changed by a section; the data set stays as built). */
function copyOf(set, name) {
  const dir = tempDir(name)
  cleanup.push(dir)
  const dbPath = join(dir, 'apikey.db')
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(set.dbPath + suffix)) copyFileSync(set.dbPath + suffix, dbPath + suffix)
  return dbPath
}

/** Bytes and rows of the usage tables (and their indexes) of a database, from SQLite's dbstat. */
function storageOf(set) {
  const Database = sqlite()
  const db = new Database(set.dbPath, {readonly: true})
  try {
    const owners = new Map(db.prepare("select name, tbl_name from sqlite_master where type in ('table', 'index')").all().map((r) => [r.name, r.tbl_name]))
    const bytes = {}
    for (const r of db.prepare('select name, sum(pgsize) as bytes from dbstat group by name').all()) {
      const table = owners.get(r.name) ?? r.name
      if (!table.startsWith('usage') || table === 'usage_batches') continue
      bytes[table] = (bytes[table] ?? 0) + r.bytes
    }
    const tables = Object.keys(bytes).sort()
    const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`select count(*) as n from "${t}"`).get().n]))
    // Usage rows are those of tables with counts (per minute, hour, day); the others (e.g. a dictionary of values) are overhead.
    const countTables = tables.filter((t) => db.prepare(`select name from pragma_table_info('${t}')`).all().some((c) => c.name === 'count'))
    const totalBytes = tables.reduce((a, t) => a + bytes[t], 0)
    const totalRows = countTables.reduce((a, t) => a + rows[t], 0)
    const fileBytes = db.prepare('select page_count * page_size as b from pragma_page_count(), pragma_page_size()').get().b
    return {
      verifications: set.verifications,
      tables: Object.fromEntries(tables.map((t) => [t, {rows: rows[t], bytes: bytes[t], counts: countTables.includes(t), bytesPerRow: rows[t] === 0 ? null : Math.round(bytes[t] / rows[t])}])),
      usageRows: totalRows,
      usageBytes: totalBytes,
      bytesPerRow: totalRows === 0 ? null : Math.round(totalBytes / totalRows),
      bytesPerMillionVerifications: Math.round(totalBytes / (set.verifications / 1e6)),
      databaseFileBytes: fileBytes,
    }
  } finally {
    db.close()
  }
}

/** Sum of `count` of reported usage at minute ≥ `since` in a database (the minute-level table). */
function reportedSince(dbPath, since) {
  const Database = sqlite()
  const db = new Database(dbPath, {readonly: true})
  try {
    return db.prepare("select coalesce(sum(count), 0) as n from usage_minutes where source = 'reported' and minute >= ?").get(since).n
  } finally {
    db.close()
  }
}

const reportRange = (set) => ({since: set.simEnd - days * DAY, until: Math.ceil((Date.now() + 60_000) / 60_000) * 60_000})

async function timedReport(server, session, set) {
  const {since, until} = reportRange(set)
  const t = performance.now()
  const res = await fetch(`${server.url}/v1/apps/bench-app/usage?since=${since}&until=${until}`, {headers: {authorization: `Bearer ${session}`}})
  const body = await res.json()
  const ms = performance.now() - t
  if (!res.ok) throw new Error(`bench: usage report answered ${res.status}: ${JSON.stringify(body)}`)
  return {ms, total: body.total}
}

/** Starts a background load child (bench/background.mjs); resolves to {stop() → stats}. */
async function background(options) {
  const child = fork(fileURLToPath(new URL('./background.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const next = (type) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.type === type) {
          child.off('message', on)
          resolve(m)
        } else if (m.type === 'error') {
          child.off('message', on)
          reject(new Error(m.message))
        }
      }
      child.on('message', on)
    })
  const started = next('started')
  child.send({type: 'start', ...options})
  await started
  await new Promise((r) => setTimeout(r, 300)) // the background work is under way before measuring
  return {
    stop: async () => {
      const stopped = next('stopped')
      child.send({type: 'stop'})
      const {stats} = await stopped
      child.kill()
      await exited
      return stats
    },
  }
}

const results = {quick: QUICK, sizes, usageKeys, days, rounds, mix: describeMix(usageKeys), loadAverageStart: load1()}
const sets = []
for (const n of sizes) sets.push(await dataset(n))
const big = sets[sets.length - 1]
const small = sets[0]
results.datasets = sets.map((s) => ({requested: s.requested, verifications: s.verifications, events: s.events, buildSeconds: s.buildSeconds, rollup: s.rollup, rollupRuns: s.rollupRuns, rollupSeconds: s.rollupSeconds, ingestFirstDayEventsPerSec: s.ingestByDay[0]?.eventsPerSec, ingestLastDayEventsPerSec: s.ingestByDay.at(-1)?.eventsPerSec}))
results.rollupAvailable = big.rollup
results.rollupNote = big.rollup
  ? 'the rollup job (RunningServer.rollupUsage) ran after every simulated hour'
  : 'this service has no rollup job (RunningServer.rollupUsage): every verification stays at minute level; the data sets were built without rollups'

if (want('storage')) {
  // bench/usage-storage.mjs (per level: minute, hour, day, values) when it exists, next to the per-table view here.
  const levelScript = join(root, 'bench', 'usage-storage.mjs')
  const levelsOf = (set) => {
    if (!existsSync(levelScript)) return undefined
    const text = execFileSync(process.execPath, [levelScript, '--db', set.dbPath], {encoding: 'utf8', maxBuffer: 16 * 1024 * 1024})
    const r = JSON.parse(text.slice(text.indexOf('{')))
    return {verificationsInDatabase: r.verifications, levels: r.levels}
  }
  results.storage = {date: new Date().toISOString(), loadAverage: load1(), sets: sets.map((set) => ({...storageOf(set), ...levelsOf(set)}))}
}

if (want('reports')) {
  const date = new Date().toISOString()
  const servers = []
  for (const set of sets) {
    const server = await startService(set.dbPath)
    servers.push({set, server, session: await signIn(server.url)})
  }
  const cases = Object.fromEntries(
    servers.map(({set, server, session}) => [
      String(set.requested),
      async () => {
        await server.eldReset()
        const times = []
        let total
        for (let i = 0; i < reportRequests; i++) {
          const r = await timedReport(server, session, set)
          times.push(r.ms)
          total = r.total
        }
        return {ms: times, medianMs: spread(times, 1).median, total, eld: await server.eld()}
      },
    ]),
  )
  // `apikey usage` as an owner would run it, on an app with no usage and on the largest data set.
  const emptyDir = tempDir('reports-empty')
  cleanup.push(emptyDir)
  const empty = await prepare(svc, usageKeys, 0, emptyDir)
  const emptyServer = await startService(empty.dbPath)
  const cliTargets = {empty: {server: emptyServer, session: await signIn(emptyServer.url)}, largest: servers.at(-1)}
  const cli = (name) => async () => {
    const {server, session} = cliTargets[name]
    const times = []
    for (let i = 0; i < reportRequests; i++) {
      const t = performance.now()
      await execFileAsync(process.execPath, [join(root, 'bin', 'run.js'), 'usage', '--app', 'bench-app', '--since', `${days}d`, '--server', server.url, '--json'], {
        cwd: emptyDir,
        env: {...process.env, HOME: emptyDir, XDG_CONFIG_HOME: join(emptyDir, 'config'), APIKEY_TOKEN: session, NO_COLOR: '1', OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
        maxBuffer: 64 * 1024 * 1024,
      })
      times.push(performance.now() - t)
    }
    return {medianMs: spread(times, 1).median}
  }
  cases['cli empty'] = cli('empty')
  cases['cli largest'] = cli('largest')
  const rows = await interleaved(cases, rounds, 'reports')
  for (const {server} of servers) await server.close()
  await emptyServer.close()
  const key = (s) => String(s.requested)
  results.reports = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    range: `${days} days`,
    requestsPerRound: reportRequests,
    perSize: sets.map((s) => ({
      verifications: s.verifications,
      ms: spread(rows.map((r) => r[key(s)].medianMs), 1),
      eldMaxMs: spread(rows.map((r) => r[key(s)].eld.maxMs), 1),
      totalInReport: rows[0][key(s)].total,
      countsMatch: rows.every((r) => r[key(s)].total === s.verifications),
    })),
    ratioLargestToSmallest: spread(rows.map((r) => r[key(big)].medianMs / r[key(small)].medianMs)),
    cli: {
      command: `apikey usage --app bench-app --since ${days}d --json`,
      emptyMs: spread(rows.map((r) => r['cli empty'].medianMs), 0),
      largestMs: spread(rows.map((r) => r['cli largest'].medianMs), 0),
      ratio: spread(rows.map((r) => r['cli largest'].medianMs / r['cli empty'].medianMs)),
    },
    rounds: rows,
  }
  const largest = results.reports.perSize.at(-1)
  results.reports.met = {largestAtMost200ms: largest.ms.median <= 200, flatAtMost1_5: results.reports.ratioLargestToSmallest.median <= 1.5, countsMatch: results.reports.perSize.every((s) => s.countsMatch)}
}

if (want('mixed')) {
  const date = new Date().toISOString()
  const dbPath = copyOf(big, 'mixed')
  const server = await startService(dbPath)
  const session = await signIn(server.url)
  const base = {url: server.url, verifier: big.verifier, keys: big.keys, connections: 10}
  await verifyLoad({...base, seconds: 2}) // warm-up: every key's record cached
  const range = reportRange(big)
  const under = (options) => async () => {
    await server.eldReset()
    const bg = options === undefined ? undefined : await background({url: server.url, ...options})
    const verify = await verifyLoad({...base, seconds: mixedSeconds})
    const eld = await server.eld()
    const work = bg === undefined ? undefined : await bg.stop()
    return {...verify, eld, ...(work === undefined ? {} : {background: work})}
  }
  const rows = await interleaved(
    {
      idle: under(undefined),
      usage: under({mode: 'usage', clients: 2, batch: 1000, verifier: big.verifier, keyIds: big.keyIds}),
      issue: under({mode: 'issue', app: 'bench-app', session}),
      report: under({mode: 'report', app: 'bench-app', session, ...range}),
    },
    rounds,
    'mixed',
  )
  await server.close()
  const caseSummary = (name) => ({
    reqPerSec: spread(rows.map((r) => r[name].reqPerSec), 0),
    p99Ms: spread(rows.map((r) => r[name].p99Ms), 1),
    non2xx: rows.reduce((a, r) => a + r[name].non2xx, 0),
    eldP99Ms: spread(rows.map((r) => r[name].eld.p99Ms), 1),
    eldMaxMs: spread(rows.map((r) => r[name].eld.maxMs), 1),
    ...(name === 'idle' ? {} : {backgroundPerSecond: spread(rows.map((r) => r[name].background.perSecond), 1), backgroundNon2xx: rows.reduce((a, r) => a + r[name].background.non2xx, 0)}),
    ...(name === 'usage' ? {backgroundEventsPerSec: spread(rows.map((r) => r[name].background.eventsPerSec), 0)} : {}),
  })
  results.mixed = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    verificationsStored: big.verifications,
    secondsPerCase: mixedSeconds,
    cases: Object.fromEntries(['idle', 'usage', 'issue', 'report'].map((n) => [n, caseSummary(n)])),
    ratioUsageToIdle: spread(rows.map((r) => r.usage.reqPerSec / r.idle.reqPerSec)),
    ratioIssueToIdle: spread(rows.map((r) => r.issue.reqPerSec / r.idle.reqPerSec)),
    ratioReportToIdle: spread(rows.map((r) => r.report.reqPerSec / r.idle.reqPerSec)),
    rounds: rows,
  }
  results.mixed.met = {
    usageAtLeast0_8: results.mixed.ratioUsageToIdle.median >= 0.8,
    issueAtLeast0_8: results.mixed.ratioIssueToIdle.median >= 0.8,
    reportP99AtMost10ms: results.mixed.cases.report.p99Ms.median <= 10,
  }
}

if (want('ingest')) {
  const date = new Date().toISOString()
  const emptyDir = tempDir('ingest-empty')
  cleanup.push(emptyDir)
  const empty = await prepare(svc, usageKeys, 0, emptyDir)
  const targets = {
    empty: {dbPath: empty.dbPath, verifier: empty.verifier, keyIds: empty.keyIds, stored: 0},
    largest: {dbPath: copyOf(big, 'ingest'), verifier: big.verifier, keyIds: big.keyIds, stored: big.verifications},
  }
  const since = Math.floor(Date.now() / 60_000) * 60_000
  const before = {}
  for (const [name, t] of Object.entries(targets)) {
    before[name] = reportedSince(t.dbPath, since)
    t.server = await startService(t.dbPath)
    t.acknowledged = 0
  }
  const run = (name) => async () => {
    const t = targets[name]
    const bodies = []
    for (let done = 0; done < ingestEvents; done += batchSize) bodies.push(JSON.stringify({events: newRowEvents(t.keyIds, Math.min(batchSize, ingestEvents - done), Date.now(), name.length)}))
    await t.server.eldReset()
    const r = await postAll(t.server.url, t.verifier, bodies)
    t.acknowledged += r.acknowledged
    return {eventsPerSec: Math.round(r.acknowledged / r.seconds), failedBatches: r.failed, retriedBatches: r.retried, eld: await t.server.eld()}
  }
  const rows = await interleaved({empty: run('empty'), largest: run('largest')}, rounds, 'ingest')
  const lost = {}
  for (const [name, t] of Object.entries(targets)) {
    await t.server.flushUsage()
    await t.server.close()
    lost[name] = t.acknowledged - (reportedSince(t.dbPath, since) - before[name])
  }
  results.ingest = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    eventsPerRound: ingestEvents,
    batchSize,
    clients: 2,
    storedBefore: {empty: 0, largest: big.verifications},
    eventsPerSec: {empty: spread(rows.map((r) => r.empty.eventsPerSec), 0), largest: spread(rows.map((r) => r.largest.eventsPerSec), 0)},
    slowdownEmptyToLargest: spread(rows.map((r) => r.empty.eventsPerSec / r.largest.eventsPerSec)),
    eldMaxMs: {empty: spread(rows.map((r) => r.empty.eld.maxMs), 1), largest: spread(rows.map((r) => r.largest.eld.maxMs), 1)},
    failedBatches: rows.reduce((a, r) => a + r.empty.failedBatches + r.largest.failedBatches, 0),
    retriedBatches: rows.reduce((a, r) => a + r.empty.retriedBatches + r.largest.retriedBatches, 0),
    acknowledged: {empty: targets.empty.acknowledged, largest: targets.largest.acknowledged},
    lost,
    rounds: rows,
  }
  results.ingest.met = {
    atLeast50k: Math.min(results.ingest.eventsPerSec.empty.median, results.ingest.eventsPerSec.largest.median) >= 50_000,
    flatAtMost1_3: results.ingest.slowdownEmptyToLargest.median <= 1.3,
    noneLost: lost.empty === 0 && lost.largest === 0,
  }
}

results.loadAverageEnd = load1()
for (const dir of cleanup) rmSync(dir, {recursive: true, force: true})
if (!keepData) rmSync(dataDir, {recursive: true, force: true})
console.log(JSON.stringify(results, null, 2))
