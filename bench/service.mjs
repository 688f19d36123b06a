#!/usr/bin/env node
// Key service benchmarks. Prints one JSON object; ratios are against a
// baseline measured in the same run, on the same machine.
//
//  1. throughput: POST /v1/verify req/s at 10 connections vs GET /v1/meta (a trivial
//     route on the same server) — target ≥ 0.8x — with 1,000 distinct keys (records
//     cached after a warm-up), one hot key, the cache off, and the nginx auth-request form.
//     The four run in interleaved rounds (5 × BENCH_DURATION/4 s each); ratios are the median of
//     the per-round ratios (the VM's speed drifts between rounds). Each run also gives the
//     service's CPU time per request (µs, user + system, from /proc).
//     For context, the same GET-vs-POST ratio in a bare Fastify app (fastifyFloor).
//  2. latency: POST /v1/verify p50/p99 with 1,000,000 keys stored vs 1,000 keys, the
//     key-record cache off so every verification reads SQLite — target p99 ratio ≤ 1.2.
//     Keys are generated straight through the repository in one transaction.
//  3. usage ingestion: POST /v1/usage batches of 5,000 events — target ≥ 50,000 events/s,
//     zero lost (events counted in the database = events acknowledged with 2xx).
//
// Needs the compiled service (npm run build → packages/server/dist/, or APIKEY_DIST=<outDir of tsc>) and
// autocannon 9 (npm i -D autocannon@9, or AUTOCANNON_PATH=<dir containing node_modules/autocannon>).
// Options: BENCH_DURATION (s per run, default 10), BENCH_KEYS (default 1000000),
// BENCH_ONLY (comma list of throughput,latency,usage; default all).
import {execFileSync, fork} from 'node:child_process'
import http from 'node:http'
import {createRequire} from 'node:module'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = resolve(process.env.APIKEY_DIST ?? join(root, 'packages', 'server', 'dist'))
const duration = Number(process.env.BENCH_DURATION ?? 10)
const bigCount = Number(process.env.BENCH_KEYS ?? 1_000_000)
const only = new Set((process.env.BENCH_ONLY ?? 'throughput,latency,usage').split(','))

async function loadAutocannon() {
  try {
    return (await import('autocannon')).default
  } catch {
    if (process.env.AUTOCANNON_PATH) {
      const require = createRequire(join(resolve(process.env.AUTOCANNON_PATH), 'noop.js'))
      return require('autocannon')
    }
    console.error('bench/service.mjs: autocannon is not installed. Run: npm i -D autocannon@9 (or set AUTOCANNON_PATH to a directory where it is installed)')
    process.exit(1)
  }
}

async function loadService() {
  const mod = async (path) => {
    try {
      return await import(pathToFileURL(join(dist, path)).href)
    } catch (error) {
      console.error(`bench/service.mjs: cannot load ${join(dist, path)} (${error.message}). Build first: npm run build (or set APIKEY_DIST)`)
      process.exit(1)
    }
  }
  return {
    main: await mod('server/main.js'),
    users: await mod('server/services/users.js'),
    verifiers: await mod('server/services/verifiers.js'),
    connection: await mod('server/db/connection.js'),
    repos: await mod('server/repositories/index.js'),
    crypto: await mod('server/services/crypto.js'),
    keyFormat: await mod('core/key-format.js'),
  }
}

const autocannon = await loadAutocannon()
const svc = await loadService()
const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef'
const UNLIMITED = Object.fromEntries(['dev', 'test', 'stage', 'prod', 'ci'].map((env) => [env, {limit: 1_000_000_000, windowMs: 60_000}]))
const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({duration, ...options}, (error, result) => (error ? reject(error) : resolve(result)))
  })
}

/** A database with a user, an app, `count` keys and a verifier; returns plaintexts of a sample of keys. */
async function prepare(count, sample) {
  console.error(`bench: storing ${count} keys…`)
  const dir = mkdtempSync(join(tmpdir(), 'apikey-bench-service-'))
  const dbPath = join(dir, 'apikey.db')
  // Admin operations work on an existing database only (server start creates it): create it first.
  await (await svc.connection.openDatabase(dbPath)).close()
  await svc.users.addUser({dbPath, username: 'bench', password: 'bench-password-123', team: 'bench', admin: false, scryptCost: CHEAP_SCRYPT})
  const verifier = await svc.verifiers.addVerifier({dbPath, name: 'bench'})
  const handle = await svc.connection.openDatabase(dbPath)
  const pepper = Buffer.from(PEPPER, 'utf8')
  const keys = []
  const started = performance.now()
  // Outside the transaction: the SQLite driver has one connection, held by the transaction.
  const user = (await handle.db.selectFrom('users').select('id').executeTakeFirstOrThrow()).id
  const team = (await handle.db.selectFrom('teams').select('id').executeTakeFirstOrThrow()).id
  await svc.repos.inTransaction(handle.db, async (repos) => {
    await repos.apps.insert({id: 'app_bench', slug: 'bench-app', name: 'Bench', teamId: team, contactEmail: 'bench@example.com', description: null, createdBy: user, createdAt: Date.now()})
    const every = Math.max(1, Math.floor(count / sample))
    let rows = []
    for (let i = 0; i < count; i++) {
      const key = svc.keyFormat.generateKey({prefix: 'ak', app: 'bench-app', env: 'prod'})
      if (i % every === 0 && keys.length < sample) keys.push(key)
      rows.push({
        id: svc.crypto.newId('key'),
        appId: 'app_bench',
        env: 'prod',
        kind: 'service',
        name: null,
        hash: svc.crypto.keyHash(pepper, key),
        start: svc.keyFormat.parseKey(key).start,
        createdBy: user,
        createdAt: Date.now(),
        expiresAt: Date.now() + 365 * 86_400_000,
        metadata: {},
      })
      if (rows.length === 20_000) {
        await repos.keys.insertMany(rows)
        rows = []
      }
    }
    await repos.keys.insertMany(rows)
  })
  const generateSeconds = (performance.now() - started) / 1000
  await handle.close()
  return {dir, dbPath, verifier: verifier.token, keys, generateSeconds}
}

/** Starts the service in a child process (bench/service-server.mjs); resolves to {url, flushUsage(), close()}. */
async function start(prepared, settings = {}) {
  console.error("bench: starting the service…")
  const child = fork(fileURLToPath(new URL('./service-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []})
  const ask = (message, answer) =>
    new Promise((resolve, reject) => {
      const onMessage = (reply) => {
        if (reply.type === answer) {
          child.off('message', onMessage)
          resolve(reply)
        } else if (reply.type === 'error') {
          child.off('message', onMessage)
          reject(new Error(reply.message))
        }
      }
      child.on('message', onMessage)
      child.send(message)
    })
  const {url} = await ask({type: 'start', dist, dbPath: prepared.dbPath, pepper: PEPPER, settings: {verifyRateLimits: UNLIMITED, scryptCost: CHEAP_SCRYPT, ...settings}}, 'started')
  return {
    url,
    /** CPU time (user + system) the service process has used so far, in µs; undefined off Linux. */
    cpuMicros: () => processCpuMicros(child.pid),
    flushUsage: () => ask({type: 'flush'}, 'flushed'),
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      await ask({type: 'stop'}, 'stopped')
      await exited
    },
  }
}

/** CPU time (user + system) of process `pid` so far in µs, from /proc (Linux); undefined elsewhere. */
function processCpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return undefined
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100
  } catch {
    return 100
  }
})()

/** Rounds of the interleaved throughput comparison, and seconds per case in each. */
const ROUNDS = 5
const ROUND_SECONDS = Math.max(1, Math.round(duration / 4))

/** Median of numbers (null when any is null). */
function median(values) {
  if (values.some((v) => v === null || v === undefined)) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** An autocannon run plus the service's CPU time per request (µs; user + system, all threads). */
async function measured(server, options) {
  const before = server.cpuMicros()
  const result = await run(options)
  const after = server.cpuMicros()
  const cpuPerRequest = before === undefined || after === undefined || result.requests.total === 0 ? null : Math.round(((after - before) / result.requests.total) * 10) / 10
  return {reqPerSec: result.requests.average, non2xx: result.non2xx, p50Ms: result.latency.p50, p99Ms: result.latency.p99, serverCpuMicrosPerRequest: cpuPerRequest}
}

/** One fixed request per sampled key; autocannon cycles through them (no per-request work in the load generator). */
const verifyRequests = (prepared) =>
  prepared.keys.map((key) => ({
    method: 'POST',
    path: '/v1/verify',
    headers: {authorization: `Bearer ${prepared.verifier}`, 'content-type': 'application/json'},
    body: JSON.stringify({key, context: {clientIp: '198.51.100.7', route: '/v1/bench', userAgent: 'okhttp/4.12.0'}}),
  }))

/**
 * One connection (keep-alive), requests one after another for `seconds`; latency per request
 * with sub-millisecond resolution (autocannon rounds to whole ms).
 */
async function sequential(url, requests, seconds) {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1})
  const target = new URL(url)
  const times = []
  let non2xx = 0
  const end = performance.now() + seconds * 1000
  for (let i = 0; performance.now() < end; i++) {
    const r = requests[i % requests.length]
    const t = performance.now()
    const status = await new Promise((resolve, reject) => {
      const req = http.request({host: target.hostname, port: target.port, path: r.path, method: r.method, headers: {...r.headers, 'content-length': Buffer.byteLength(r.body)}, agent}, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(r.body)
    })
    times.push(performance.now() - t)
    if (status < 200 || status >= 300) non2xx++
  }
  agent.destroy()
  times.sort((a, b) => a - b)
  const pick = (q) => Number(times[Math.min(times.length - 1, Math.floor(times.length * q))].toFixed(3))
  return {requests: times.length, reqPerSec: Math.round(times.length / seconds), p50Ms: pick(0.5), p99Ms: pick(0.99), meanMs: Number((times.reduce((a, b) => a + b, 0) / times.length).toFixed(3)), non2xx}
}

/**
 * Context for the throughput ratio: in a bare Fastify app (no hooks, no logging, no schemas),
 * a POST with the same JSON body against a GET, both answering a fixed small object. No
 * POST route can do better than this ratio on this machine.
 */
async function fastifyFloor() {
  const child = fork(fileURLToPath(new URL('./fastify-floor-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const url = await new Promise((resolve) => child.once('message', resolve))
  const body = verifyRequests({verifier: 'x', keys: ['ak_bench-app_prod_' + 'x'.repeat(32)]})[0].body
  const get = {url, connections: 10, requests: [{method: 'GET', path: '/get'}]}
  const post = {url, connections: 10, requests: [{method: 'POST', path: '/post', headers: {'content-type': 'application/json'}, body}]}
  await run({...get, duration: 2})
  const getResult = await run(get)
  const postResult = await run(post)
  child.kill()
  return {get: getResult.requests.average, post: postResult.requests.average, ratio: postResult.requests.average / getResult.requests.average}
}

const results = {machine: {cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version}, durationSeconds: duration}

// 1. Throughput at 10 connections: verify vs a trivial route, same server.
if (only.has('throughput')) {
  const prepared = await prepare(1000, 1000)
  const server = await start(prepared)
  const meta = {url: server.url, connections: 10, requests: [{method: 'GET', path: '/v1/meta'}]}
  const distinct = {url: server.url, connections: 10, requests: verifyRequests(prepared)}
  await run({...meta, duration: 2}) // warm-up
  await run({...distinct, duration: 2}) // warm-up: every key's record cached
  // Interleaved rounds (meta, verify, hot key, auth-request, each ROUND_SECONDS): on a shared VM the
  // speed drifts by tens of percent within a minute, so each ratio is taken within one round and the
  // median over the rounds is reported.
  const cases = {
    trivial: meta,
    verify: distinct,
    hot: {url: server.url, connections: 10, requests: verifyRequests({...prepared, keys: prepared.keys.slice(0, 1)})},
    gateway: {url: server.url, connections: 10, requests: [{method: 'GET', path: '/v1/verify/auth-request', headers: {'x-verifier-token': prepared.verifier, 'x-api-key': prepared.keys[0], 'x-real-ip': '198.51.100.7'}}]},
  }
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    const out = {}
    for (const [name, options] of Object.entries(cases)) out[name] = await measured(server, {...options, duration: ROUND_SECONDS})
    rounds.push(out)
  }
  const summary = (name) => ({
    reqPerSec: median(rounds.map((r) => r[name].reqPerSec)),
    serverCpuMicrosPerRequest: median(rounds.map((r) => r[name].serverCpuMicrosPerRequest)),
    p99Ms: median(rounds.map((r) => r[name].p99Ms)),
    non2xx: rounds.reduce((sum, r) => sum + r[name].non2xx, 0),
  })
  const roundRatio = (name) => median(rounds.map((r) => r[name].reqPerSec / r.trivial.reqPerSec))
  const [trivial, verify, hot, gateway] = ['trivial', 'verify', 'hot', 'gateway'].map(summary)
  await server.close()
  // The same 1,000 keys with the key-record cache off: every verification is an HMAC and a SQLite read.
  const uncachedServer = await start(prepared, {keyCacheMs: 0})
  await run({url: uncachedServer.url, connections: 10, duration: 2, requests: verifyRequests(prepared)})
  const uncached = await measured(uncachedServer, {url: uncachedServer.url, connections: 10, requests: verifyRequests(prepared)})
  await uncachedServer.close()
  rmSync(prepared.dir, {recursive: true, force: true})
  const floor = await fastifyFloor()
  results.throughput = {
    connections: 10,
    trivialRoute: {route: 'GET /v1/meta', ...trivial},
    verify: {route: 'POST /v1/verify, 1,000 distinct keys round robin (records cached)', ...verify},
    verifyHotKey: {route: 'POST /v1/verify, one key', ...hot},
    verifyUncached: {route: 'POST /v1/verify, 1,000 distinct keys, key-record cache off (keyCacheMs 0)', ...uncached},
    authRequest: {route: 'GET /v1/verify/auth-request, one key', ...gateway},
    rounds: ROUNDS,
    roundSeconds: ROUND_SECONDS,
    ratio: roundRatio('verify'),
    hotKeyRatio: roundRatio('hot'),
    authRequestRatio: roundRatio('gateway'),
    uncachedRatio: uncached.reqPerSec / trivial.reqPerSec,
    cpuRatio: median(rounds.map((r) => r.trivial.serverCpuMicrosPerRequest / r.verify.serverCpuMicrosPerRequest)),
    perRoundRatios: rounds.map((r) => Number((r.verify.reqPerSec / r.trivial.reqPerSec).toFixed(2))),
    fastifyFloor: floor,
    target: '≥ 0.8',
  }
  results.throughput.met = results.throughput.ratio >= 0.8
}

// 2. Latency with 1,000,000 keys vs 1,000 keys (key cache off: every verification reads SQLite).
if (only.has('latency')) {
  const latency = {}
  for (const count of [1000, bigCount]) {
    const prepared = await prepare(count, 2000)
    const server = await start(prepared, {keyCacheMs: 0})
    await sequential(server.url, verifyRequests(prepared), 2)
    const r = await sequential(server.url, verifyRequests(prepared), duration)
    latency[count] = {keys: count, generateSeconds: Number(prepared.generateSeconds.toFixed(1)), ...r}
    await server.close()
    rmSync(prepared.dir, {recursive: true, force: true})
  }
  const small = latency[1000]
  const big = latency[bigCount]
  results.latency = {connections: 1, small, big, p50Ratio: big.p50Ms / small.p50Ms, p99Ratio: big.p99Ms / small.p99Ms, meanRatio: big.meanMs / small.meanMs, target: 'p99 ratio ≤ 1.2'}
  results.latency.met = results.latency.p99Ratio <= 1.2
}

// 3. Usage ingestion: batches of 5,000 events, zero lost.
if (only.has('usage')) {
  const prepared = await prepare(1000, 1000)
  const server = await start(prepared)
  const handle = await svc.connection.openDatabase(prepared.dbPath)
  const ids = (await handle.db.selectFrom('api_keys').select('id').limit(1000).execute()).map((r) => r.id)
  const agents = ['okhttp/4.12.0', 'curl/8.5.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1']
  const batches = Array.from({length: 8}, (_, b) =>
    JSON.stringify({
      events: Array.from({length: 5000}, (_, i) => ({
        keyId: ids[(b * 5000 + i) % ids.length],
        app: 'bench-app',
        code: i % 20 === 0 ? 'RATE_LIMITED' : 'VALID',
        route: `/v1/route/${i % 10}`,
        clientApp: `com.example.app${i % 5}`,
        appVersion: `1.${i % 7}.0`,
        userAgent: agents[i % agents.length],
        clientIp: `198.51.${i % 200}.${(i * 7) % 250}`,
        at: Date.now() - (i % 60) * 1000,
      })),
    }),
  )
  // Own loop instead of autocannon: every acknowledged batch is counted, none is in flight at the end.
  let n = 0
  let acknowledgedBatches = 0
  let failedBatches = 0
  const latencies = []
  const deadline = performance.now() + duration * 1000
  const began = performance.now()
  await Promise.all(
    Array.from({length: 2}, async () => {
      while (performance.now() < deadline) {
        const t = performance.now()
        const res = await fetch(`${server.url}/v1/usage`, {method: 'POST', headers: {authorization: `Bearer ${prepared.verifier}`, 'content-type': 'application/json'}, body: batches[n++ % batches.length]})
        await res.arrayBuffer()
        latencies.push(performance.now() - t)
        if (res.ok) acknowledgedBatches++
        else failedBatches++
      }
    }),
  )
  const elapsed = (performance.now() - began) / 1000
  latencies.sort((a, b) => a - b)
  await server.flushUsage()
  const stored = Number((await handle.db.selectFrom('usage_minutes').select((eb) => eb.fn.sum('count').as('n')).executeTakeFirst())?.n ?? 0)
  await handle.close()
  await server.close()
  rmSync(prepared.dir, {recursive: true, force: true})
  const acknowledged = acknowledgedBatches * 5000
  results.usage = {
    batchSize: 5000,
    connections: 2,
    batchesPerSec: acknowledgedBatches / elapsed,
    eventsPerSec: acknowledged / elapsed,
    acknowledgedEvents: acknowledged,
    storedEvents: stored,
    lost: acknowledged - stored,
    non2xx: failedBatches,
    p50BatchMs: Math.round(latencies[Math.floor(latencies.length * 0.5)] ?? 0),
    p99BatchMs: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
    target: '≥ 50,000 events/s, 0 lost',
  }
  results.usage.met = results.usage.eventsPerSec >= 50_000 && results.usage.lost === 0
}

console.log(JSON.stringify(results, null, 2))
