#!/usr/bin/env node
// Benchmarks (`npm run bench`): every result is compared with a baseline measured in the same run,
// on the same machine, in interleaved rounds (A, B, A, B, …) with the median and the min–max of the
// per-round ratios. Writes docs/benchmarks.md: one section per measurement, each with the machine,
// date, load average, method, how to reproduce it, the target and whether it is met.
//
// Sections (each its own process; JSON in, Markdown out):
//   coldstart  every CLI command against `node -e 0` (bench/cold-start.mjs, hyperfine)
//   install    each package packed and installed into an empty project (bench/install.mjs)
//   verifier   the verifier library's cache hits (bench/verifier.mjs)
//   throughput /v1/verify vs a trivial route (bench/service.mjs)
//   distinct   200,000 distinct keys vs 1,000 (bench/service.mjs)
//   latency    1,000,000 keys stored vs 1,000, cache off (bench/service.mjs)
//   storage, reports, mixed, ingest   usage at 100k/1M/10M verifications (bench/usage.mjs)
//   signin     sign-in under attack (bench/sign-in.mjs)
//
// Options: `--only SECTION[,SECTION…]` runs those sections and replaces only them in
// docs/benchmarks.md; `--quick` (or BENCH_QUICK=1) small sizes and short rounds for development —
// numbers from it are not for the record (the sections say "quick mode"); `--with-server` also
// installs the key service plugin in the install section; `--no-write` prints only.
// Sizes and durations: environment variables named in each script's header comment.
// A full run (`npm run bench`) takes about 20–25 minutes on 2 quiet cores, most of it the usage
// section (building the 100k/1M/10M data sets through POST /v1/usage with hourly rollups, 5–10 min)
// and the cold start of 32 commands (2–3 min); `--with-server` adds the service install (≈ 5 min).
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {cpus} from 'node:os'
import {QUICK, load1, machineLine, root} from './lib.mjs'
import {signInSection} from './sign-in-section.mjs'

const out = join(root, 'docs', 'benchmarks.md')
const SECTIONS = ['coldstart', 'install', 'verifier', 'throughput', 'distinct', 'latency', 'mixed', 'reports', 'ingest', 'storage', 'signin']

const args = process.argv.slice(2)
const onlyAt = args.findIndex((a) => a === '--only' || a.startsWith('--only='))
const onlyArg = onlyAt < 0 ? undefined : args[onlyAt].includes('=') ? args[onlyAt].slice('--only='.length) : args[onlyAt + 1]
const only = onlyArg === undefined ? undefined : onlyArg.split(',').filter(Boolean)
for (const s of only ?? []) {
  if (!SECTIONS.includes(s)) {
    console.error(`bench: --only ${s}: unknown section (known: ${SECTIONS.join(', ')})`)
    process.exit(2)
  }
}
const selected = only ?? SECTIONS
const withServer = args.includes('--with-server')
const noWrite = args.includes('--no-write')
const quickEnv = QUICK ? {BENCH_QUICK: '1'} : {}

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

function runJson(script, extraEnv = {}, scriptArgs = []) {
  console.error(`\nbench: node bench/${script} ${scriptArgs.join(' ')}`)
  const text = execFileSync(process.execPath, [join(root, 'bench', script), ...scriptArgs], {cwd: root, env: {...process.env, ...quickEnv, ...extraEnv}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024})
  // The result is the last pretty-printed JSON object of the output (anything before it is not).
  const at = text.startsWith('{\n') ? Math.max(0, text.lastIndexOf('\n{\n') + 1) : text.lastIndexOf('\n{\n') + 1
  return JSON.parse(text.slice(at))
}

const met = (b) => (b ? 'met' : '**NOT met**')
const fmt = (n) => (n === null || n === undefined ? '—' : Math.round(n).toLocaleString('en-US'))
/** "median (min–max)" of a spread. */
const mm = (s, f = (x) => x) => (s === null || s === undefined || s.median === null ? '—' : `${f(s.median)} (${f(s.min)}–${f(s.max)})`)
const mmInt = (s) => mm(s, fmt)
const ratioText = (s) => mm(s, (x) => `${x}x`)
const loadText = (s) => (typeof s === 'number' ? `${s}` : `${s.median} (${s.min}–${s.max} over the rounds)`)

/** The lines every section starts with: machine, date, load, quick-mode warning. */
function header(loadAverage, date = new Date().toISOString()) {
  const quick = QUICK ? '\n**Quick mode (`--quick`): small sizes and short rounds, for development only; not the record.**\n' : ''
  return `${machineLine()}
Date: ${date}. One-minute load average during the section: ${loadText(loadAverage)} on ${cpus().length} cores.${quick}`
}

// ---- renderers: JSON of a script → Markdown section (heading first; the heading is how --only finds it) ----

const H = {
  coldstart: '## Cold start of every command',
  install: '## Install footprint: each user installs only their part',
  verifier: '## Verifier library: cache hits',
  throughput: '## Key service: /v1/verify against a trivial route',
  distinct: '## Key service: many distinct keys',
  latency: '## Key service: latency with many keys stored',
  mixed: '## Mixed load: /v1/verify while the service records, issues and reports',
  reports: '## Usage reports at growing size',
  ingest: '## Usage ingestion: new rows into an empty and a full database',
  storage: '## Usage storage',
  signin: '## Sign-in under attack',
}

function coldstartSection(r) {
  const rows = r.commands.map((c) => `| ${c.command} | ${mm(c.meanMs)} | ${ratioText(c.ratio)} | ${c.met === null ? '—' : `≤ 2x: ${met(c.met)}`} |`).join('\n')
  return `${H.coldstart}

${header(r.loadAverage, r.date)}
Method: ${r.rounds} rounds; each round is one \`hyperfine -N --warmup 1 --runs ${r.runsPerRound}\` over every command below, \`node -e 0\` first; a command's ratio in a round = its mean / the mean of \`node -e 0\` in that round. Shown: median (min–max) over the rounds. \`whoami KEY\` looks the key up on a key service started from this checkout (its own process); \`status\` runs with an empty home (nothing to ask). Every command is run once before timing and must exit 0.
Reproduce: \`npm run bench -- --only coldstart\` (bench/cold-start.mjs).

| command | mean ms | ratio to node -e 0 | target |
|---|---|---|---|
${rows}

All commands ≤ 2x: ${met(r.met)}.
`
}

function installSection(r) {
  const yes = (b) => (b ? 'yes' : 'no')
  const row = (name, x, target) =>
    `| ${name} | ${x.packages} | ${x.MB} | ${x.seconds} | ${yes(x.compilerRan)} | ${x.serviceDependencies.length === 0 ? 'none' : x.serviceDependencies.join(', ')} | ${yes(x.ebadengine)} | ${target} |`
  return `${H.install}

${machineLine()} npm ${r.npm}.
Date: ${new Date().toISOString()}. Load average when the section was written: ${load1()} (seconds depend on it and on the network).
Method: ${r.method}. Packages include the installed package itself; MB = \`du -sk node_modules\`; seconds = wall time of \`npm install\` (downloads included).
Reproduce: \`npm run bench -- --only install\` (add \`--with-server\` for the key service row).

| install | packages | MB on disk | seconds | compiler ran | service deps | EBADENGINE | target |
|---|---|---|---|---|---|---|---|
${row('`apikey` (CLI: app developers, CI)', r.cli, `≤ 25 MB, no compiler, no service deps: ${met(r.targets.cliAtMost25MB && r.targets.cliNoCompiler && r.targets.cliNoServiceDependencies)}`)}
${row('`@apikey/verify` (protected APIs)', r.verify, `0 dependencies: ${met(r.targets.verifyNoDependencies)} (${r.verify.dependencies})`)}
${r.server ? row('`apikey` + `@apikey/server` (key service host)', r.server, '—') + '\n\nUntil the key service became its own package (`@apikey/server`), installing the CLI alone installed what the last row installs, compiler included.\n' : ''}
Packed tarballs: ${Object.entries(r.tarballs).map(([k, v]) => `${k} ${v.packedKB} KB (${v.files} files)`).join(', ')}.
From the CLI's install, against a key service started from this checkout: \`apikey login\` exit ${r.fromInstall.login}, \`apikey init\` exit ${r.fromInstall.init} (key stored in .env: ${yes(r.fromInstall.keyStored)}), \`apikey whoami\` lookup ${r.fromInstall.whoami}; \`apikey server start\` exit ${r.fromInstall.serverStartExit} naming @apikey/server: ${yes(r.fromInstall.serverStartNamesPackage)}.
`
}

function verifierSection(v) {
  const r = (x) => (typeof x === 'number' ? `${x}x` : ratioText(x))
  return `${H.verifier}

${header(v.loadAverage ?? load1(), v.date)}
Method: ${v.method}; the baseline is \`parseKey\` (the offline checksum check every verification starts with), in the same process. Shown: median (min–max) over the rounds.
Reproduce: \`npm run bench -- --only verifier\` (bench/verifier.mjs).

| measure | per second | ratio to parseKey | target |
|---|---|---|---|
| parseKey alone | ${mmInt(v.parseKeyPerSecond)} | 1 | — |
| cache hit, usage events recorded and sent | ${mmInt(v.cacheHitPerSecond)} | ${r(v.ratioCacheHitToParseKey)} | ≥ 500,000/s: ${met(v.target.metWithUsage)} |
| cache hit, usage off | ${mmInt(v.cacheHitNoUsagePerSecond)} | ${r(v.ratioCacheHitNoUsageToParseKey)} | ≥ 500,000/s: ${met(v.target.metWithoutUsage)} |

Misses (each asks a local stand-in of /v1/verify): node:http keep-alive vs fetch = ${r(v.ratioNodeHttpToFetch.concurrency1)} at 1 in flight, ${r(v.ratioNodeHttpToFetch.concurrency32)} at 32.
`
}

function throughputSection(s) {
  const t = s.throughput
  const row = (x, ratio, target) => `| ${x.route} | ${mmInt(x.reqPerSec)} | ${mm(x.serverCpuMicrosPerRequest)} | ${mm(x.generatorCpuMicrosPerRequest)} | ${mm(x.p99Ms)} | ${ratio} | ${target} |`
  return `${H.throughput}

${header(t.loadAverage, t.date)}
Method: 10 keep-alive connections from bench/load.mjs (prebuilt requests; with several keys each connection walks its own shuffled order of them), ${s.rounds} interleaved rounds of ${s.roundSeconds} s per case (trivial, verify, hot key, auth-request, bare node:http POST, verify on a second service at the default log level, then again); the first service logs at warn; ratio = the case's req/s / GET /v1/meta's in the same round, median (min–max) over the rounds. CPU µs/request = user + system time / requests, of the service process (/proc) and of the load generator (the bench process; both share the cores).
Reproduce: \`npm run bench -- --only throughput\` (bench/service.mjs, BENCH_ONLY=throughput).

| route | req/s | service CPU µs/request | load generator CPU µs/request | p99 ms | ratio to GET /v1/meta | target |
|---|---|---|---|---|---|---|
${row(t.trivialRoute, '1', '—')}
${row(t.verify, ratioText(t.ratio), `≥ 0.8x: ${met(t.met)}`)}
${row(t.verifyHotKey, ratioText(t.hotKeyRatio), '—')}
${row(t.authRequest, ratioText(t.authRequestRatio), '—')}
${row(t.defaultLogLevel, `${ratioText(t.ratioDefaultLogLevelToWarn)} of /v1/verify at warn`, `≥ 0.9x of warn: ${met(t.logMet)}`)}

Second baseline, in the same rounds: a bare node:http server (own process) answering a POST with the same body, ${mmInt(t.bareNodePost.reqPerSec)} req/s; /v1/verify (1,000 keys) / that: ${ratioText(t.ratioToBareNodePost)}.

Context: with the key-record cache off (after the rounds, one run) ${fmt(t.verifyUncached.reqPerSec)} req/s, ${t.verifyUncached.serverCpuMicrosPerRequest} µs/request. Floor on this machine, same load generator, interleaved rounds after the others: a bare Fastify app answers a POST with the same body at ${ratioText(t.fastifyFloor.ratio)} its GET rate. Non-2xx answers: ${t.verify.non2xx + t.verifyHotKey.non2xx + t.authRequest.non2xx}.
`
}

function distinctSection(s) {
  const d = s.distinct
  return `${H.distinct}

${header(d.loadAverage, d.date)}
Method: one database with ${fmt(d.keysStored)} keys, one service; POST /v1/verify at 10 connections, each walking its own shuffled order of either the first 1,000 keys or all ${fmt(d.keysStored)} (no two connections send the same sequence); first a warm-up that verifies every key once, then 2 s of each case; ${s.rounds} interleaved rounds of ${s.roundSeconds} s per case; ratio = req/s with all keys / req/s with 1,000 in the same round.
Reproduce: \`npm run bench -- --only distinct\` (bench/service.mjs, BENCH_ONLY=distinct; BENCH_DISTINCT_KEYS).

| keys walked | req/s | p99 ms | service CPU µs/request |
|---|---|---|---|
| 1,000 | ${mmInt(d.few.reqPerSec)} | ${mm(d.few.p99Ms)} | ${mm(d.few.serverCpuMicrosPerRequest)} |
| ${fmt(d.keysStored)} | ${mmInt(d.many.reqPerSec)} | ${mm(d.many.p99Ms)} | ${mm(d.many.serverCpuMicrosPerRequest)} |

Ratio ${fmt(d.keysStored)} / 1,000: ${ratioText(d.ratio)} — target ≥ 0.8x: ${met(d.met)}. Non-2xx answers: ${d.non2xx}.
The warm-up's first pass over all ${fmt(d.keysStored)} keys (every key new to the service's cache): ${fmt(d.firstPass.reqPerSec)} req/s, p99 ${d.firstPass.p99Ms} ms, ${d.firstPass.seconds} s.
`
}

function latencySection(s) {
  const l = s.latency
  return `${H.latency}

${header(l.loadAverage, l.date)}
Method: POST /v1/verify on one keep-alive connection, one request after another, key-record cache off (every verification reads SQLite), sub-millisecond timing; two services at once — ${fmt(l.small.keys)} and ${fmt(l.big.keys)} keys stored — ${s.rounds} interleaved rounds of ${s.roundSeconds} s each; ratio per round = ${fmt(l.big.keys)} / ${fmt(l.small.keys)}.
Reproduce: \`npm run bench -- --only latency\` (bench/service.mjs, BENCH_ONLY=latency; BENCH_KEYS).

| keys stored | p50 ms | p99 ms | req/s |
|---|---|---|---|
| ${fmt(l.small.keys)} | ${mm(l.small.p50Ms)} | ${mm(l.small.p99Ms)} | ${mmInt(l.small.reqPerSec)} |
| ${fmt(l.big.keys)} | ${mm(l.big.p50Ms)} | ${mm(l.big.p99Ms)} | ${mmInt(l.big.reqPerSec)} |

p99 ratio ${ratioText(l.p99Ratio)} — target ≤ 1.2x: ${met(l.met)}; p50 ratio ${ratioText(l.p50Ratio)}.
`
}

function datasetText(u, short = false) {
  if (short) return `Data set: built as described under "${H.reports.slice(3)}" (${u.rollupNote}).`
  const sets = u.datasets.map((d) => `${fmt(d.verifications)} verifications in ${fmt(d.events)} events (built in ${d.buildSeconds} s${d.rollup ? `, ${d.rollupRuns} rollups taking ${d.rollupSeconds} s` : ''})`).join('; ')
  return `Data: ${u.days} simulated days sent through POST /v1/usage (1,000-event batches, 2 clients) to a service whose injected clock is moved hour by hour; ${u.rollupNote}. Mix: ${u.mix}. Data sets: ${sets}.`
}

function mixedSection(u) {
  const m = u.mixed
  const c = m.cases
  const row = (name, what, ratio, target) => `| ${what} | ${mmInt(c[name].reqPerSec)} | ${mm(c[name].p99Ms)} | ${ratio} | ${mm(c[name].eldP99Ms)} / ${mm(c[name].eldMaxMs)} | ${c[name].backgroundPerSecond ? mm(c[name].backgroundPerSecond) : '—'} | ${target} |`
  return `${H.mixed}

${header(m.loadAverage, m.date)}
Method: one service on a copy of the ${fmt(m.verificationsStored)}-verification data set (below); POST /v1/verify at 10 connections (each its own shuffled order of 1,000 keys, records cached after a warm-up); ${u.rounds} interleaved rounds of ${m.secondsPerCase} s per case: idle; while 2 clients post 1,000-event usage batches of new rows; while one client issues keys (POST /v1/apps/bench-app/keys) in a loop; while one client fetches the ${u.days}-day usage report in a loop. The background clients run in their own process (bench/background.mjs). Event-loop delay: \`monitorEventLoopDelay\` inside the service's process, reset before each case. Ratio = the case's req/s / idle req/s in the same round.
${datasetText(u, true)}
Reproduce: \`npm run bench -- --only mixed\` (bench/usage.mjs mixed).

| case | verify req/s | verify p99 ms | ratio to idle | service event-loop delay p99 / max ms | background requests/s | target |
|---|---|---|---|---|---|---|
${row('idle', 'idle', '1', '—')}
${row('usage', 'usage batches posted (2 clients)', ratioText(m.ratioUsageToIdle), `≥ 0.8x: ${met(m.met.usageAtLeast0_8)}`)}
${row('issue', 'keys issued in a loop', ratioText(m.ratioIssueToIdle), `≥ 0.8x: ${met(m.met.issueAtLeast0_8)}`)}
${row('report', `${u.days}-day usage report in a loop`, ratioText(m.ratioReportToIdle), `p99 ≤ 10 ms: ${met(m.met.reportP99AtMost10ms)}`)}

Usage batches stored meanwhile: ${mmInt(c.usage.backgroundEventsPerSec)} events/s. Non-2xx: verify ${['idle', 'usage', 'issue', 'report'].reduce((a, n) => a + c[n].non2xx, 0)}, background ${['usage', 'issue', 'report'].reduce((a, n) => a + c[n].backgroundNon2xx, 0)}.
`
}

function reportsSection(u) {
  const r = u.reports
  const rows = r.perSize.map((s, i) => `| ${fmt(s.verifications)} | ${mm(s.ms)} | ${mm(s.eldMaxMs)} | ${fmt(s.totalInReport)} ${s.countsMatch ? '(all)' : '(**differs from the verifications sent**)'} | ${i === r.perSize.length - 1 ? `≤ 200 ms: ${met(r.met.largestAtMost200ms)}` : '—'} |`).join('\n')
  return `${H.reports}

${header(r.loadAverage, r.date)}
Method: GET /v1/apps/bench-app/usage over the ${r.range} of each data set, one service per data set, all running; ${u.rounds} interleaved rounds, each ${r.requestsPerRound} requests per size one after another (the round's value is their median); ratio per round = largest / smallest.
${datasetText(u)}
Reproduce: \`npm run bench -- --only reports\` (bench/usage.mjs reports; BENCH_REPORT_SIZES, BENCH_USAGE_KEYS, BENCH_USAGE_DAYS, BENCH_DATA_DIR to keep the data sets).

| verifications stored | report ms | service event-loop delay max ms | total in the report | target |
|---|---|---|---|---|
${rows}

Ratio ${fmt(r.perSize.at(-1).verifications)} / ${fmt(r.perSize[0].verifications)}: ${ratioText(r.ratioLargestToSmallest)} — target ≤ 1.5x: ${met(r.met.flatAtMost1_5)}. Every report counts exactly the verifications sent: ${met(r.met.countsMatch)}.

As an owner would try it, in the same rounds: \`${r.cli.command}\` (wall time of the command, signed in with APIKEY_TOKEN) on an app without usage ${mm(r.cli.emptyMs)} ms, with ${fmt(r.perSize.at(-1).verifications)} verifications stored ${mm(r.cli.largestMs)} ms: ${ratioText(r.cli.ratio)}.
`
}

function ingestSection(u) {
  const g = u.ingest
  return `${H.ingest}

${header(g.loadAverage, g.date)}
Method: POST /v1/usage batches of ${fmt(g.batchSize)} events, each event of count 1 from a client network not sent before (so every event makes a new row), ${g.clients} clients at once; two services running: one on an empty database, one on a copy of the ${fmt(g.storedBefore.largest)}-verification data set; ${u.rounds} interleaved rounds of ${fmt(g.eventsPerRound)} events per database (batches generated before the timed part); slowdown per round = empty / full. Lost = acknowledged − counted in the database (minute rows since the start, read with SQLite after the services closed).
${datasetText(u, true)}
Reproduce: \`npm run bench -- --only ingest\` (bench/usage.mjs ingest; BENCH_INGEST_EVENTS).

| database | events/s | service event-loop delay max ms | acknowledged | lost | target |
|---|---|---|---|---|---|
| empty | ${mmInt(g.eventsPerSec.empty)} | ${mm(g.eldMaxMs.empty)} | ${fmt(g.acknowledged.empty)} | ${g.lost.empty} | ≥ 50,000/s: ${met(g.eventsPerSec.empty.median >= 50_000)} |
| ${fmt(g.storedBefore.largest)} verifications stored | ${mmInt(g.eventsPerSec.largest)} | ${mm(g.eldMaxMs.largest)} | ${fmt(g.acknowledged.largest)} | ${g.lost.largest} | ≥ 50,000/s: ${met(g.eventsPerSec.largest.median >= 50_000)} |

Slowdown empty → full: ${ratioText(g.slowdownEmptyToLargest)} — target ≤ 1.3x: ${met(g.met.flatAtMost1_3)}. 0 lost: ${met(g.met.noneLost)}. Failed batches: ${g.failedBatches}; answered 503 and sent again after Retry-After: ${g.retriedBatches ?? 0} (the time includes the waits).
While the data sets were built (same path, mixed events): ${u.datasets.map((d) => `${fmt(d.verifications)}: first day ${fmt(d.ingestFirstDayEventsPerSec)}, last day ${fmt(d.ingestLastDayEventsPerSec)} events/s`).join('; ')} (hour-sized batches, single-shot, for orientation only).
`
}

function storageSection(u) {
  const s = u.storage
  const mib = (b) => (b === null || b === undefined ? '—' : `${(b / 2 ** 20).toFixed(1)} MiB`)
  const rows = s.sets
    .flatMap((x) => {
      const counted = x.verificationsInDatabase === undefined ? '' : ` (counted in the database: ${fmt(x.verificationsInDatabase)})`
      const levels = x.levels === undefined ? [] : Object.entries(x.levels).map(([name, l]) => `| | ${name} (${l.tables.join(', ')}) | ${fmt(l.rows)} | ${l.bytesPerRow ?? '—'} | ${mib(l.bytesPerMillionVerifications)} |`)
      return [`| ${fmt(x.verifications)}${counted}; file ${mib(x.databaseFileBytes)} | all usage tables | ${fmt(x.usageRows)} | ${fmt(x.bytesPerRow)} | ${mib(x.bytesPerMillionVerifications)} |`, ...levels]
    })
    .join('\n')
  const tables = s.sets.map((x) => `${fmt(x.verifications)}: ${Object.entries(x.tables).map(([t, v]) => `${t} ${fmt(v.rows)} rows ${v.bytesPerRow ?? '—'} B/row`).join(', ')}`).join('; ')
  return `${H.storage}

${header(s.loadAverage, s.date)}
Method: each data set right after it was built; bytes of every usage table and its indexes (SQLite dbstat; not the idempotency keys of batches); usage rows = rows of the tables holding counts; per row = bytes / rows; per million verifications = bytes / (verifications / 1,000,000). Per level (minute, hour, day, dictionary of values) from bench/usage-storage.mjs, which also counts the verifications the database holds (each once, from the coarsest level).
${datasetText(u, true)}
Reproduce: \`npm run bench -- --only storage\` (bench/usage.mjs storage; one database: \`node bench/usage-storage.mjs --db PATH\`).

| verifications sent | level | rows | bytes per row | per million verifications |
|---|---|---|---|---|
${rows}

Per table: ${tables}.
`
}

// ---- run ----

const sections = {}
if (selected.includes('coldstart')) {
  if (!have('hyperfine')) {
    console.error('bench: hyperfine is not installed (apt-get install -y hyperfine)')
    process.exit(1)
  }
  sections.coldstart = coldstartSection(runJson('cold-start.mjs'))
}
let install
if (selected.includes('install')) {
  install = runJson('install.mjs', {}, withServer ? ['--with-server'] : [])
  sections.install = installSection(install)
}
if (selected.includes('verifier')) sections.verifier = verifierSection(runJson('verifier.mjs'))
const serviceParts = ['throughput', 'distinct', 'latency'].filter((s) => selected.includes(s))
if (serviceParts.length > 0) {
  const service = runJson('service.mjs', {BENCH_ONLY: serviceParts.join(',')})
  if (service.throughput) sections.throughput = throughputSection(service)
  if (service.distinct) sections.distinct = distinctSection(service)
  if (service.latency) sections.latency = latencySection(service)
}
const usageParts = ['storage', 'reports', 'mixed', 'ingest'].filter((s) => selected.includes(s))
if (usageParts.length > 0) {
  const usage = runJson('usage.mjs', {}, usageParts)
  if (usage.mixed) sections.mixed = mixedSection(usage)
  if (usage.reports) sections.reports = reportsSection(usage)
  if (usage.ingest) sections.ingest = ingestSection(usage)
  if (usage.storage) sections.storage = storageSection(usage)
}
if (selected.includes('signin')) sections.signin = signInSection(runJson('sign-in.mjs'))

/**
 * `doc` with section `name` replaced by `text`; a section not in `doc` yet goes before the next
 * section of {@link SECTIONS} that is, else before the hand-written analysis, else at the end.
 */
function replaceSection(doc, name, text) {
  const heading = H[name]
  const start = doc.indexOf(`\n${heading}`)
  if (start >= 0) {
    const end = doc.indexOf('\n## ', start + heading.length)
    return doc.slice(0, start + 1) + text + (end < 0 ? '' : doc.slice(end))
  }
  const later = SECTIONS.slice(SECTIONS.indexOf(name) + 1).map((s) => doc.indexOf(`\n${H[s]}`)).filter((at) => at >= 0)
  const at = later.length > 0 ? Math.min(...later) : doc.indexOf('\n## Where ')
  return at < 0 ? `${doc}\n${text}` : `${doc.slice(0, at + 1)}${text}\n${doc.slice(at + 1)}`
}

const intro = `# Benchmarks

Generated by \`npm run bench\` (bench/run.mjs); each section names its machine, date and load average.
Every comparison is measured in interleaved rounds (A, B, A, B, …) in one run on one machine; shown
are the median and, in parentheses, the min–max over the rounds. Tests never assert on time.
Full run: \`npm run bench\`; one section: \`npm run bench -- --only SECTION\` (${SECTIONS.join(', ')}).
`
let doc
if (only === undefined) {
  const analysis = readFileSync(join(root, 'bench', 'analysis.md'), 'utf8')
  doc = `${intro}\n${SECTIONS.map((s) => sections[s]).filter(Boolean).join('\n')}\n${analysis}`
} else {
  doc = existsSync(out) ? readFileSync(out, 'utf8') : intro
  for (const s of SECTIONS.filter((x) => only.includes(x))) doc = replaceSection(doc, s, sections[s])
}
const text = SECTIONS.map((s) => sections[s]).filter(Boolean).join('\n')
if (noWrite) console.log(text)
else {
  writeFileSync(out, doc)
  console.log(`\n${text}\nwritten to ${out}`)
}
if (install !== undefined && !Object.values(install.targets).every(Boolean)) process.exitCode = 1
