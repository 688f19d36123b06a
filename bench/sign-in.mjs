#!/usr/bin/env node
// Sign-in under attack. Prints one JSON object; with --update-doc also rewrites the
// "Sign-in under attack" section of docs/benchmarks.md from it.
//
// The service runs alone in a child process (bench/service-server.mjs) at the default
// scrypt cost, on the wall clock. Clients connect from different 127.x.y.z source
// addresses (all local on Linux), so the service sees different client addresses. User
// ann signs in once from 127.0.0.1 first, so 127.0.0.0/24 is a network she is known in.
//
//  1. baseline: ann's sign-in from 127.0.0.1 with nothing else going on (median of 10).
//  2. lockout: 20 wrong passwords for ann from 127.1.0.1, then the right one from
//     127.2.0.1 (never used): its status.
//  3. flood: 300 wrong sign-ins (300 usernames) from 10 addresses sent at once; while
//     they are in flight ann signs in from 127.0.0.1 (known) and from a never-used
//     address. Reported: ann's latency and status, the flood's answer times (p50, max),
//     how its answers split (401 checked, 429 refused at once), and the hashing peaks.
//     Run 5 times (fresh addresses each round); ratio = median latency / baseline.
//     Floor: 300 connections at once to GET /v1/meta and one more /v1/meta 50 ms later
//     (what any request pays to be served alongside 300 others on this machine).
//  4. the same flood with hashing unbounded (passwordHashing.shared.active = 100000),
//     as the service behaved before the bound: ann's latency behind the queue.
//
// Needs the compiled service (npm run build → packages/server/dist/, or APIKEY_DIST).
import {fork} from 'node:child_process'
import http from 'node:http'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {signInSection} from './sign-in-section.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = resolve(process.env.APIKEY_DIST ?? join(root, 'packages', 'server', 'dist'))
const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef'
const PASSWORD = 'correct horse battery staple'
const ROUNDS = 5

const {addUser} = await import(pathToFileURL(join(dist, 'server/services/users.js')).href)
const {openDatabase} = await import(pathToFileURL(join(dist, 'server/db/connection.js')).href)
const {DEFAULT_SCRYPT_COST} = await import(pathToFileURL(join(dist, 'server/settings.js')).href)

function signIn(url, from, username, password) {
  const body = JSON.stringify({username, password})
  const started = performance.now()
  return new Promise((resolvePromise, reject) => {
    const req = http.request(`${url}/v1/sessions`, {method: 'POST', localAddress: from, agent: false, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}}, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed = {}
        try {
          parsed = JSON.parse(text)
        } catch {}
        resolvePromise({status: res.statusCode, ms: performance.now() - started, limit: parsed.limit, retryAfter: res.headers['retry-after']})
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

function get(url, path, from) {
  const started = performance.now()
  return new Promise((resolvePromise, reject) => {
    const req = http.request(`${url}${path}`, {localAddress: from, agent: false}, (res) => {
      res.resume()
      res.on('end', () => resolvePromise({status: res.statusCode, ms: performance.now() - started}))
    })
    req.on('error', reject)
    req.end()
  })
}

async function start(dbPath, settings) {
  const child = fork(fileURLToPath(new URL('./service-server.mjs', import.meta.url)), [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const ask = (message, answer) =>
    new Promise((resolvePromise, reject) => {
      const onMessage = (reply) => {
        if (reply.type === answer || reply.type === 'error') {
          child.off('message', onMessage)
          if (reply.type === 'error') reject(new Error(reply.message))
          else resolvePromise(reply)
        }
      }
      child.on('message', onMessage)
      child.send(message)
    })
  const {url} = await ask({type: 'start', dist, dbPath, pepper: PEPPER, settings}, 'started')
  return {
    url,
    stats: async () => (await ask({type: 'stats'}, 'stats')).stats,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r))
      await ask({type: 'stop'}, 'stopped')
      await exited
    },
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round1 = (n) => Math.round(n * 10) / 10

async function scenario(settings, rounds) {
  const dir = mkdtempSync(join(tmpdir(), 'apikey-bench-signin-'))
  const dbPath = join(dir, 'apikey.db')
  try {
    // Admin operations work on an existing database only (server start creates it): create it first.
    await (await openDatabase(dbPath)).close()
    await addUser({dbPath, username: 'ann', password: PASSWORD, team: 'mobile', admin: false, scryptCost: DEFAULT_SCRYPT_COST})
    const service = await start(dbPath, {scryptCost: DEFAULT_SCRYPT_COST, ...settings})
    try {
      const first = await signIn(service.url, '127.0.0.1', 'ann', PASSWORD)
      if (first.status !== 201) throw new Error(`ann could not sign in: ${first.status}`)
      const baseline = []
      for (let i = 0; i < 10; i++) baseline.push((await signIn(service.url, '127.0.0.1', 'ann', PASSWORD)).ms)
      // Lockout: 20 wrong from one address, the right one from another.
      const wrong = []
      for (let i = 0; i < 20; i++) wrong.push((await signIn(service.url, '127.1.0.1', 'ann', `wrong ${i}`)).status)
      const elsewhere = await signIn(service.url, '127.2.0.1', 'ann', PASSWORD)
      const floods = []
      for (let r = 0; r < rounds; r++) {
        const base = 10 + r * 20
        const sent = performance.now()
        const flood = Array.from({length: 300}, (_, i) => signIn(service.url, `127.${base + (i % 10)}.0.1`, `user${r}x${i}`, `guess ${i}`))
        // Let the flood reach the service before ann signs in.
        await new Promise((r2) => setTimeout(r2, 50))
        const [known, fresh] = await Promise.all([signIn(service.url, '127.0.0.1', 'ann', PASSWORD), signIn(service.url, `127.${base + 15}.0.1`, 'ann', PASSWORD)])
        const answers = await Promise.all(flood)
        const floodMs = answers.map((a) => a.ms)
        floods.push({
          knownNetwork: {status: known.status, ms: round1(known.ms)},
          newAddress: {status: fresh.status, ms: round1(fresh.ms), ...(fresh.limit === undefined ? {} : {limit: fresh.limit})},
          flood: {
            checked401: answers.filter((a) => a.status === 401).length,
            refused429: answers.filter((a) => a.status === 429).length,
            p50Ms: round1(median(floodMs)),
            maxMs: round1(Math.max(...floodMs)),
            allAnsweredMs: round1(performance.now() - sent),
          },
        })
      }
      // Floor: the same 300 connections at once to GET /v1/meta (a trivial route), and one more
      // /v1/meta request 50 ms later: what any request pays to be served alongside 300 others.
      const metaFloor = []
      for (let r = 0; r < rounds; r++) {
        const base = 110 + r * 12
        const flood = Array.from({length: 300}, (_, i) => get(service.url, '/v1/meta', `127.${base + (i % 10)}.0.1`))
        await new Promise((r2) => setTimeout(r2, 50))
        metaFloor.push((await get(service.url, '/v1/meta', '127.0.0.1')).ms)
        await Promise.all(flood)
      }
      const stats = await service.stats()
      return {
        baselineMedianMs: round1(median(baseline)),
        lockout: {wrongStatuses: countBy(wrong), rightPasswordFromAnotherAddress: elsewhere.status},
        floods,
        knownNetworkMedianMs: round1(median(floods.map((f) => f.knownNetwork.ms))),
        metaUnderMetaFloodMedianMs: round1(median(metaFloor)),
        hashing: stats.hashing,
      }
    } finally {
      await service.close()
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

function countBy(xs) {
  const out = {}
  for (const x of xs) out[x] = (out[x] ?? 0) + 1
  return out
}

const bounded = await scenario({}, ROUNDS)
const unbounded = await scenario({passwordHashing: {shared: {active: 100000, queued: 0}, reserved: {active: 1, queued: 0}}}, 1)
const result = {
  method: 'see the comment at the top of bench/sign-in.mjs',
  machine: {cores: cpus().length, loadAverage1m: round1(loadavg()[0]), node: process.version, date: new Date().toISOString()},
  scryptCost: DEFAULT_SCRYPT_COST,
  bounded,
  unbounded,
  ratioKnownNetworkUnderFloodToBaseline: round1(bounded.knownNetworkMedianMs / bounded.baselineMedianMs),
  ratioUnboundedToBaseline: round1(unbounded.knownNetworkMedianMs / unbounded.baselineMedianMs),
  target: {goodSignInUnderFloodMs: 1000, met: bounded.floods.every((f) => f.knownNetwork.status === 201 && f.knownNetwork.ms < 1000)},
}

console.log(JSON.stringify(result, null, 2))
if (process.argv.includes('--update-doc')) {
  const doc = join(root, 'docs', 'benchmarks.md')
  const text = readFileSync(doc, 'utf8')
  const section = signInSection(result)
  const start = text.indexOf('## Sign-in under attack')
  let next
  if (start < 0) next = `${text.trimEnd()}\n\n${section}`
  else {
    const end = text.indexOf('\n## ', start + 1)
    next = text.slice(0, start) + section + (end < 0 ? '' : text.slice(end + 1))
  }
  writeFileSync(doc, next)
  console.error(`bench/sign-in.mjs: updated ${doc}`)
}
