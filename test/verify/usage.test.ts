/**
 * Usage reporting: identical verifications are aggregated into
 * one event with a count (per key, code, source, context and UTC minute);
 * batches leave the buffer only after a 2xx, failed batches are retried with
 * the same batchId, the same events and backoff, the buffer of events is
 * bounded and overflow is counted; close() stops intake, flushes within its
 * deadline and reports exact sent/dropped counts (of verifications). Injected
 * clock throughout.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createVerifier, type UsageEvent, type Verifier, type VerifierOptions} from '../../src/verify/index.js'
import {UsageSender, usageHead} from '../../src/verify/usage.js'
import {FakeClock, startStandin, TOKEN, until, type Standin} from './helpers.js'

let clock: FakeClock
let standin: Standin
let key: string
const verifiers: Verifier[] = []

function make(options: Partial<VerifierOptions> = {}): Verifier {
  const v = createVerifier({serviceUrl: standin.url, verifierToken: TOKEN, clock, ...options})
  verifiers.push(v)
  return v
}

/** Client addresses handed out by {@link distinctTraffic} so far (never reused within a test). */
let serial = 0

/** `n` identical verifications of the (cached) key: they aggregate into one event per source and minute. */
async function traffic(v: Verifier, n: number, route = '/v1/forecast/:city'): Promise<void> {
  for (let i = 0; i < n; i++) await v.verify(key, {route, clientApp: 'com.example.weather', appVersion: '1.2.3', userAgent: 'test', clientIp: '192.0.2.7'})
}

/** `n` verifications of the (cached) key, each from its own client address: one event each (nothing aggregates). */
async function distinctTraffic(v: Verifier, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ip = serial++
    await v.verify(key, {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '1.2.3', userAgent: 'test', clientIp: `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`})
  }
}

/** Verifications in a batch: the sum of its events' counts. */
const verificationsIn = (events: UsageEvent[]) => events.reduce((sum, e) => sum + e.count, 0)

async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

beforeEach(async () => {
  serial = 0
  clock = new FakeClock()
  standin = await startStandin(clock)
  key = standin.issue()
})
afterEach(async () => {
  for (const v of verifiers.splice(0)) await v.close({deadlineMs: 1})
  await standin.close()
})

describe('batching', () => {
  it('events are sent at most every flushIntervalMs, with the verifier token, aggregated with a count, and never carry the key', async () => {
    const v = make({usage: {flushIntervalMs: 1000}})
    await traffic(v, 10)
    expect(v.stats()).toMatchObject({buffered: 10, bufferedEvents: 2})
    clock.advance(999)
    await turns()
    expect(standin.usageBodies).toHaveLength(0)
    clock.advance(1)
    await until(() => v.stats().sent === 10, 'the batch')
    expect(standin.usageBodies).toHaveLength(1)
    const [batch] = standin.usageBodies
    const context = {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '1.2.3', userAgent: 'test', clientIp: '192.0.2.7'}
    // The miss (answered by the service) and the nine cache hits: two events.
    expect(batch!.events).toEqual([
      {keyId: 'key_1', app: 'weather-app', code: 'VALID', source: 'service', ...context, at: clock.now() - 1000, count: 1},
      {keyId: 'key_1', app: 'weather-app', code: 'VALID', source: 'cache', ...context, at: clock.now() - 1000, count: 9},
    ])
    expect(JSON.stringify(standin.usageBodies)).not.toContain(key)
    expect(v.stats()).toMatchObject({sent: 10, buffered: 0, bufferedEvents: 0, dropped: 0})
  })

  it('reaching maxBatch events (distinct, not verifications) sends at once, without waiting for the interval', async () => {
    const v = make({usage: {flushIntervalMs: 60_000, maxBatch: 100}})
    await traffic(v, 500) // one key and context: two events, far below maxBatch
    await turns()
    expect(standin.usageBodies).toHaveLength(0)
    await distinctTraffic(v, 248)
    // The first batch holds the two aggregated events (500 verifications) and 98 distinct ones.
    await until(() => v.stats().sent === 698, 'two full batches')
    expect(standin.usageBodies.map((b) => b.events.length)).toEqual([100, 100])
    expect(v.stats()).toMatchObject({buffered: 50, bufferedEvents: 50})
  })

  it('missing and malformed keys are recorded too (no key id), so owners see errors', async () => {
    const v = make()
    await v.verify('')
    await v.verify('garbage')
    await v.verify('garbage', {route: '/v1/alerts'})
    await v.flush()
    expect(standin.usageBodies[0]!.events.map((e) => [e.code, e.keyId, e.source, e.route, e.count])).toEqual([
      ['MALFORMED', null, 'local', null, 2],
      ['MALFORMED', null, 'local', '/v1/alerts', 1],
    ])
  })
})

describe('a batch leaves the buffer only after the service acknowledges it', () => {
  it('in flight, the batch is still buffered; a 2xx removes it', async () => {
    const v = make()
    standin.usageMode = 'hang'
    await traffic(v, 10)
    clock.advance(1000)
    await until(() => standin.held() === 1, 'the batch in flight')
    expect(v.stats()).toMatchObject({buffered: 10, sent: 0})
    standin.release(202)
    await until(() => v.stats().sent === 10, 'the acknowledgement')
    expect(v.stats().buffered).toBe(0)
  })

  it('the usage endpoint fails after the batch was sent: it stays, is retried with the same batchId and events, and leaves on the 2xx', async () => {
    const v = make()
    standin.usageMode = '503'
    await traffic(v, 10)
    clock.advance(1000)
    await until(() => standin.usageBodies.length === 1, 'the first attempt')
    await turns()
    expect(v.stats()).toMatchObject({buffered: 10, sent: 0, dropped: 0})
    await traffic(v, 5) // more events arrive meanwhile
    standin.usageMode = 'ok'
    for (let i = 0; i < 5 && v.stats().sent === 0; i++) {
      clock.advance(1000)
      await turns()
    }
    await until(() => v.stats().sent === 10, 'the retry')
    const [first, retry] = standin.usageBodies
    expect(retry!.batchId).toBe(first!.batchId)
    expect(retry!.events).toEqual(first!.events)
    expect(v.stats().buffered).toBe(5)
  })

  it('a lost acknowledgement (timeout, then the late 2xx) is retried with the same batchId, so the service counts it once', async () => {
    const v = make({timeoutMs: 2000})
    standin.usageMode = 'hang'
    await traffic(v, 10)
    clock.advance(1000)
    await until(() => standin.held() === 1, 'the batch in flight')
    clock.advance(2000) // the call times out…
    await turns()
    standin.release(202) // …but the service had written it
    standin.usageMode = 'ok'
    for (let i = 0; i < 10 && v.stats().sent === 0; i++) {
      clock.advance(1000)
      await turns()
    }
    await until(() => v.stats().sent === 10, 'the retry')
    expect(standin.acknowledged).toHaveLength(2)
    expect(new Set(standin.acknowledged).size).toBe(1)
    expect(standin.acknowledgedEvents).toBe(10)
  })

  it('a batch the service refuses as invalid (400) is counted as dropped and rejected, and does not block later events', async () => {
    const v = make({usage: {maxBatch: 5, flushIntervalMs: 60_000}})
    standin.usageStatuses = [400]
    await distinctTraffic(v, 10)
    await until(() => v.stats().sent === 5, 'the second batch')
    expect(v.stats()).toMatchObject({sent: 5, dropped: 5, rejected: 5, buffered: 0})
    expect(v.stats().lastFailure?.reason).toContain('POST /v1/usage: the service answered 400')
  })

  it('the service down for 10 minutes under traffic: bounded buffer, exact drop count, backoff, full delivery after recovery', async () => {
    const v = make({usage: {maxBuffer: 1000, maxBatch: 500, flushIntervalMs: 1000}})
    standin.usageMode = '503'
    let produced = 0
    for (let s = 0; s < 600; s++) {
      await distinctTraffic(v, 10)
      produced += 10
      clock.advance(1000)
      await turns(3)
    }
    await turns()
    const attempts = standin.usageBodies.length
    // Backoff: far fewer attempts than one per interval (600), and each retries the same head batch.
    expect(attempts).toBeGreaterThan(5)
    expect(attempts).toBeLessThan(60)
    expect(new Set(standin.usageBodies.map((b) => b.batchId)).size).toBe(1)
    const during = v.stats()
    expect(during.buffered).toBe(1000)
    expect(during.sent).toBe(0)
    expect(during.dropped).toBe(produced - 1000)
    // verify() never blocked: every verification was answered.
    expect(during.cacheHits + during.cacheMisses).toBe(produced)

    standin.usageMode = 'ok'
    for (let i = 0; i < 40 && v.stats().sent < 1000; i++) {
      clock.advance(1000)
      await turns()
    }
    await until(() => v.stats().sent === 1000, 'delivery after recovery')
    expect(v.stats()).toMatchObject({sent: 1000, dropped: produced - 1000, buffered: 0})
    expect(standin.acknowledgedEvents).toBe(1000)
  })
})

describe('close and SIGTERM-style shutdown', () => {
  async function holding3000(): Promise<Verifier> {
    const v = make({usage: {maxBatch: 500, maxBuffer: 10_000}})
    standin.usageMode = 'hang'
    await distinctTraffic(v, 3000)
    await until(() => standin.held() === 1, 'the slow batch in flight')
    expect(v.stats()).toMatchObject({buffered: 3000, sent: 0})
    return v
  }

  it('3,000 unsent events and a slow request in flight: close stops intake, flushes everything within the deadline', async () => {
    const v = await holding3000()
    const closing = v.close({deadlineMs: 5000})
    await v.verify(key) // after close: answered, its event counted as dropped (intake stopped)
    standin.usageMode = 'ok'
    standin.release(202)
    const report = await closing
    expect(report).toEqual({sent: 3000, dropped: 1, droppedAtClose: 0, flushed: true, elapsedMs: 0})
    expect(standin.acknowledgedEvents).toBe(3000)
    expect(v.stats()).toMatchObject({sent: 3000, dropped: 1, buffered: 0})
    expect(await v.close()).toBe(report)
  })

  it('the slow request never answers: at the deadline it is aborted and all 3,000 are reported dropped', async () => {
    const v = await holding3000()
    const closing = v.close({deadlineMs: 1000})
    await turns()
    clock.advance(1000)
    const report = await closing
    expect(report).toEqual({sent: 0, dropped: 3000, droppedAtClose: 3000, flushed: false, elapsedMs: 1000})
    expect(v.stats()).toMatchObject({buffered: 0, sent: 0, dropped: 3000})
  })

  it('the final flush gets 503: every event is reported as dropped, counts exact', async () => {
    const v = make({usage: {maxBatch: 500}})
    standin.usageMode = '503'
    await distinctTraffic(v, 3000)
    const report = await v.close({deadlineMs: 5000})
    expect(report).toMatchObject({sent: standin.acknowledgedEvents, dropped: 3000, flushed: false})
    expect(report.sent + report.dropped).toBe(3000)
  })

  it('part of the final flush succeeds: sent + dropped equals what was recorded', async () => {
    const v = make({usage: {maxBatch: 500, flushIntervalMs: 60_000}})
    standin.usageMode = 'hang'
    await distinctTraffic(v, 3000)
    await until(() => standin.held() === 1, 'first batch in flight')
    standin.usageStatuses = [202, 503, 503, 503]
    const closing = v.close({deadlineMs: 5000})
    standin.release(202)
    const report = await closing
    expect(report).toMatchObject({sent: 1000, dropped: 2000, droppedAtClose: 2000, flushed: false})
    expect(standin.acknowledgedEvents).toBe(1000)
  })

  it('a slow verification in flight at close may finish before the deadline; its usage event is counted as dropped', async () => {
    const v = make()
    standin.verifyMode = 'slow'
    const pending = v.verify(standin.issue())
    await until(() => standin.held() === 1, 'the verification in flight')
    const closing = v.close({deadlineMs: 5000})
    standin.release()
    expect(await pending).toMatchObject({valid: true, source: 'service'})
    // The report comes after the verification ended, so its event (recorded after intake stopped) is in it.
    expect(await closing).toEqual({sent: 0, dropped: 1, droppedAtClose: 0, flushed: true, elapsedMs: 0})
  })

  it('a slow verification in flight at close is aborted at the deadline and answered "unavailable"', async () => {
    const v = make()
    standin.verifyMode = 'hang'
    const pending = v.verify(standin.issue())
    await until(() => standin.held() === 1, 'the verification in flight')
    const closing = v.close({deadlineMs: 500})
    await turns()
    clock.advance(500)
    expect(await pending).toMatchObject({valid: false, unavailable: true})
    expect(await closing).toMatchObject({flushed: true, elapsedMs: 500})
    standin.release(503)
  })
})

describe('aggregation: identical verifications become one event with a count', () => {
  it('a different key, code, source, route, client app, version, user agent, address or minute starts another event', async () => {
    const v = make({stalenessMs: 3_600_000, hardCeilingMs: 3_600_000, usage: {flushIntervalMs: 600_000}})
    const other = standin.issue('other-app')
    const revoked = standin.issue()
    standin.revoke(revoked)
    const base = {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '1.2.3', userAgent: 'okhttp/4.12.0', clientIp: '192.0.2.7'}
    const variants = [{route: '/v1/alerts'}, {route: ''}, {clientApp: 'com.example.other'}, {appVersion: '1.2.4'}, {userAgent: 'curl/8.5.0'}, {clientIp: '192.0.2.8'}]
    for (let i = 0; i < 4; i++) await v.verify(key, base) // the miss, then 3 cache hits
    for (const variant of variants) for (let i = 0; i < 2; i++) await v.verify(key, {...base, ...variant})
    await v.verify(key)
    await v.verify(key, {}) // no context and an empty one are the same: every dimension null
    for (let i = 0; i < 3; i++) await v.verify(other, base)
    for (let i = 0; i < 2; i++) await v.verify(revoked, base)
    clock.advance(60_000) // the next minute
    for (let i = 0; i < 5; i++) await v.verify(key, base)
    await v.flush()

    const t0 = clock.now() - 60_000
    const events = standin.usageBodies.flatMap((b) => b.events)
    const row = (e: UsageEvent) => [e.keyId, e.app, e.code, e.source, e.route, e.clientApp, e.appVersion, e.userAgent, e.clientIp, e.at, e.count]
    const k1 = ['key_1', 'weather-app']
    const ctx = (variant: Partial<typeof base> = {}) => {
      const c = {...base, ...variant}
      return [c.route, c.clientApp, c.appVersion, c.userAgent, c.clientIp]
    }
    expect(events.map(row)).toEqual([
      [...k1, 'VALID', 'service', ...ctx(), t0, 1],
      [...k1, 'VALID', 'cache', ...ctx(), t0, 3],
      ...variants.map((variant) => [...k1, 'VALID', 'cache', ...ctx(variant), t0, 2]),
      [...k1, 'VALID', 'cache', null, null, null, null, null, t0, 2],
      ['key_2', 'other-app', 'VALID', 'service', ...ctx(), t0, 1],
      ['key_2', 'other-app', 'VALID', 'cache', ...ctx(), t0, 2],
      ['key_3', 'weather-app', 'REVOKED', 'service', ...ctx(), t0, 1],
      ['key_3', 'weather-app', 'REVOKED', 'cache', ...ctx(), t0, 1],
      [...k1, 'VALID', 'cache', ...ctx(), t0 + 60_000, 5],
    ])
    const recorded = 4 + 2 * variants.length + 2 + 3 + 2 + 5
    expect(verificationsIn(events)).toBe(recorded)
    expect(standin.acknowledgedEvents).toBe(recorded)
    expect(v.stats()).toMatchObject({sent: recorded, dropped: 0, buffered: 0, bufferedEvents: 0})
  })

  it('locally rate-limited verifications are their own event (code RATE_LIMITED), next to the admitted ones', async () => {
    const limitedKey = standin.issue('weather-app', {limit: {capacity: 3, refillPerMs: 3 / 60_000}})
    const v = make({stalenessMs: 3_600_000, hardCeilingMs: 3_600_000, usage: {flushIntervalMs: 600_000}})
    // The bucket refills at a known rate only after the service has reported a spent one (remaining < limit).
    const codes: string[] = []
    for (let i = 0; i < 8; i++) codes.push((await v.verify(limitedKey, {route: '/v1/alerts'})).code)
    await v.flush()
    const events = standin.usageBodies.flatMap((b) => b.events)
    const byCode = (code: string) => events.filter((e) => e.code === code).reduce((sum, e) => sum + e.count, 0)
    expect(byCode('VALID')).toBe(codes.filter((c) => c === 'VALID').length)
    expect(byCode('RATE_LIMITED')).toBe(codes.filter((c) => c === 'RATE_LIMITED').length)
    expect(byCode('RATE_LIMITED')).toBeGreaterThan(0)
    // One event per (code, source): the limited hits collapse too.
    expect(new Set(events.map((e) => `${e.code} ${e.source}`)).size).toBe(events.length)
    expect(verificationsIn(events)).toBe(8)
  })

  it('a batch is frozen when formed: verifications during its retries aggregate into a new event behind it, counted once', async () => {
    const v = make()
    standin.usageMode = '503'
    await traffic(v, 10)
    clock.advance(1000)
    await until(() => standin.usageBodies.length === 1, 'the first attempt')
    await turns()
    await traffic(v, 5) // the same key and context, while the batch waits for its retry
    expect(v.stats()).toMatchObject({buffered: 15, bufferedEvents: 3, sent: 0})
    standin.usageMode = 'ok'
    for (let i = 0; i < 10 && v.stats().sent === 0; i++) {
      clock.advance(1000)
      await turns()
    }
    await until(() => v.stats().sent === 10, 'the retry')
    await v.flush()
    const bodies = standin.usageBodies
    expect(bodies.at(-2)!.events).toEqual(bodies[0]!.events)
    expect(bodies.at(-2)!.batchId).toBe(bodies[0]!.batchId)
    expect(bodies.at(-1)!.events.map((e) => [e.source, e.count])).toEqual([['cache', 5]])
    expect(standin.acknowledgedEvents).toBe(15)
    expect(v.stats()).toMatchObject({sent: 15, dropped: 0, buffered: 0})
  })

  it('bounded memory: maxBuffer bounds events; a verification that adds to an open event is never dropped, one that needs a new event beyond it is', async () => {
    const v = make({usage: {maxBuffer: 3, flushIntervalMs: 60_000}})
    await traffic(v, 100) // two events: the miss and the hits
    await distinctTraffic(v, 5) // room for one more event: 4 dropped
    await traffic(v, 50) // adds to the open cache-hit event
    expect(v.stats()).toMatchObject({buffered: 151, bufferedEvents: 3, dropped: 4})
    await v.flush()
    expect(v.stats()).toMatchObject({sent: 151, dropped: 4, buffered: 0, bufferedEvents: 0})
    expect(standin.acknowledgedEvents).toBe(151)
    // Once the batch left, there is room again.
    await distinctTraffic(v, 3)
    expect(v.stats()).toMatchObject({bufferedEvents: 3, dropped: 4})
  })

  it('the service down for 10 minutes under identical traffic: a few events per minute, nothing dropped, all delivered once after recovery', async () => {
    const v = make({usage: {maxBuffer: 1000, maxBatch: 500, flushIntervalMs: 1000}})
    standin.usageMode = '503'
    let produced = 0
    let mostEvents = 0
    for (let s = 0; s < 600; s++) {
      await traffic(v, 100)
      produced += 100
      mostEvents = Math.max(mostEvents, v.stats().bufferedEvents)
      clock.advance(1000)
      await turns(3)
    }
    // Per minute: one event of cache hits and one of the misses that refresh the verdict every 5 s (stalenessMs).
    expect(mostEvents).toBeLessThanOrEqual(2 * 10 + 2)
    expect(v.stats()).toMatchObject({sent: 0, dropped: 0, buffered: produced})
    standin.usageMode = 'ok'
    for (let i = 0; i < 40 && v.stats().buffered > 0; i++) {
      clock.advance(1000)
      await turns()
    }
    await until(() => v.stats().sent === produced, 'delivery after recovery')
    expect(v.stats()).toMatchObject({sent: produced, dropped: 0, buffered: 0, bufferedEvents: 0})
    expect(standin.acknowledgedEvents).toBe(produced)
  })
})

describe('UsageSender', () => {
  function sender(maxCount?: number) {
    const bodies: UsageEvent[][] = []
    const s = new UsageSender({
      clock,
      timeoutMs: 1000,
      flushIntervalMs: 60_000,
      maxBatch: 100,
      maxBuffer: 100,
      maxBackoffMs: 1000,
      ...(maxCount === undefined ? {} : {maxCount}),
      post: async (body) => {
        bodies.push((JSON.parse(body) as {events: UsageEvent[]}).events)
        return 202
      },
    })
    return {s, bodies}
  }
  const head = usageHead('key_1', 'weather-app', 'VALID', 'cache')

  it('interleaved contexts of one key still collapse: one event per distinct context, whatever the order', async () => {
    const {s, bodies} = sender()
    const contexts = [{clientIp: '192.0.2.1'}, {clientIp: '192.0.2.2'}, {route: '/a', clientIp: '192.0.2.1'}, {clientIp: '192.0.2.1', userAgent: 'x'}]
    for (let i = 0; i < 40; i++) s.record(head, contexts[(i * 7) % 4], clock.now() + i)
    s.record(usageHead('key_2', 'weather-app', 'VALID', 'cache'), contexts[0], clock.now())
    await s.flush()
    expect(bodies.flat().map((e) => [e.keyId, e.route, e.clientIp, e.userAgent, e.count])).toEqual([
      ['key_1', null, '192.0.2.1', null, 10],
      ['key_1', null, '192.0.2.1', 'x', 10],
      ['key_1', '/a', '192.0.2.1', null, 10],
      ['key_1', null, '192.0.2.2', null, 10],
      ['key_2', null, '192.0.2.1', null, 1],
    ])
    await s.close(10)
  })

  it('with a backlog, events behind the batch in flight keep aggregating, also after the index is rebuilt', async () => {
    const answers: Array<(status: number) => void> = []
    const bodies: UsageEvent[][] = []
    const s = new UsageSender({
      clock,
      timeoutMs: 60_000,
      flushIntervalMs: 60_000,
      maxBatch: 1,
      maxBuffer: 3,
      maxBackoffMs: 1000,
      post: (body) => {
        bodies.push((JSON.parse(body) as {events: UsageEvent[]}).events)
        return new Promise<number>((resolve) => answers.push(resolve))
      },
    })
    const at = (ip: string) => s.record(head, {clientIp: ip}, clock.now())
    const ack = async () => {
      answers.shift()!(202)
      await turns()
    }
    at('A') // a batch of one at once: [A] in flight
    at('B')
    at('C')
    at('B')
    expect(s.bufferedEvents).toBe(3)
    at('D') // a fourth event would exceed maxBuffer: dropped
    expect(s.dropped).toBe(1)
    await ack() // [A] acknowledged; [B] in flight, C open
    at('B') // B is in flight: a new event B'
    at('C')
    await ack() // [B] acknowledged; [C] in flight, B' open
    at('C') // a new event C'
    at('B')
    await ack() // [C] acknowledged; [B'] in flight; the index was rebuilt around C'
    at('C')
    at('C')
    await ack()
    await ack()
    expect(bodies.map((events) => events.map((e) => [e.clientIp, e.count]))).toEqual([[['A', 1]], [['B', 2]], [['C', 2]], [['B', 2]], [['C', 3]]])
    expect({sent: s.sent, dropped: s.dropped, buffered: s.buffered, bufferedEvents: s.bufferedEvents}).toEqual({sent: 10, dropped: 1, buffered: 0, bufferedEvents: 0})
    await s.close(10)
  })

  it('an event full at the largest count is closed and a new one started', async () => {
    const {s, bodies} = sender(3)
    for (let i = 0; i < 7; i++) s.record(head, {route: '/r'}, clock.now())
    await s.flush()
    expect(bodies.flat().map((e) => e.count)).toEqual([3, 3, 1])
    expect(s.sent).toBe(7)
    await s.close(10)
  })

  it('verifications land in the event of their own minute, in any order; an event carries the latest instant', async () => {
    const {s, bodies} = sender()
    const t = clock.now() // a minute boundary
    for (const at of [t + 59_998, t + 60_000, t + 59_999, t + 60_001, t + 12]) s.record(head, undefined, at)
    await s.flush()
    expect(bodies.flat().map((e) => [e.at, e.count])).toEqual([
      [t + 59_999, 3],
      [t + 60_001, 2],
    ])
    await s.close(10)
  })
})
