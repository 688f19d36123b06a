#!/usr/bin/env node
// The verification hot path, case against case in interleaved rounds (A/B/A/B…), for profiling
// and development (the full benchmark is bench/service.mjs). Prints one JSON object: per case the
// median req/s and min–max over the rounds, and per-round ratios against the first case.
//
// Cases (HOTPATH_CASES, comma list, the first is the baseline of the ratios):
//   meta         GET /v1/meta on the service (the trivial route)
//   verify       POST /v1/verify, 1,000 distinct keys, each connection its own order
//   verifyMany   POST /v1/verify, HOTPATH_KEYS distinct keys (default 200,000), each connection its own order
//   verifyWarn   as verify, on a second service started with --log-level warn
//   metaWarn     as meta, on that second service
//   bare         a bare node:http server answering every POST with the body of a VALID verdict
// Besides req/s, each case gives the serving process's CPU time per request (user + system, µs,
// from /proc), which varies less than req/s on a shared machine.
// Every service logs to a file (as behind a process manager); its default level is info.
//
// Options: HOTPATH_SECONDS (per case per round, default 3), HOTPATH_ROUNDS (default 3),
// HOTPATH_CONNECTIONS (default 10), HOTPATH_PROF=<dir> (node --cpu-prof of every service),
// HOTPATH_DB=<dir> (where prepared databases are kept between runs; default the system tmp dir).
// Needs the built service (npm run build → packages/server/dist).
import {fork} from 'node:child_process'
import {copyFileSync, openSync, readFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import autocannon from 'autocannon'
import {dbRoot, prepare} from './hotpath-db.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = resolve(process.env.APIKEY_DIST ?? join(root, 'packages', 'server', 'dist'))
const seconds = Number(process.env.HOTPATH_SECONDS ?? 3)
const rounds = Number(process.env.HOTPATH_ROUNDS ?? 3)
const connections = Number(process.env.HOTPATH_CONNECTIONS ?? 10)
const manyCount = Number(process.env.HOTPATH_KEYS ?? 200_000)
const caseNames = (process.env.HOTPATH_CASES ?? 'meta,verify,verifyMany').split(',')
const UNLIMITED = Object.fromEntries(['dev', 'test', 'stage', 'prod', 'ci'].map((env) => [env, {limit: 1_000_000_000, windowMs: 60_000}]))
const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}

/** A child process (bench/hotpath-server.mjs) started with `message`; stderr to `logFile`. */
async function child(message, logFile, prof) {
  const stderr = logFile === undefined ? 'inherit' : openSync(logFile, 'a')
  const execArgv = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]
  const proc = fork(fileURLToPath(new URL('./hotpath-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', stderr, 'ipc'], execArgv})
  const ask = (m, answer) =>
    new Promise((resolve, reject) => {
      const onMessage = (reply) => {
        if (reply.type === answer || reply.type === 'error') {
          proc.off('message', onMessage)
          if (reply.type === 'error') reject(new Error(reply.message))
          else resolve(reply)
        }
      }
      proc.on('message', onMessage)
      proc.send(m)
    })
  const {url} = await ask(message, 'started')
  return {
    url,
    /** CPU time (user + system) of the process so far, µs (Linux /proc; clock ticks of 10 ms). */
    cpuMicros: () => {
      const fields = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return (Number(fields[11]) + Number(fields[12])) * 10_000
    },
    close: async () => {
      const exited = new Promise((r) => proc.once('exit', r))
      await ask({type: 'stop'}, 'stopped')
      await exited
    },
  }
}

const service = (prepared, logLevel, prof = process.env.HOTPATH_PROF) =>
  child({type: 'start', dist, dbPath: prepared.dbPath, pepper: prepared.pepper, logLevel, settings: {verifyRateLimits: UNLIMITED, scryptCost: CHEAP_SCRYPT}}, join(dbRoot, `service-${logLevel}.log`), prof)

/**
 * POST /v1/verify over `keys`: each connection walks the keys from its own random start with its
 * own stride (coprime to the count), so connections do not send the same key in lockstep.
 */
function verifyLoad(url, verifier, keys) {
  const bodies = keys.map((key) => JSON.stringify({key, context: {clientIp: '198.51.100.7', route: '/v1/bench', userAgent: 'okhttp/4.12.0'}}))
  const n = bodies.length
  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b))
  return {
    url,
    requests: [
      {
        method: 'POST',
        path: '/v1/verify',
        headers: {authorization: `Bearer ${verifier}`, 'content-type': 'application/json'},
        setupRequest: (request, context) => {
          if (context.stride === undefined) {
            context.at = Math.floor(Math.random() * n)
            let stride = 1 + Math.floor(Math.random() * n)
            while (n > 1 && gcd(stride, n) !== 1) stride++
            context.stride = stride
          }
          context.at = (context.at + context.stride) % n
          return {...request, body: bodies[context.at]}
        },
      },
    ],
  }
}

const run = (options) =>
  new Promise((resolve, reject) => autocannon({connections, ...options}, (error, result) => (error ? reject(error) : resolve(result))))

const prepared = await prepare(1000)
const many = caseNames.includes('verifyMany') ? await prepare(manyCount) : undefined
const servers = {}
const info = await service(prepared, 'info')
servers.info = info
const cases = {}
for (const name of caseNames) {
  if (name === 'meta') cases.meta = {server: info, url: info.url, requests: [{method: 'GET', path: '/v1/meta'}]}
  else if (name === 'verify') cases.verify = {server: info, ...verifyLoad(info.url, prepared.verifier, prepared.keys)}
  else if (name === 'verifyMany') {
    servers.many = await service(many, 'info')
    cases.verifyMany = {server: servers.many, ...verifyLoad(servers.many.url, many.verifier, many.keys)}
  } else if (name === 'verifyWarn' || name === 'metaWarn') {
    // One service per database file: the warn service gets a copy.
    const copy = prepared.dbPath.replace(/\.db$/, '-warn.db')
    if (servers.warn === undefined) copyFileSync(prepared.dbPath, copy)
    servers.warn ??= await service({...prepared, dbPath: copy}, 'warn')
    cases[name] = {server: servers.warn, ...(name === 'metaWarn' ? {url: servers.warn.url, requests: [{method: 'GET', path: '/v1/meta'}]} : verifyLoad(servers.warn.url, prepared.verifier, prepared.keys))}
  } else if (name === 'bare') {
    // The body of a VALID verdict as the service answers it.
    const probe = await fetch(`${info.url}/v1/verify`, {method: 'POST', headers: {authorization: `Bearer ${prepared.verifier}`, 'content-type': 'application/json'}, body: JSON.stringify({key: prepared.keys[0]})})
    servers.bare = await child({type: 'bare', body: await probe.text()})
    cases.bare = {server: servers.bare, url: servers.bare.url, requests: [{method: 'POST', path: '/v1/verify', headers: {'content-type': 'application/json'}, body: JSON.stringify({key: prepared.keys[0], context: {clientIp: '198.51.100.7'}})}]}
  } else throw new Error(`unknown case ${name}`)
}
// Warm-up: JIT, and every 1,000-key record cached.
for (const {server, ...options} of Object.values(cases)) await run({...options, duration: 2})
const results = Object.fromEntries(caseNames.map((name) => [name, []]))
const cpu = Object.fromEntries(caseNames.map((name) => [name, []]))
const non2xx = Object.fromEntries(caseNames.map((name) => [name, 0]))
const loads = []
for (let round = 0; round < rounds; round++) {
  loads.push(Number(loadavg()[0].toFixed(2)))
  for (const name of caseNames) {
    const {server, ...options} = cases[name]
    const before = server.cpuMicros()
    const r = await run({...options, duration: seconds})
    cpu[name].push((server.cpuMicros() - before) / r.requests.total)
    results[name].push(r.requests.average)
    non2xx[name] += r.non2xx + r.errors
  }
}
for (const server of Object.values(servers)) await server.close()
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const base = caseNames[0]
const out = {seconds, rounds, connections, loadAverage1m: loads, cases: {}}
for (const name of caseNames) {
  const ratios = results[name].map((v, i) => v / results[base][i])
  out.cases[name] = {serverCpuMicrosPerRequest: Number(median(cpu[name]).toFixed(1)), cpuPerRound: cpu[name].map((c) => Number(c.toFixed(1))), reqPerSec: Math.round(median(results[name])), min: Math.round(Math.min(...results[name])), max: Math.round(Math.max(...results[name])), non2xx: non2xx[name], [`ratioTo_${base}`]: Number(median(ratios).toFixed(3)), perRound: ratios.map((r) => Number(r.toFixed(2)))}
}
console.log(JSON.stringify(out, null, 2))
