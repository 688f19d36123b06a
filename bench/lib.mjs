// Shared parts of the key service benchmarks: loading the built service, preparing databases,
// running the service in its own process (bench/service-server.mjs), interleaved rounds and
// their statistics, a per-connection load generator, and the machine's state.
import {execFileSync, fork} from 'node:child_process'
import {createRequire} from 'node:module'
import {mkdtempSync, readFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir, totalmem, hostname} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {rawLoad, requestBytes} from './load.mjs'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const dist = resolve(process.env.APIKEY_DIST ?? join(root, 'packages', 'server', 'dist'))
export const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef'
export const UNLIMITED = Object.fromEntries(['dev', 'test', 'stage', 'prod', 'ci'].map((env) => [env, {limit: 1_000_000_000, windowMs: 60_000}]))
export const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}
export const BENCH_USER = {username: 'bench', password: 'bench-password-123'}
/** Quick mode (BENCH_QUICK=1 or `--quick`): small sizes and short rounds, for development only. */
export const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick')

/** A number from the environment variable `name`, else `quick` in quick mode, else `full`. */
export function size(name, full, quick = full) {
  const raw = process.env[name]
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (!Number.isFinite(n) || n < 0) {
      console.error(`bench: ${name}=${raw} is not a non-negative number`)
      process.exit(2)
    }
    return n
  }
  return QUICK ? quick : full
}

/** One-minute load average now, one decimal. */
export const load1 = () => Number(loadavg()[0].toFixed(2))

/** The machine as one line (CPU, cores, memory, Node, host) plus the date. */
export function machineLine() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch} (${hostname()}).`
}

/** better-sqlite3 (the service's driver), for reading bench databases directly. */
export function sqlite() {
  const require = createRequire(join(root, 'package.json'))
  return require('better-sqlite3')
}

export async function loadService() {
  const mod = async (path) => {
    try {
      return await import(pathToFileURL(join(dist, path)).href)
    } catch (error) {
      console.error(`bench: cannot load ${join(dist, path)} (${error.message}). Build first: npm run build (or set APIKEY_DIST)`)
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

/**
 * A database with the user `bench` (team `bench`), the app `bench-app`, `count` prod keys and a
 * verifier. Keys are stored straight through the repository in one transaction.
 * @param sample how many plaintext keys to keep (spread evenly over the keys), default all.
 * @returns {dir, dbPath, verifier (token), keys (plaintexts), keyIds (all), generateSeconds}
 */
export async function prepare(svc, count, sample = count, dir = mkdtempSync(join(tmpdir(), 'apikey-bench-service-'))) {
  console.error(`bench: storing ${count.toLocaleString('en-US')} keys…`)
  const dbPath = join(dir, 'apikey.db')
  // Admin operations work on an existing database only (server start creates it): create it first.
  await (await svc.connection.openDatabase(dbPath)).close()
  await svc.users.addUser({dbPath, username: BENCH_USER.username, password: BENCH_USER.password, team: 'bench', admin: false, scryptCost: CHEAP_SCRYPT})
  const verifier = await svc.verifiers.addVerifier({dbPath, name: 'bench'})
  const handle = await svc.connection.openDatabase(dbPath)
  const pepper = Buffer.from(PEPPER, 'utf8')
  const keys = []
  const keyIds = []
  const started = performance.now()
  // Outside the transaction: the SQLite driver has one connection, held by the transaction.
  const user = (await handle.db.selectFrom('users').select('id').executeTakeFirstOrThrow()).id
  const team = (await handle.db.selectFrom('teams').select('id').executeTakeFirstOrThrow()).id
  const now = Date.now()
  await svc.repos.inTransaction(handle.db, async (repos) => {
    await repos.apps.insert({id: 'app_bench', slug: 'bench-app', name: 'Bench', teamId: team, contactEmail: 'bench@example.com', description: null, createdBy: user, createdAt: now - 40 * 86_400_000})
    const every = Math.max(1, Math.floor(count / sample))
    let rows = []
    for (let i = 0; i < count; i++) {
      const key = svc.keyFormat.generateKey({prefix: 'ak', app: 'bench-app', env: 'prod'})
      if (i % every === 0 && keys.length < sample) keys.push(key)
      const id = svc.crypto.newId('key')
      keyIds.push(id)
      rows.push({
        id,
        appId: 'app_bench',
        env: 'prod',
        kind: 'service',
        name: null,
        hash: svc.crypto.keyHash(pepper, key),
        start: svc.keyFormat.parseKey(key).start,
        createdBy: user,
        createdAt: now - 40 * 86_400_000,
        expiresAt: now + 365 * 86_400_000,
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
  return {dir, dbPath, verifier: verifier.token, keys, keyIds, generateSeconds}
}

/**
 * Starts the service on `dbPath` in a child process (bench/service-server.mjs).
 * @param options.settings settings over the bench defaults (no verification rate limits, cheap scrypt).
 * @param options.clockAt the service's clock at start (ms); default the wall clock.
 * @param options.logLevel the service's log level; default `warn` (`null`: the service's own default).
 */
export async function startService(dbPath, options = {}) {
  const child = fork(fileURLToPath(new URL('./service-server.mjs', import.meta.url)), [], {
    // With a log level below warn, the service's log lines (stdout/stderr) go to /dev/null, as a service logging to a file would write them.
    stdio: ['ignore', ...(options.logLevel === undefined || options.logLevel === 'warn' ? ['inherit', 'inherit'] : ['ignore', 'ignore']), 'ipc'],
    execArgv: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
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
  const started = await ask(
    {type: 'start', dist, dbPath, pepper: PEPPER, logLevel: options.logLevel === undefined ? 'warn' : options.logLevel, ...(options.clockAt === undefined ? {} : {clockAt: options.clockAt}), settings: {verifyRateLimits: UNLIMITED, scryptCost: CHEAP_SCRYPT, ...options.settings}},
    'started',
  )
  return {
    url: started.url,
    /** Whether the service has a usage rollup job (RunningServer.rollupUsage). */
    hasRollup: started.rollup,
    pid: child.pid,
    /** CPU time (user + system) the service process has used so far, in µs; undefined off Linux. */
    cpuMicros: () => processCpuMicros(child.pid),
    flushUsage: () => ask({type: 'flush'}, 'flushed'),
    setClock: (at) => ask({type: 'clock', at}, 'clocked'),
    /** Runs the service's rollup job; resolves to {available, result}. */
    rollup: () => ask({type: 'rollup'}, 'rolledUp'),
    eldReset: () => ask({type: 'eld-reset'}, 'eld-reset'),
    /** Event-loop delay of the service since the last eldReset: {p50Ms, p99Ms, maxMs, meanMs}. */
    eld: async () => (await ask({type: 'eld'}, 'eld')).eld,
    close: async () => {
      await ask({type: 'stop'}, 'stopped')
      await exited
    },
  }
}

/** CPU time (user + system) of process `pid` so far in µs, from /proc (Linux); undefined elsewhere. */
export function processCpuMicros(pid) {
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

/** Median of numbers (null when empty or any is null). */
export function median(values) {
  if (values.length === 0 || values.some((v) => v === null || v === undefined || Number.isNaN(v))) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `x` rounded to `digits` decimals (null stays null). */
export const round = (x, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits)

/** {median, min, max, values} of per-round values, rounded. */
export function spread(values, digits = 2) {
  const ok = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v))
  return {median: round(median(ok), digits), min: round(ok.length ? Math.min(...ok) : null, digits), max: round(ok.length ? Math.max(...ok) : null, digits), values: values.map((v) => round(v, digits))}
}

/**
 * Runs `cases` (name → async () => result) in interleaved rounds: every round runs each case once,
 * in the given order (A, B, A, B, …), so slow drift of a shared machine hits all cases alike.
 * @returns array of rounds, each {name: result, load1}.
 */
export async function interleaved(cases, rounds, label = 'rounds') {
  const out = []
  for (let r = 0; r < rounds; r++) {
    const row = {}
    for (const [name, run] of Object.entries(cases)) {
      console.error(`bench: ${label} ${r + 1}/${rounds}: ${name}`)
      row[name] = await run(r)
    }
    row.load1 = load1()
    out.push(row)
  }
  return out
}

/** Fisher–Yates shuffle of 0..n-1 with a seeded generator (same orders on every run). */
export function permutation(n, seed) {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  let s = seed >>> 0 || 1
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    const j = s % (i + 1)
    const t = order[i]
    order[i] = order[j]
    order[j] = t
  }
  return order
}

/** A seeded pseudo-random generator in [0, 1) (xorshift32). */
export function rng(seed) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 4294967296
  }
}

/** The JSON body of POST /v1/verify for one key. */
export const verifyBody = (key) => JSON.stringify({key, context: {clientIp: '198.51.100.7', route: '/v1/bench', userAgent: 'okhttp/4.12.0'}})

const requestCache = new WeakMap()
const orderCache = new Map()
/** The per-connection order of `n` requests for connection `c` (seeded shuffle, cached). */
export function orderOf(n, c) {
  const id = `${n}:${c}`
  let order = orderCache.get(id)
  if (order === undefined) {
    order = permutation(n, 0x9e3779b9 ^ Math.imul(c + 1, 2654435761))
    orderCache.set(id, order)
  }
  return order
}

/**
 * POST /v1/verify load: `connections` keep-alive connections for `seconds`, each walking its
 * own shuffled order of `keys` (or of prepared `bodies`), so no two connections send the same
 * sequence (load.mjs rawLoad). With `onePass`, every key exactly once instead (split over the
 * connections), however long that takes (at most `seconds`, default an hour).
 * @returns {reqPerSec, requests, non2xx (errors included), p50Ms, p99Ms, maxMs}
 */
export async function verifyLoad({url, verifier, keys, bodies, connections = 10, seconds, onePass = false}) {
  const all = bodies ?? keys.map(verifyBody)
  let byUrl = requestCache.get(all)
  if (byUrl === undefined) requestCache.set(all, (byUrl = new Map()))
  let requests = byUrl.get(url + verifier)
  if (requests === undefined) {
    const headers = {authorization: `Bearer ${verifier}`, 'content-type': 'application/json'}
    requests = all.map((body) => requestBytes(url, {method: 'POST', path: '/v1/verify', headers, body}))
    byUrl.set(url + verifier, requests)
  }
  if (onePass) {
    // Every key once: connection c sends keys c, c + connections, c + 2 × connections, …
    const n = requests.length
    const slices = Array.from({length: connections}, (_, c) => Uint32Array.from({length: Math.ceil((n - c) / connections)}, (_, j) => c + j * connections))
    const r = await rawLoad({url, requests, order: (c) => slices[c], connections, seconds: seconds ?? 3600, limit: Math.ceil(n / connections)})
    return {...r, non2xx: r.non2xx + r.errors}
  }
  const r = await rawLoad({url, requests, order: (c) => (requests.length === 1 ? undefined : orderOf(requests.length, c)), connections, seconds})
  return {...r, non2xx: r.non2xx + r.errors}
}

/** Load on one fixed request ({method, path, headers?, body?}) over `connections` connections (load.mjs rawLoad). */
export async function routeLoad(url, request, seconds, connections = 10) {
  const r = await rawLoad({url, requests: [requestBytes(url, request)], connections, seconds})
  return {...r, non2xx: r.non2xx + r.errors}
}

/** Signs `bench` in; resolves to the session token. */
export async function signIn(url) {
  const res = await fetch(`${url}/v1/sessions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(BENCH_USER)})
  if (res.status !== 201) throw new Error(`bench: sign-in answered ${res.status}: ${await res.text()}`)
  return (await res.json()).token
}

/** A fresh temporary directory. */
export const tempDir = (name) => mkdtempSync(join(tmpdir(), `apikey-bench-${name}-`))
