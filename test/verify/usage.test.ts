/**
 * Usage reporting (SC-17, SC-18): batches leave the buffer only after a 2xx,
 * failed batches are retried with the same batchId and backoff, the buffer is
 * bounded and overflow is counted; close() stops intake, flushes within its
 * deadline and reports exact sent/dropped counts. Injected clock throughout.
 */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createVerifier, type Verifier, type VerifierOptions} from '../../src/verify/index.js'
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

/** `n` verifications of the (cached) key. */
async function traffic(v: Verifier, n: number, route = '/v1/forecast/:city'): Promise<void> {
  for (let i = 0; i < n; i++) await v.verify(key, {route, clientApp: 'com.example.weather', appVersion: '1.2.3', userAgent: 'test', clientIp: '192.0.2.7'})
}

async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

beforeEach(async () => {
  clock = new FakeClock()
  standin = await startStandin(clock)
  key = standin.issue()
})
afterEach(async () => {
  for (const v of verifiers.splice(0)) await v.close({deadlineMs: 1})
  await standin.close()
})

describe('batching', () => {
  it('events are sent at most every flushIntervalMs, with the verifier token, and never carry the key', async () => {
    const v = make({usage: {flushIntervalMs: 1000}})
    await traffic(v, 10)
    clock.advance(999)
    await turns()
    expect(standin.usageBodies).toHaveLength(0)
    clock.advance(1)
    await until(() => v.stats().sent === 10, 'the batch')
    expect(standin.usageBodies).toHaveLength(1)
    const [batch] = standin.usageBodies
    expect(batch!.events).toHaveLength(10)
    expect(batch!.events[0]).toEqual({
      keyId: 'key_1',
      app: 'weather-app',
      code: 'VALID',
      source: 'service',
      route: '/v1/forecast/:city',
      clientApp: 'com.example.weather',
      appVersion: '1.2.3',
      userAgent: 'test',
      clientIp: '192.0.2.7',
      at: clock.now() - 1000,
    })
    expect(batch!.events[1]!.source).toBe('cache')
    expect(JSON.stringify(standin.usageBodies)).not.toContain(key)
    expect(v.stats()).toMatchObject({sent: 10, buffered: 0, dropped: 0})
  })

  it('reaching maxBatch sends at once, without waiting for the interval', async () => {
    const v = make({usage: {flushIntervalMs: 60_000, maxBatch: 100}})
    await traffic(v, 250)
    await until(() => v.stats().sent === 200, 'two full batches')
    expect(standin.usageBodies.map((b) => b.events.length)).toEqual([100, 100])
    expect(v.stats().buffered).toBe(50)
  })

  it('missing and malformed keys are recorded too (no key id), so owners see errors', async () => {
    const v = make()
    await v.verify('')
    await v.verify('garbage')
    await v.flush()
    expect(standin.usageBodies[0]!.events.map((e) => [e.code, e.keyId, e.source])).toEqual([
      ['MALFORMED', null, 'local'],
      ['MALFORMED', null, 'local'],
    ])
  })
})

describe('SC-17: a batch leaves the buffer only after the service acknowledges it', () => {
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
    await traffic(v, 10)
    await until(() => v.stats().sent === 5, 'the second batch')
    expect(v.stats()).toMatchObject({sent: 5, dropped: 5, rejected: 5, buffered: 0})
    expect(v.stats().lastFailure?.reason).toContain('POST /v1/usage: the service answered 400')
  })

  it('the service down for 10 minutes under traffic: bounded buffer, exact drop count, backoff, full delivery after recovery', async () => {
    const v = make({usage: {maxBuffer: 1000, maxBatch: 500, flushIntervalMs: 1000}})
    standin.usageMode = '503'
    let produced = 0
    for (let s = 0; s < 600; s++) {
      await traffic(v, 10)
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

describe('SC-18: close and SIGTERM-style shutdown', () => {
  async function holding3000(): Promise<Verifier> {
    const v = make({usage: {maxBatch: 500, maxBuffer: 10_000}})
    standin.usageMode = 'hang'
    await traffic(v, 3000)
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
    await traffic(v, 3000)
    const report = await v.close({deadlineMs: 5000})
    expect(report).toMatchObject({sent: standin.acknowledgedEvents, dropped: 3000, flushed: false})
    expect(report.sent + report.dropped).toBe(3000)
  })

  it('part of the final flush succeeds: sent + dropped equals what was recorded', async () => {
    const v = make({usage: {maxBatch: 500, flushIntervalMs: 60_000}})
    standin.usageMode = 'hang'
    await traffic(v, 3000)
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
