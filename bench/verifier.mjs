#!/usr/bin/env node
// Verifier benchmark (`node bench/verifier.mjs`, after `npm run build`).
// Prints JSON. Every number is measured in this run, on one core (one thread):
// - parseKey: the offline format + checksum check alone (baseline);
// - cacheHit: verifier.verify() answered from the cache, usage events recorded
//   and flushed (to an in-process transport that acknowledges at once);
// - cacheHitNoUsage: the same with usage reporting off;
// - miss (node:http keep-alive vs global fetch): verifications that each ask a
//   local node:http stand-in of POST /v1/verify (same process), 1 and 32 in flight.
// Target: cacheHit ≥ 500,000 verifications/s. Tests never assert on time.
import {createServer} from 'node:http'
import {cpus, loadavg} from 'node:os'
import {generateKey, parseKey} from '../dist/core/key-format.js'
import {createVerifier} from '../dist/verify/index.js'

const ROUNDS = 5
const started = Date.now()
const key = generateKey({prefix: 'ak', app: 'weather-app', env: 'prod'})
const verdict = {
  valid: true,
  code: 'VALID',
  app: {slug: 'weather-app', name: 'Weather', team: {slug: 'weather', name: 'Weather'}, contactEmail: 'weather@example.com'},
  team: 'weather',
  env: 'prod',
  keyId: 'key_bench',
  expiresAt: null,
  rateLimit: null,
  message: 'ok',
  suggestions: [],
  docsUrl: 'https://docs.example.test',
}
const respond = (status, body) => ({status, text: async () => body})
const inProcess = async (url) => (url.endsWith('/v1/usage') ? respond(202, '{}') : respond(200, JSON.stringify(verdict)))

const yieldToTimers = () => new Promise((resolve) => setImmediate(resolve))

/** Verifications per second of `n` awaited calls of `fn` (yielding to timers every 5000). */
async function asyncRate(n, fn) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    await fn(i)
    if (i % 5000 === 4999) await yieldToTimers()
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

function syncRate(n, fn) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn(i)
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

/** {median, min, max, best} of per-round values (best = max, kept for older readers). */
function spread(values, digits = 0) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  const r = (x) => Number(x.toFixed(digits))
  return {median: r(median), min: r(sorted[0]), max: r(sorted.at(-1)), best: r(sorted.at(-1))}
}

const N = 500_000
let sink = 0
const withUsage = createVerifier({serviceUrl: 'http://bench.invalid', verifierToken: 'akv_bench', fetch: inProcess, stalenessMs: 3_600_000, hardCeilingMs: 3_600_000, usage: {flushIntervalMs: 50}})
await withUsage.verify(key)
const noUsage = createVerifier({serviceUrl: 'http://bench.invalid', verifierToken: 'akv_bench', fetch: inProcess, stalenessMs: 3_600_000, hardCeilingMs: 3_600_000, usage: {enabled: false}})
await noUsage.verify(key)
const context = {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '1.2.3', clientIp: '192.0.2.7'}
// Interleaved rounds: parseKey, cache hit with usage, cache hit without usage, then again.
const rounds = []
for (let round = 0; round < ROUNDS; round++) {
  const parse = syncRate(N, () => {
    if (parseKey(key).valid) sink++
  })
  const hit = await asyncRate(N, async () => {
    if ((await withUsage.verify(key, context)).valid) sink++
  })
  const hitNoUsage = await asyncRate(N, async () => {
    if ((await noUsage.verify(key, context)).valid) sink++
  })
  rounds.push({parse, hit, hitNoUsage})
}
const baseline = spread(rounds.map((r) => r.parse))
const cacheHit = spread(rounds.map((r) => r.hit))
const cacheHitNoUsage = spread(rounds.map((r) => r.hitNoUsage))
const usageStats = withUsage.stats()
await withUsage.close({deadlineMs: 2000})
await noUsage.close({deadlineMs: 10})

// Miss path against a real node:http stand-in (NOT_FOUND for every key, as a verdict).
const notFound = JSON.stringify({...verdict, valid: false, code: 'NOT_FOUND', app: null, team: null, env: null, keyId: null, message: 'no such key'})
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(notFound)})
    res.end(notFound)
  })
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const serviceUrl = `http://127.0.0.1:${server.address().port}`
const MISS_KEYS = 4_000
const keys = Array.from({length: MISS_KEYS}, () => generateKey({prefix: 'ak', app: 'weather-app', env: 'prod'}))

async function missRate(transport, concurrency) {
  const v = createVerifier({serviceUrl, verifierToken: 'akv_bench', usage: {enabled: false}, cacheSize: 10, ...(transport === 'fetch' ? {fetch: globalThis.fetch} : {})})
  // warm the connection pool
  await Promise.all(keys.slice(0, concurrency).map((k) => v.verify(k)))
  v.invalidate()
  let next = 0
  const start = process.hrtime.bigint()
  await Promise.all(
    Array.from({length: concurrency}, async () => {
      while (next < MISS_KEYS) {
        const k = keys[next++]
        if ((await v.verify(k)).code === 'NOT_FOUND') sink++
      }
    }),
  )
  const rate = MISS_KEYS / (Number(process.hrtime.bigint() - start) / 1e9)
  const {fetches} = v.stats()
  await v.close({deadlineMs: 10})
  return {perSecond: Math.round(rate), fetches}
}
const missRounds = []
for (let round = 0; round < ROUNDS; round++) {
  missRounds.push({nodeHttp1: await missRate('node', 1), fetch1: await missRate('fetch', 1), nodeHttp32: await missRate('node', 32), fetch32: await missRate('fetch', 32)})
}
const miss = Object.fromEntries(['nodeHttp1', 'fetch1', 'nodeHttp32', 'fetch32'].map((name) => [name, {perSecond: spread(missRounds.map((r) => r[name].perSecond)).median, fetches: missRounds.at(-1)[name].fetches}]))
server.close()

const result = {
  benchmark: 'verifier',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  date: new Date(started).toISOString(),
  loadAverage: Number(loadavg()[0].toFixed(2)),
  method: `${ROUNDS} interleaved rounds (parseKey, cache hit with usage, cache hit without usage, then again), each ${N} sequential awaited verifications of one key, one thread; misses: ${ROUNDS} interleaved rounds of ${MISS_KEYS} keys per transport and concurrency`,
  parseKeyPerSecond: baseline,
  cacheHitPerSecond: cacheHit,
  cacheHitNoUsagePerSecond: cacheHitNoUsage,
  ratioCacheHitToParseKey: spread(rounds.map((r) => r.hit / r.parse), 2),
  ratioCacheHitNoUsageToParseKey: spread(rounds.map((r) => r.hitNoUsage / r.parse), 2),
  target: {cacheHitPerSecond: 500_000, metWithUsage: cacheHit.median >= 500_000, metWithoutUsage: cacheHitNoUsage.median >= 500_000},
  usageDuringCacheHitRun: {sent: usageStats.sent, dropped: usageStats.dropped, buffered: usageStats.buffered},
  missPerSecond: miss,
  ratioNodeHttpToFetch: {concurrency1: spread(missRounds.map((r) => r.nodeHttp1.perSecond / r.fetch1.perSecond), 2), concurrency32: spread(missRounds.map((r) => r.nodeHttp32.perSecond / r.fetch32.perSecond), 2)},
  sink,
}
console.log(JSON.stringify(result, null, 2))
