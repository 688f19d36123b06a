/**
 * The real key service stops and restarts (same port, SQLite file and pepper)
 * while a real protected API (the Node http adapter) is under concurrent load:
 * many clients with known keys, an unknown key the verifier has seen, an
 * unknown key it has never seen, and malformed keys, before, during and after
 * the outage. Every request completes within a bound and is answered per the
 * outage policy (docs/verifier.md): known keys 200 (stale during the outage),
 * a known-unknown key 401, a never-seen key 503 `verification_unavailable`
 * while the service is down, malformed keys 401 without a lookup.
 *
 * Usage: every verification the verifier recorded is either acknowledged by
 * the service — its batch stored exactly once (usage_batches), its counts in
 * usage_minutes — or counted as dropped; every request with a known key is
 * counted once in the database (`verify` when the service answered it,
 * `reported` when the verifier did).
 *
 * The service stops while a verification call is in flight, and with a short
 * staleness bound the verifier keeps calling it until then; usage batches are
 * small and frequent, so some are in flight or retried across the restart.
 * A second case uses a small usage buffer that overflows during the outage.
 *
 * Time: HTTP traffic runs on real time; the verifier and the service share a
 * clock that is real time plus an offset the test moves to step past the
 * staleness bound (and the circuit breaker's open period) at once. Phases
 * change on conditions (responses seen), never after sleeps; nothing asserts
 * on speed (the timeouts only bound a hung request or a stuck phase).
 */
import Database from 'better-sqlite3'
import type {Server} from 'node:http'
import {Writable} from 'node:stream'
import {afterEach, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {startServer, type RunningServer} from '../../src/server/main.js'
import {MINUTE_MS, type ServerSettingsInput} from '../../src/server/settings.js'
import {createVerifier, nodeMiddleware, UNAVAILABLE_RETRY_AFTER_SECONDS, type CloseReport, type Verifier} from '../../src/verify/index.js'
import {startProtectedApi} from './helpers.js'
import {startHarness, TEST_SCRYPT, TestClock, type Harness} from '../server/helpers.js'

/** Real time plus an offset the test moves; shared by the service and the verifier (timers stay real). */
class OffsetClock extends TestClock {
  offset = 0
  override now(): number {
    return Date.now() + this.offset
  }
  override advance(ms: number): void {
    this.offset += ms
  }
}

/** Short, so the verifier keeps asking the service while it is up: verifications are in flight when it stops. */
const STALENESS_MS = 25
const CIRCUIT_OPEN_MS = 1000
/** Far beyond this test's real duration: the outage phase stays within the hard ceiling however slow the machine. */
const HARD_CEILING_MS = 10 * MINUTE_MS
/** Clients with a request in flight at any time. */
const CLIENTS = 32
/** Responses per phase (counted by the phase a request was sent in and answered in). */
const PER_PHASE = 300
/** Bound of one request: a request that takes longer counts as hung. */
const REQUEST_TIMEOUT_MS = 10_000
/** Bound of one wait for a phase's condition (reported with what was awaited). */
const PHASE_TIMEOUT_MS = 15_000
/** Bound of one case (a few seconds normally; room for a loaded machine). */
const TEST_TIMEOUT_MS = 60_000
/**
 * The service's settings, the same on both starts. Rate limits out of the way (this test is about the outage
 * policy): per key, and for failed lookups per client address (the unknown key is asked about every STALENESS_MS).
 */
const SETTINGS: ServerSettingsInput = {
  scryptCost: TEST_SCRYPT,
  verifyRateLimits: {dev: {limit: 1_000_000, windowMs: MINUTE_MS}},
  verifyFailureLimitPerIp: {capacity: 1_000_000, refillIntervalMs: 1},
}

const PHASES = ['before', 'stopping', 'outage', 'restarting', 'recovering', 'after'] as const
type Phase = (typeof PHASES)[number]
type Kind = 'known' | 'unknown-seen' | 'unknown-fresh' | 'malformed'

interface Sent {
  kind: Kind
  /** Index into the known keys (kind `known`). */
  known?: number
  key: string
  sentIn: Phase
}

interface Result extends Sent {
  doneIn: Phase
  status: number
  /** Problem code, or `ok` for 200. */
  code: string
  retryAfter: string | null
  body: {keyId?: string | null; source?: string; stale?: boolean}
}

let h: Harness | undefined
let restarted: RunningServer | undefined
let verifier: Verifier | undefined
let api: Server | undefined
afterEach(async () => {
  if (api !== undefined) {
    api.closeAllConnections()
    await new Promise<void>((resolve) => api!.close(() => resolve()))
  }
  await verifier?.close({deadlineMs: 500})
  await restarted?.close()
  await h?.cleanup()
  api = verifier = restarted = h = undefined
})

/** Answers allowed for a request of `kind` sent and answered in `phase` (a request spanning phases may get any of theirs). */
function allowed(kind: Kind, phase: Phase): string[] {
  switch (kind) {
    case 'known':
      return ['200:ok']
    case 'malformed':
      return ['401:malformed_key']
    case 'unknown-seen':
      // Cached NOT_FOUND: fresh, or served stale while the service is down (within the hard ceiling).
      return ['401:key_not_found']
    case 'unknown-fresh':
      // Never answered by the service before the outage: nothing cached, so fail closed.
      if (phase === 'outage') return ['503:verification_unavailable']
      if (phase === 'after') return ['401:key_not_found']
      return ['503:verification_unavailable', '401:key_not_found']
  }
}

it('the service restarts under concurrent load: every request is answered per the outage policy; every usage event is stored exactly once, none dropped', async () => {
  await restartUnderLoad({})
}, TEST_TIMEOUT_MS)

it('the same with a small usage buffer that overflows during the outage: every usage event is stored once or counted as dropped', async () => {
  // Every verification names its own client app: no two usage events aggregate, so the small buffer overflows.
  await restartUnderLoad({maxBuffer: 100, distinctContexts: true})
}, TEST_TIMEOUT_MS)

/** Runs the load through before, during and after the outage and checks every answer and the usage accounting. */
async function restartUnderLoad(options: {maxBuffer?: number; distinctContexts?: boolean}): Promise<void> {
  const clock = new OffsetClock()
  const service = await startHarness({clock, settings: SETTINGS})
  h = service
  await service.addUser('ann', 'mobile')
  const ann = await service.login('ann')
  await service.createApp(ann, 'weather-app', 'mobile')
  const keys: Array<{id: string; key: string}> = []
  for (let i = 0; i < 3; i++) keys.push(await service.issueKey(ann, 'weather-app'))
  const token = await service.addVerifier('weather-api')
  const wellFormed = (fill: string) => {
    const body = `ak_weather-app_dev_${fill.repeat(30)}`
    return body + checksumOf(body)
  }
  const unknownSeen = wellFormed('U')
  const unknownFresh = wellFormed('F')
  const badChecksum = keys[0]!.key.slice(0, -1) + (keys[0]!.key.endsWith('A') ? 'B' : 'A')
  const malformed = [badChecksum, 'not-an-api-key']

  verifier = createVerifier({
    serviceUrl: service.url,
    verifierToken: token,
    clock: () => clock.now(),
    stalenessMs: STALENESS_MS,
    hardCeilingMs: HARD_CEILING_MS,
    circuitOpenMs: CIRCUIT_OPEN_MS,
    // Small, frequent batches so usage posts are in flight when the service stops, and retried after it restarts.
    usage: {flushIntervalMs: 20, maxBatch: 40, maxBackoffMs: 200, ...(options.maxBuffer === undefined ? {} : {maxBuffer: options.maxBuffer})},
  })
  const v = verifier

  // Verifications whose request started a call to the service (the counter moves synchronously) and has no verdict yet.
  let callsInFlight = 0
  let sequence = 0
  const observed: Verifier = {
    ...v,
    verify(key, context) {
      const fetches = v.stats().fetches
      const verdict = v.verify(key, options.distinctContexts === true ? {...context, clientApp: `com.example.client${sequence++}`} : context)
      if (v.stats().fetches > fetches) {
        callsInFlight++
        void verdict.finally(() => callsInFlight--)
      }
      return verdict
    },
  }

  // The protected API: the library's Node http adapter; admitted requests echo who and where the verdict came from.
  const middleware = nodeMiddleware(observed, {route: () => '/v1/forecast/:city'})
  const protectedApi = await startProtectedApi(middleware, (apikey) => ({keyId: apikey!.keyId, source: apikey!.verdict.source, stale: apikey!.verdict.stale === true}))
  api = protectedApi.server
  const apiUrl = protectedApi.url

  // --- Load: CLIENTS loops, each with one request in flight, over a fixed mix of keys.
  let phase: Phase = 'before'
  const results: Result[] = []
  const failures: string[] = []
  let started = 0
  let running = true
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const w of [...waiters]) w()
  }
  /** Resolves once `check` holds (re-checked on every response); rejects after PHASE_TIMEOUT_MS naming `what`. */
  const when = (what: string, check: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(new Error(`timed out waiting for ${what} (phase ${phase}, ${results.length} responses, failures: ${failures.slice(0, 5).join('; ')})`))
      }, PHASE_TIMEOUT_MS)
      const waiter = () => {
        if (!check()) return
        clearTimeout(timer)
        waiters.delete(waiter)
        resolve()
      }
      waiters.add(waiter)
      waiter()
    })

  const MIX: Array<() => Sent> = [
    ...keys.map((k, i) => () => ({kind: 'known' as const, known: i, key: k.key, sentIn: phase})),
    ...keys.map((k, i) => () => ({kind: 'known' as const, known: i, key: k.key, sentIn: phase})),
    () => ({kind: 'unknown-seen', key: unknownSeen, sentIn: phase}),
    // Never sent before the outage has begun, so the verifier never holds a verdict for it from before.
    () => (phase === 'before' || phase === 'stopping' ? {kind: 'known', known: 0, key: keys[0]!.key, sentIn: phase} : {kind: 'unknown-fresh', key: unknownFresh, sentIn: phase}),
    ...malformed.map((key) => () => ({kind: 'malformed' as const, key, sentIn: phase})),
  ]

  async function client(n: number): Promise<void> {
    for (let i = n; running; i += CLIENTS) {
      const sent = MIX[i % MIX.length]!()
      started++
      try {
        const res = await fetch(apiUrl, {headers: {'x-api-key': sent.key}, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)})
        const text = await res.text()
        const body = JSON.parse(text) as Record<string, unknown>
        const code = res.status === 200 ? 'ok' : String(body.code)
        results.push({...sent, doneIn: phase, status: res.status, code, retryAfter: res.headers.get('retry-after'), body: body as Result['body']})
      } catch (error) {
        failures.push(`${sent.kind} request sent in ${sent.sentIn} failed: ${error instanceof Error ? error.message : String(error)}`)
      }
      notify()
    }
  }
  const answeredIn = (p: Phase) => results.filter((r) => r.sentIn === p && r.doneIn === p).length
  const clients = Array.from({length: CLIENTS}, (_, n) => client(n))

  try {
    // Before: the service answers; verdicts are cached, and refreshed every STALENESS_MS.
    await when('responses before the outage, and a call to the service in flight', () => answeredIn('before') >= PER_PHASE && callsInFlight > 0)

    // The service stops while API requests and at least one verification call are in flight (sent, not
    // answered: no I/O runs between the check above and the stop); then the clock steps past the
    // staleness bound, so every cached verdict is stale and only the outage policy can answer.
    phase = 'stopping'
    await service.stop()
    clock.advance(STALENESS_MS + 1)
    phase = 'outage'
    await when('responses during the outage', () => answeredIn('outage') >= PER_PHASE && results.some((r) => r.kind === 'unknown-fresh' && r.sentIn === 'outage' && r.doneIn === 'outage'))
    const during = v.stats()
    expect(during.staleServed).toBeGreaterThan(0)
    expect(during.buffered + during.dropped).toBeGreaterThan(0)

    // Restart on the same port with the same database and pepper file, still under load;
    // the clock steps past the circuit breaker's open period (and the staleness bound once more).
    phase = 'restarting'
    const port = Number(new URL(service.url).port)
    restarted = await startServer({host: '127.0.0.1', port, dbPath: service.dbPath, clock, settings: SETTINGS, logLevel: 'warn', logStream: new Writable({write: (_c, _e, cb) => cb()})})
    clock.advance(CIRCUIT_OPEN_MS + STALENESS_MS)
    phase = 'recovering'
    // Recovered: the never-seen key is now known to the service as unknown, and every known key was verified by the service again.
    await when('recovery after the restart', () => {
      const recent = results.filter((r) => PHASES.indexOf(r.sentIn) >= PHASES.indexOf('recovering'))
      return recent.some((r) => r.kind === 'unknown-fresh' && r.code === 'key_not_found') && keys.every((_k, i) => recent.some((r) => r.known === i && r.body.source === 'service'))
    })
    phase = 'after'
    await when('responses after the restart', () => answeredIn('after') >= PER_PHASE)
  } finally {
    running = false
    await Promise.all(clients)
  }

  // --- Every request completed, none hung or failed at the transport, and each got an answer its phases allow.
  expect(failures).toEqual([])
  expect(results).toHaveLength(started)
  const wrong: string[] = []
  for (const r of results) {
    const span = PHASES.slice(PHASES.indexOf(r.sentIn), PHASES.indexOf(r.doneIn) + 1)
    const ok = new Set(span.flatMap((p) => allowed(r.kind, p)))
    const answer = `${r.status}:${r.code}`
    if (!ok.has(answer)) wrong.push(`${r.kind} sent in ${r.sentIn}, answered in ${r.doneIn}: ${answer}`)
    else if (r.kind === 'known' && r.body.keyId !== keys[r.known!]!.id) wrong.push(`known key ${r.known} admitted as ${r.body.keyId}`)
    else if (r.status === 503 && r.retryAfter !== String(UNAVAILABLE_RETRY_AFTER_SECONDS)) wrong.push(`503 with Retry-After ${r.retryAfter}`)
    else if (r.kind === 'known' && r.sentIn === 'outage' && r.doneIn === 'outage' && !(r.body.stale === true && r.body.source === 'cache')) wrong.push(`known key during the outage not served stale from the cache: ${JSON.stringify(r.body)}`)
    else if (r.kind === 'known' && r.sentIn === 'before' && r.doneIn === 'before' && r.body.stale === true) wrong.push('known key served stale before the outage')
  }
  expect(wrong.slice(0, 20)).toEqual([])
  // Each kind was exercised in the phases that matter.
  for (const p of ['before', 'outage', 'after'] as const) {
    for (const kind of ['known', 'unknown-seen', 'malformed'] as const) expect(results.some((r) => r.kind === kind && r.sentIn === p && r.doneIn === p), `${kind} in ${p}`).toBe(true)
  }
  expect(results.some((r) => r.kind === 'unknown-fresh' && r.sentIn === 'outage' && r.code === 'verification_unavailable')).toBe(true)
  expect(results.some((r) => r.kind === 'unknown-fresh' && r.sentIn === 'after' && r.code === 'key_not_found')).toBe(true)

  // Malformed keys never reached a lookup: every well-formed key's verification is a cache hit or a miss, malformed ones neither.
  const beforeClose = v.stats()
  expect(beforeClose.cacheHits + beforeClose.cacheMisses).toBe(results.filter((r) => r.kind !== 'malformed').length)

  // --- Usage. Close the verifier against the restarted service: it flushes what it holds.
  const report: CloseReport = await v.close({deadlineMs: 10_000})
  const stats = v.stats()
  expect(stats.buffered).toBe(0)
  expect(stats.rejected).toBe(0)
  // Every recorded verification (one per request) is acknowledged or counted as dropped.
  expect(report.sent + report.dropped).toBe(results.length)
  expect(report.flushed).toBe(true)
  expect(report.droppedAtClose).toBe(0)
  const dropped = report.dropped
  if (options.maxBuffer === undefined) expect(dropped).toBe(0) // The default buffer (10 000 events) outlived the outage.
  else expect(dropped).toBeGreaterThan(0) // The outage alone recorded more events than the buffer holds.

  // Server-side counts held in memory are written on close; then read the database file itself.
  await restarted!.close()
  const db = new Database(service.dbPath, {readonly: true})
  try {
    const batches = (db.prepare('SELECT result FROM usage_batches').all() as Array<{result: string}>).map((b) => JSON.parse(b.result) as {received: number; stored: number; unattributed: number; skipped: number})
    const sum = (f: (b: (typeof batches)[number]) => number) => batches.reduce((n, b) => n + f(b), 0)
    // Each acknowledged batch is stored exactly once (a retried batch is a duplicate: no second row, nothing counted again),
    // and each of its events is accounted for once: stored against its key, unattributed (no key), or skipped.
    expect(sum((b) => b.received)).toBe(report.sent)
    expect(sum((b) => b.stored + b.unattributed + b.skipped)).toBe(report.sent)
    const counts = db.prepare('SELECT key_id AS keyId, source, SUM(count) AS n FROM usage_minutes GROUP BY key_id, source').all() as Array<{keyId: string; source: string; n: number}>
    const count = (keyId: string, source: string) => counts.find((c) => c.keyId === keyId && c.source === source)?.n ?? 0
    expect(counts.reduce((n, c) => n + (c.source === 'reported' ? c.n : 0), 0)).toBe(sum((b) => b.stored))
    const unkeyed = results.filter((r) => r.kind !== 'known').length
    // Every request with a known key is counted once: by the service when it answered the verification
    // (`verify`), or from the verifier's report (`reported`) when the verifier answered it — from its
    // cache, stale, or by sharing another request's call to the service (single flight) — unless dropped.
    const perKey = keys.map((k, i) => ({key: i, verify: count(k.id, 'verify'), reported: count(k.id, 'reported'), requests: results.filter((r) => r.known === i).length}))
    for (const k of perKey) expect(k.verify).toBeGreaterThan(0)
    if (dropped === 0) {
      for (const k of perKey) expect({key: k.key, counted: k.verify + k.reported}).toEqual({key: k.key, counted: k.requests})
      // Unknown and malformed keys name no key: acknowledged, counted as unattributed.
      expect(sum((b) => b.unattributed)).toBe(unkeyed)
      // The verifier's reports of verifications the service answered are skipped: they are the `verify` counts.
      expect(sum((b) => b.skipped)).toBe(perKey.reduce((n, k) => n + k.verify, 0))
    } else {
      // Which events were dropped is not known per key, only how many: nothing counted twice, nothing missing beyond them.
      const counted = perKey.reduce((n, k) => n + k.verify + k.reported, 0)
      const requests = perKey.reduce((n, k) => n + k.requests, 0)
      for (const k of perKey) expect(k.verify + k.reported).toBeLessThanOrEqual(k.requests)
      expect(counted).toBeGreaterThanOrEqual(requests - dropped)
      expect(sum((b) => b.unattributed)).toBeLessThanOrEqual(unkeyed)
      expect(sum((b) => b.unattributed)).toBeGreaterThanOrEqual(unkeyed - dropped)
      expect(requests - counted + unkeyed - sum((b) => b.unattributed)).toBeLessThanOrEqual(dropped)
      expect(sum((b) => b.skipped)).toBeLessThanOrEqual(perKey.reduce((n, k) => n + k.verify, 0))
    }
  } finally {
    db.close()
  }
}
