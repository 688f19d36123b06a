#!/usr/bin/env node
// Key service benchmarks: /v1/verify against baselines measured in the same run, every
// comparison in interleaved rounds (A, B, A, B, …; BENCH_ROUNDS, default 5) with the median and
// the min–max of the per-round ratios. Prints one JSON object. The service runs alone in its
// process (bench/service-server.mjs); the load generator walks, on each of its 10 keep-alive
// connections, its own shuffled order of the keys (lib.mjs verifyLoad).
//
//  throughput: POST /v1/verify req/s vs GET /v1/meta (a trivial route on the same server) —
//     target ≥ 0.8x — with 1,000 distinct keys (records cached after a warm-up), one hot key and
//     the nginx auth-request form; plus the service's CPU time per request (µs, from /proc).
//     In the same rounds, /v1/verify on a second service at its default log level (lines to /dev/null)
//     against the first (log level warn) — target ≥ 0.9x. Second baseline in the same rounds: a bare node:http server answering a POST with the same
//     body. For context: the key-record cache off (keyCacheMs 0), and the GET-vs-POST ratio of a
//     bare Fastify app (fastifyFloor).
//  distinct:   POST /v1/verify req/s walking 200,000 distinct keys (BENCH_DISTINCT_KEYS) vs 1,000
//     keys of the same database and server, after a warm-up that verifies every key once (its rate
//     is reported as the first pass) — target ≥ 0.8x.
//  latency:    POST /v1/verify p50/p99 on one connection with 1,000,000 keys stored (BENCH_KEYS)
//     vs 1,000, the key-record cache off so every verification reads SQLite, both services
//     running, interleaved — target p99 ratio ≤ 1.2.
//
// Load generator: bench/load.mjs (prebuilt request bytes, exact percentiles); each case's CPU time
// per request is given for the service and for this process (the generator), which share the cores.
// Needs the compiled service (npm run build → packages/server/dist/, or APIKEY_DIST=<outDir of tsc>). Options: BENCH_ROUND_SECONDS (s per case per round, default 3; quick 1),
// BENCH_KEYS, BENCH_DISTINCT_KEYS, BENCH_ONLY (comma list of throughput,distinct,latency; default all),
// BENCH_QUICK=1 (small sizes, for development).
import http from 'node:http'
import {fork} from 'node:child_process'
import {rmSync} from 'node:fs'
import {cpus} from 'node:os'
import {fileURLToPath} from 'node:url'
import {QUICK, interleaved, load1, loadService, prepare, round, routeLoad, size, spread, startService, verifyBody, verifyLoad} from './lib.mjs'

const rounds = Math.max(1, size('BENCH_ROUNDS', 5, 5))
const roundSeconds = size('BENCH_ROUND_SECONDS', 3, 1)
const bigCount = size('BENCH_KEYS', 1_000_000, 20_000)
const distinctCount = size('BENCH_DISTINCT_KEYS', 200_000, 20_000)
const only = new Set((process.env.BENCH_ONLY ?? 'throughput,distinct,latency').split(','))

const svc = await loadService()

/** A load plus the CPU time per request (µs; user + system, all threads) of the service and of this process (the load generator). */
async function withCpu(server, load) {
  const before = server.cpuMicros()
  const self = process.cpuUsage()
  const result = await load()
  const after = server.cpuMicros()
  const mine = process.cpuUsage(self)
  return {
    ...result,
    serverCpuMicrosPerRequest: before === undefined || after === undefined || result.requests === 0 ? null : round((after - before) / result.requests, 1),
    generatorCpuMicrosPerRequest: result.requests === 0 ? null : round((mine.user + mine.system) / result.requests, 1),
  }
}

/**
 * One connection (keep-alive), requests one after another for `seconds`; latency per request
 * with sub-millisecond resolution, through node:http.
 */
async function sequential(url, bodies, seconds) {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1})
  const target = new URL(url)
  const times = []
  let non2xx = 0
  const end = performance.now() + seconds * 1000
  for (let i = 0; performance.now() < end; i++) {
    const body = bodies[i % bodies.length]
    const t = performance.now()
    const status = await new Promise((resolve, reject) => {
      const req = http.request({host: target.hostname, port: target.port, path: '/v1/verify', method: 'POST', headers: {authorization: `Bearer ${sequential.verifier}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}, agent}, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(body)
    })
    times.push(performance.now() - t)
    if (status < 200 || status >= 300) non2xx++
  }
  agent.destroy()
  times.sort((a, b) => a - b)
  const pick = (q) => Number(times[Math.min(times.length - 1, Math.floor(times.length * q))].toFixed(3))
  return {requests: times.length, reqPerSec: Math.round(times.length / seconds), p50Ms: pick(0.5), p99Ms: pick(0.99), non2xx}
}

/**
 * Context for the throughput ratio: a bare Fastify app (no hooks, logging or schemas) answering a
 * fixed small object to a GET and to a POST with the same JSON body as /v1/verify, interleaved
 * rounds. No Fastify POST route can do better than this ratio on this machine.
 */
async function fastifyFloor() {
  const child = fork(fileURLToPath(new URL('./fastify-floor-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const url = await new Promise((resolve) => child.once('message', resolve))
  const body = verifyBody('ak_bench-app_prod_' + 'x'.repeat(32))
  const rows = await interleaved(
    {
      get: () => routeLoad(url, {method: 'GET', path: '/get'}, roundSeconds),
      post: () => routeLoad(url, {method: 'POST', path: '/post', headers: {'content-type': 'application/json'}, body}, roundSeconds),
    },
    rounds,
    'fastify floor',
  )
  child.kill()
  return {get: spread(rows.map((r) => r.get.reqPerSec), 0), post: spread(rows.map((r) => r.post.reqPerSec), 0), ratio: spread(rows.map((r) => r.post.reqPerSec / r.get.reqPerSec))}
}

/** A bare node:http server (bench/node-floor-server.mjs) in its own process; resolves to {url, close()}. */
async function nodeFloor() {
  const child = fork(fileURLToPath(new URL('./node-floor-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const url = await new Promise((resolve) => child.once('message', resolve))
  return {url, close: () => child.kill()}
}

const results = {machine: {cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version}, quick: QUICK, rounds, roundSeconds, loadAverageStart: load1()}

// 1. Throughput at 10 connections: verify vs a trivial route, same server.
if (only.has('throughput')) {
  const date = new Date().toISOString()
  const prepared = await prepare(svc, 1000, 1000)
  sequential.verifier = prepared.verifier
  const server = await startService(prepared.dbPath)
  const base = {url: server.url, verifier: prepared.verifier, connections: 10}
  const meta = {method: 'GET', path: '/v1/meta'}
  const gateway = {method: 'GET', path: '/v1/verify/auth-request', headers: {'x-verifier-token': prepared.verifier, 'x-api-key': prepared.keys[0], 'x-real-ip': '198.51.100.7'}}
  // The same keys in a second database, served at the service's default log level (lines to /dev/null).
  const logged = await prepare(svc, 1000, 1000)
  const loggedServer = await startService(logged.dbPath, {logLevel: null})
  const bare = await nodeFloor()
  const barePost = {method: 'POST', path: '/', headers: {'content-type': 'application/json'}, body: verifyBody(prepared.keys[0])}
  await routeLoad(server.url, meta, 2) // warm-up
  await verifyLoad({...base, keys: prepared.keys, seconds: 2}) // warm-up: every key's record cached
  await verifyLoad({url: loggedServer.url, verifier: logged.verifier, keys: logged.keys, connections: 10, seconds: 2})
  const rows = await interleaved(
    {
      trivial: () => withCpu(server, () => routeLoad(server.url, meta, roundSeconds)),
      verify: () => withCpu(server, () => verifyLoad({...base, keys: prepared.keys, seconds: roundSeconds})),
      hot: () => withCpu(server, () => verifyLoad({...base, keys: prepared.keys.slice(0, 1), seconds: roundSeconds})),
      gateway: () => withCpu(server, () => routeLoad(server.url, gateway, roundSeconds)),
      bareNodePost: () => routeLoad(bare.url, barePost, roundSeconds),
      defaultLogLevel: () => withCpu(loggedServer, () => verifyLoad({url: loggedServer.url, verifier: logged.verifier, keys: logged.keys, connections: 10, seconds: roundSeconds})),
    },
    rounds,
    'throughput',
  )
  await server.close()
  await loggedServer.close()
  rmSync(logged.dir, {recursive: true, force: true})
  bare.close()
  // The same 1,000 keys with the key-record cache off: every verification is an HMAC and a SQLite read.
  const uncachedServer = await start(prepared.dbPath, {keyCacheMs: 0})
  await verifyLoad({...base, url: uncachedServer.url, keys: prepared.keys, seconds: 1})
  const uncached = await withCpu(uncachedServer, () => verifyLoad({...base, url: uncachedServer.url, keys: prepared.keys, seconds: roundSeconds * 2}))
  await uncachedServer.close()
  rmSync(prepared.dir, {recursive: true, force: true})
  const floor = await fastifyFloor()
  const summary = (name) => ({
    reqPerSec: spread(rows.map((r) => r[name].reqPerSec), 0),
    serverCpuMicrosPerRequest: spread(rows.map((r) => r[name].serverCpuMicrosPerRequest), 1),
    generatorCpuMicrosPerRequest: spread(rows.map((r) => r[name].generatorCpuMicrosPerRequest), 1),
    p99Ms: spread(rows.map((r) => r[name].p99Ms), 1),
    non2xx: rows.reduce((sum, r) => sum + r[name].non2xx, 0),
  })
  const ratio = (name, to = 'trivial') => spread(rows.map((r) => r[name].reqPerSec / r[to].reqPerSec))
  results.throughput = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    connections: 10,
    trivialRoute: {route: 'GET /v1/meta', ...summary('trivial')},
    verify: {route: 'POST /v1/verify, 1,000 distinct keys, each connection its own shuffled order (records cached)', ...summary('verify')},
    verifyHotKey: {route: 'POST /v1/verify, one key', ...summary('hot')},
    authRequest: {route: 'GET /v1/verify/auth-request, one key', ...summary('gateway')},
    verifyUncached: {route: 'POST /v1/verify, 1,000 distinct keys, key-record cache off (keyCacheMs 0), after the rounds', reqPerSec: uncached.reqPerSec, serverCpuMicrosPerRequest: uncached.serverCpuMicrosPerRequest},
    bareNodePost: {route: 'POST / of a bare node:http server answering {"ok":true} (own process), same body', reqPerSec: spread(rows.map((r) => r.bareNodePost.reqPerSec), 0)},
    ratio: ratio('verify'),
    ratioToBareNodePost: ratio('verify', 'bareNodePost'),
    defaultLogLevel: {route: 'POST /v1/verify, 1,000 keys, service at its default log level (lines to /dev/null)', ...summary('defaultLogLevel')},
    ratioDefaultLogLevelToWarn: ratio('defaultLogLevel', 'verify'),
    hotKeyRatio: ratio('hot'),
    authRequestRatio: ratio('gateway'),
    cpuRatio: spread(rows.map((r) => r.trivial.serverCpuMicrosPerRequest / r.verify.serverCpuMicrosPerRequest)),
    fastifyFloor: floor,
    target: '≥ 0.8',
    rounds: rows,
  }
  results.throughput.met = results.throughput.ratio.median >= 0.8
  results.throughput.logMet = results.throughput.ratioDefaultLogLevelToWarn.median >= 0.9
}

async function start(dbPath, settings) {
  return startService(dbPath, {settings})
}

// 2. Distinct keys: 200,000 vs 1,000 of the same database, same server.
if (only.has('distinct')) {
  const date = new Date().toISOString()
  const prepared = await prepare(svc, distinctCount, distinctCount)
  const server = await startService(prepared.dbPath)
  const base = {url: server.url, verifier: prepared.verifier, connections: 10}
  const few = prepared.keys.slice(0, 1000).map(verifyBody)
  const many = prepared.keys.map(verifyBody)
  // Warm-up: every key verified once (the first pass over all keys is the cold-cache rate), then 2 s of each case.
  const firstPass = await verifyLoad({...base, bodies: many, onePass: true})
  await verifyLoad({...base, bodies: few, seconds: 2})
  await verifyLoad({...base, bodies: many, seconds: 2})
  const rows = await interleaved(
    {
      few: () => withCpu(server, () => verifyLoad({...base, bodies: few, seconds: roundSeconds})),
      many: () => withCpu(server, () => verifyLoad({...base, bodies: many, seconds: roundSeconds})),
    },
    rounds,
    'distinct keys',
  )
  await server.close()
  rmSync(prepared.dir, {recursive: true, force: true})
  results.distinct = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    keysStored: distinctCount,
    few: {keys: 1000, reqPerSec: spread(rows.map((r) => r.few.reqPerSec), 0), p99Ms: spread(rows.map((r) => r.few.p99Ms), 1), serverCpuMicrosPerRequest: spread(rows.map((r) => r.few.serverCpuMicrosPerRequest), 1)},
    many: {keys: distinctCount, reqPerSec: spread(rows.map((r) => r.many.reqPerSec), 0), p99Ms: spread(rows.map((r) => r.many.p99Ms), 1), serverCpuMicrosPerRequest: spread(rows.map((r) => r.many.serverCpuMicrosPerRequest), 1)},
    ratio: spread(rows.map((r) => r.many.reqPerSec / r.few.reqPerSec)),
    firstPass: {reqPerSec: firstPass.reqPerSec, seconds: firstPass.seconds, requests: firstPass.requests, p99Ms: firstPass.p99Ms},
    non2xx: rows.reduce((sum, r) => sum + r.few.non2xx + r.many.non2xx, 0) + firstPass.non2xx,
    target: '≥ 0.8',
    rounds: rows,
  }
  results.distinct.met = results.distinct.ratio.median >= 0.8
}

// 3. Latency with 1,000,000 keys vs 1,000 keys (key cache off: every verification reads SQLite).
if (only.has('latency')) {
  const date = new Date().toISOString()
  const small = await prepare(svc, 1000, 2000)
  const big = await prepare(svc, bigCount, 2000)
  const servers = {small: await start(small.dbPath, {keyCacheMs: 0}), big: await start(big.dbPath, {keyCacheMs: 0})}
  const bodies = {small: small.keys.map(verifyBody), big: big.keys.map(verifyBody)}
  const verifiers = {small: small.verifier, big: big.verifier}
  const once = (name, seconds) => {
    sequential.verifier = verifiers[name]
    return sequential(servers[name].url, bodies[name], seconds)
  }
  await once('small', 1)
  await once('big', 1)
  const rows = await interleaved({small: () => once('small', roundSeconds), big: () => once('big', roundSeconds)}, rounds, 'latency')
  for (const s of Object.values(servers)) await s.close()
  rmSync(small.dir, {recursive: true, force: true})
  rmSync(big.dir, {recursive: true, force: true})
  const side = (name, keys, p) => ({keys, generateSeconds: round(p.generateSeconds, 1), p50Ms: spread(rows.map((r) => r[name].p50Ms), 3), p99Ms: spread(rows.map((r) => r[name].p99Ms), 3), reqPerSec: spread(rows.map((r) => r[name].reqPerSec), 0), non2xx: rows.reduce((a, r) => a + r[name].non2xx, 0)})
  results.latency = {
    date,
    loadAverage: spread(rows.map((r) => r.load1)),
    connections: 1,
    small: side('small', 1000, small),
    big: side('big', bigCount, big),
    p50Ratio: spread(rows.map((r) => r.big.p50Ms / r.small.p50Ms)),
    p99Ratio: spread(rows.map((r) => r.big.p99Ms / r.small.p99Ms)),
    target: 'p99 ratio ≤ 1.2',
    rounds: rows,
  }
  results.latency.met = results.latency.p99Ratio.median <= 1.2
}

results.loadAverageEnd = load1()
console.log(JSON.stringify(results, null, 2))
