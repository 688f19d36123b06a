/**
 * Usage: POST /v1/usage batches (verifier token, durable before 2xx,
 * all or nothing), server-side counts of POST /v1/verify and the
 * auth-request form, the owner's report GET /v1/apps/{slug}/usage, networks
 * stored only as keyed hashes, last_used_at at most once a minute,
 * retention.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {userAgentFamily} from '../../src/server/services/user-agent.js'
import {DAY_MS} from '../../src/server/settings.js'
import {MAX_USAGE_EVENT_COUNT} from '../../src/core/wire.js'
import {expectProblemShape, startHarness, T0, type Harness} from './helpers.js'

interface Fixture {
  h: Harness
  ann: string
  verifier: string
  k1: {id: string; key: string}
  k2: {id: string; key: string}
}

function rawRows(h: Harness, query: string): Array<Record<string, unknown>> {
  const raw = new BetterSqlite3(h.dbPath, {readonly: true})
  try {
    return raw.prepare(query).all() as Array<Record<string, unknown>>
  } finally {
    raw.close()
  }
}

const ADDRESSES = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:0:0:0:3', '::ffff:192.0.2.7', '192.0.2.7']

function event(keyId: string | null, i: number, extra: Record<string, unknown> = {}) {
  return {
    keyId,
    app: 'weather-app',
    code: i % 5 === 4 ? 'RATE_LIMITED' : 'VALID',
    route: i % 2 === 0 ? '/v1/forecast/:city' : '/v1/alerts',
    clientApp: 'com.example.weather',
    appVersion: i % 3 === 0 ? '2.0.0' : '1.9.1',
    userAgent: i % 2 === 0 ? 'okhttp/4.12.0' : 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
    clientIp: ADDRESSES[i % ADDRESSES.length],
    at: T0 + i * 1000,
    ...extra,
  }
}

describe('usage', () => {
  let f: Fixture
  beforeEach(async () => {
    const h = await startHarness()
    await h.addUser('ann', 'mobile')
    await h.addUser('bob', 'web')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    const k1 = await h.issueKey(ann, 'weather-app')
    const k2 = await h.issueKey(ann, 'weather-app', {env: 'test'})
    f = {h, ann, verifier: await h.addVerifier('weather-api'), k1, k2}
  })
  afterEach(async () => f.h.cleanup())

  const ingest = (events: unknown[], token: string | null = f.verifier) => f.h.request('POST', '/v1/usage', {...(token === null ? {} : {token}), body: {events}})
  const report = (query = `since=${T0}&until=${T0 + DAY_MS}`, token = f.ann) => f.h.request('GET', `/v1/apps/weather-app/usage?${query}`, {token})

  it('a batch is aggregated per key and minute; the owner sees totals per key, code, route, client app, version, UA family and distinct networks', async () => {
    const events = [...Array.from({length: 100}, (_, i) => event(f.k1.id, i)), ...Array.from({length: 20}, (_, i) => event(f.k2.id, i)), event(null, 0), event('key_unknownunknownunkn', 1)]
    const res = await ingest(events)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({received: 122, stored: 120, unattributed: 2, skipped: 0})
    const r = await report()
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({app: 'weather-app', since: T0, until: T0 + DAY_MS, total: 120, bySource: {reported: 120}, byCode: {VALID: 96, RATE_LIMITED: 24}})
    expect(r.body.byKey).toEqual([
      {keyId: f.k1.id, env: 'dev', total: 100, byCode: {VALID: 80, RATE_LIMITED: 20}},
      {keyId: f.k2.id, env: 'test', total: 20, byCode: {VALID: 16, RATE_LIMITED: 4}},
    ])
    expect(r.body.byRoute).toEqual([{value: '/v1/alerts', count: 60}, {value: '/v1/forecast/:city', count: 60}])
    expect(r.body.byClientApp).toEqual([{value: 'com.example.weather', count: 120}])
    expect(r.body.byAppVersion).toEqual([{value: '1.9.1', count: 79}, {value: '2.0.0', count: 41}])
    expect(r.body.byUserAgentFamily).toEqual([{value: 'Safari', count: 60}, {value: 'okhttp', count: 60}])
    expect(r.body.byUserAgentOs).toEqual([{value: 'iOS', count: 60}, {value: 'other', count: 60}])
    // Three spellings of one IPv6 /48 and two of one IPv4 /24 → two networks.
    expect(r.body.distinctNetworks).toBe(2)
    // Per minute: 100 events over 100 s of k1 fall in two minutes.
    expect(rawRows(f.h, `select distinct minute from usage_minutes where key_id = '${f.k1.id}' order by minute`).map((row) => row.minute)).toEqual([T0, T0 + 60_000])
  })

  it('never stores a raw address: networks are keyed hashes', async () => {
    await ingest(ADDRESSES.map((clientIp, i) => event(f.k1.id, i, {clientIp})))
    const dump = JSON.stringify(rawRows(f.h, 'select * from usage_minutes'))
    for (const fragment of ['2001:db8', '192.0.2', '::ffff', '192.0.2.0/24']) expect(dump).not.toContain(fragment)
    const networks = rawRows(f.h, "select distinct network as value from usage_minutes").map((row) => row.value)
    expect(networks).toHaveLength(2)
    for (const value of networks) expect(value).toMatch(/^[0-9a-f]{32}$/)
  })

  it('a failing write answers 503 and stores nothing of the batch; sending it again then works', async () => {
    const raw = new BetterSqlite3(f.h.dbPath)
    // Fails the second statement of the transaction (after the usage rows were written).
    raw.exec("create trigger fail_last_used before update of last_used_at on api_keys begin select raise(abort, 'disk I/O error'); end")
    const events = Array.from({length: 50}, (_, i) => event(f.k1.id, i))
    const res = await ingest(events)
    const problem = expectProblemShape(res, 503, 'server_error')
    expect(problem.detail).toMatch(/nothing of it was kept/)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(rawRows(f.h, 'select count(*) as n from usage_minutes')[0]?.n).toBe(0)
    raw.exec('drop trigger fail_last_used')
    raw.close()
    expect((await ingest(events)).body.stored).toBe(50)
    expect((await report()).body.total).toBe(50)
  })

  it('verifier token required; batch size and event shape checked (400), over 5,000 events refused', async () => {
    expectProblemShape(await ingest([event(f.k1.id, 0)], null), 401, 'unauthenticated')
    expectProblemShape(await ingest([event(f.k1.id, 0)], f.ann), 401, 'unauthenticated')
    expectProblemShape(await ingest([{keyId: f.k1.id, code: 'VALID'}]), 400, 'validation')
    expectProblemShape(await ingest([{keyId: f.k1.id, code: 'valid lowercase', at: T0}]), 400, 'validation')
    expectProblemShape(await f.h.request('POST', '/v1/usage', {token: f.verifier, body: {}}), 400, 'validation')
    const tooMany = Array.from({length: 5001}, (_, i) => ({keyId: f.k1.id, code: 'VALID', at: T0 + i}))
    expectProblemShape(await ingest(tooMany), 400, 'validation')
    const justRight = await ingest(tooMany.slice(0, 5000))
    expect(justRight.body).toEqual({received: 5000, stored: 5000, unattributed: 0, skipped: 0})
    // Out of range instants are skipped, not refused.
    expect((await ingest([event(f.k1.id, 0, {at: T0 - 100 * DAY_MS}), event(f.k1.id, 0, {at: T0 + 2 * DAY_MS})])).body.skipped).toBe(2)
  })

  it('an event with a count is stored exactly as that many identical events: same rows, counts add up, answers count verifications', async () => {
    // The same 12 verifications, once as single events and once aggregated (count), for two keys.
    const singles = [...Array.from({length: 7}, () => event(f.k1.id, 0)), ...Array.from({length: 5}, () => event(f.k1.id, 1))]
    expect((await ingest(singles)).body).toEqual({received: 12, stored: 12, unattributed: 0, skipped: 0})
    const aggregated = [event(f.k2.id, 0, {count: 7}), event(f.k2.id, 1, {count: 5}), event(null, 0, {count: 3}), event(f.k2.id, 2, {count: 4, source: 'service'}), event(f.k2.id, 0, {count: 2, at: T0 - 100 * DAY_MS})]
    expect((await ingest(aggregated)).body).toEqual({received: 21, stored: 12, unattributed: 3, skipped: 6})
    const rows = (keyId: string) => rawRows(f.h, `select minute, source, code, route, client_app, app_version, ua_family, ua_os, network, count from usage_minutes where key_id = '${keyId}' order by minute, route`)
    expect(rows(f.k2.id)).toEqual(rows(f.k1.id))
    expect(rows(f.k2.id).map((row) => [row.route, row.count])).toEqual([['/v1/alerts', 5], ['/v1/forecast/:city', 7]])
    const r = await report()
    expect(r.body.total).toBe(24)
    // Equal totals are listed by key id (ids are random: sort the expectation the same way).
    expect(r.body.byKey).toEqual(
      [
        {keyId: f.k1.id, env: 'dev', total: 12, byCode: {VALID: 12}},
        {keyId: f.k2.id, env: 'test', total: 12, byCode: {VALID: 12}},
      ].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)),
    )
    expect(r.body.byRoute).toEqual([{value: '/v1/forecast/:city', count: 14}, {value: '/v1/alerts', count: 10}])
    // Counts add onto rows already stored (upsert), for a single event and an aggregated one alike.
    await ingest([event(f.k1.id, 0, {count: 1000}), event(f.k1.id, 0)])
    expect(rawRows(f.h, `select sum(count) as n from usage_minutes where key_id = '${f.k1.id}'`)[0]?.n).toBe(1013)
    // The largest count is accepted and stored exactly.
    expect((await ingest([event(f.k1.id, 3, {count: MAX_USAGE_EVENT_COUNT})])).body.stored).toBe(MAX_USAGE_EVENT_COUNT)
    expect(rawRows(f.h, `select sum(count) as n from usage_minutes where key_id = '${f.k1.id}'`)[0]?.n).toBe(MAX_USAGE_EVENT_COUNT + 1013)
  })

  it('count must be an integer from 1 to the maximum: anything else refuses the whole batch (400) and stores nothing', async () => {
    for (const count of [0, -1, 1.5, MAX_USAGE_EVENT_COUNT + 1, '2', null]) {
      expectProblemShape(await ingest([event(f.k1.id, 0), event(f.k1.id, 1, {count})]), 400, 'validation')
    }
    expect(rawRows(f.h, 'select count(*) as n from usage_minutes')[0]?.n).toBe(0)
  })

  it('server-side verifications are counted too (source verify and gateway); the report filters by source', async () => {
    await f.h.verify(f.verifier, f.k1.key, {clientApp: 'com.example.weather', appVersion: '3.0.0', route: '/v1/forecast/:city', userAgent: 'curl/8.5.0', clientIp: '198.51.100.7'})
    await f.h.request('GET', '/v1/verify/auth-request', {
      headers: {'x-verifier-token': f.verifier, 'x-api-key': f.k1.key, 'x-original-uri': '/v1/users/12345/orders?page=2', 'x-real-ip': '198.51.100.9', 'user-agent': 'okhttp/4.12.0', 'x-client-app': 'com.example.android', 'x-client-version': '3.1.0'},
    })
    await f.h.verify(f.verifier, 'not-a-key')
    await ingest([event(f.k1.id, 0)])
    const all = await report()
    expect(all.body.bySource).toEqual({verify: 1, gateway: 1, reported: 1})
    expect(all.body.byRoute.map((b: {value: string}) => b.value).sort()).toEqual(['/v1/forecast/:city', '/v1/forecast/:city', '/v1/users/:id/orders'].filter((v, i, a) => a.indexOf(v) === i).sort())
    expect(all.body.byUserAgentFamily.map((b: {value: string}) => b.value).sort()).toEqual(['curl', 'okhttp'])
    expect(all.body.distinctNetworks).toBe(2)
    const gatewayOnly = await report(`since=${T0}&until=${T0 + DAY_MS}&source=gateway`)
    expect(gatewayOnly.body).toMatchObject({total: 1, sources: ['gateway'], byClientApp: [{value: 'com.example.android', count: 1}]})
  })

  it('owners see their own traffic only: another team gets 403 naming the owner; unknown app 404; bad range 400', async () => {
    const bob = await f.h.login('bob')
    expect(expectProblemShape(await report(undefined, bob), 403, 'forbidden').owningTeam).toBe('mobile')
    expectProblemShape(await f.h.request('GET', '/v1/apps/nope-app/usage', {token: f.ann}), 404, 'not_found')
    expectProblemShape(await report(`since=${T0 + 10}&until=${T0}`), 400, 'validation')
    expectProblemShape(await report('since=1700000000'), 400, 'validation')
    expectProblemShape(await report('source=nope'), 400, 'validation')
  })

  it('last_used_at: written from verifications at most once a minute per key, from memory on flush', async () => {
    const lastUsed = async () => (await f.h.request('GET', `/v1/keys/${f.k1.id}`, {token: f.ann})).body.key.lastUsedAt
    expect(await lastUsed()).toBeNull()
    await f.h.verify(f.verifier, f.k1.key)
    expect(await lastUsed()).toBeNull() // held in memory until the flush
    await f.h.server.flushUsage()
    expect(await lastUsed()).toBe(T0)
    f.h.clock.advance(30_000)
    await f.h.verify(f.verifier, f.k1.key)
    await f.h.server.flushUsage()
    expect(await lastUsed()).toBe(T0)
    f.h.clock.advance(31_000)
    await f.h.verify(f.verifier, f.k1.key)
    await f.h.server.flushUsage()
    expect(await lastUsed()).toBe(T0 + 61_000)
    // Reported batches count as use too.
    f.h.clock.advance(120_000)
    await ingest([event(f.k1.id, 0, {at: T0 + 150_000})])
    expect(await lastUsed()).toBe(T0 + 150_000)
  })

  it('usage held in memory is written on close', async () => {
    await f.h.verify(f.verifier, f.k1.key)
    await f.h.stop()
    expect(rawRows(f.h, "select sum(count) as n from usage_minutes")[0]?.n).toBe(1)
    expect(rawRows(f.h, `select last_used_at from api_keys where id = '${f.k1.id}'`)[0]?.last_used_at).toBe(T0)
  })

  it('retention: usage older than 90 days is pruned from every level by the rollup pass', async () => {
    await ingest([event(f.k1.id, 0)])
    await f.h.server.flushUsage()
    expect(rawRows(f.h, 'select count(*) as n from usage_minutes')[0]?.n).toBeGreaterThan(0)
    f.h.clock.advance(3 * DAY_MS)
    await f.h.server.rollupUsage()
    expect(rawRows(f.h, 'select (select count(*) from usage_minute) as m, (select count(*) from usage_hour) as h, (select count(*) from usage_day) as d')[0]).toEqual({m: 0, h: 1, d: 1})
    f.h.clock.advance(91 * DAY_MS)
    await f.h.server.rollupUsage()
    expect(rawRows(f.h, 'select (select count(*) from usage_minute) as m, (select count(*) from usage_hour) as h, (select count(*) from usage_day) as d')[0]).toEqual({m: 0, h: 0, d: 0})
  })
})

describe('user-agent families', () => {
  it.each([
    ['okhttp/4.12.0', 'okhttp', 'other'],
    ['curl/8.5.0', 'curl', 'other'],
    ['python-requests/2.31.0', 'python-requests', 'other'],
    ['Go-http-client/2.0', 'Go-http-client', 'other'],
    ['axios/1.6.8', 'axios', 'other'],
    ['Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.230805.019)', 'Dalvik', 'Android'],
    ['WeatherApp/1.0 CFNetwork/1490.0.4 Darwin/23.2.0', 'CFNetwork', 'iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', 'Chrome', 'Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0', 'Edge', 'Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15', 'Safari', 'macOS'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', 'Firefox', 'Linux'],
    ['Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36', 'Samsung Internet', 'Android'],
    ['', 'none', 'none'],
    ['something/1.0', 'other', 'other'],
  ])('%s → %s / %s', (ua, family, os) => {
    expect(userAgentFamily(ua)).toEqual({family, os})
  })
})

describe('usage batches with Idempotency-Key', () => {
  let h: Harness
  let verifier: string
  let other: string
  let key: {id: string; key: string}
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    key = await h.issueKey(ann, 'weather-app')
    verifier = await h.addVerifier('one')
    other = await h.addVerifier('two')
  })
  afterEach(async () => h.cleanup())

  const send = (token: string, idempotencyKey: string | undefined, n = 10) =>
    h.request('POST', '/v1/usage', {token, body: {events: Array.from({length: n}, (_, i) => event(key.id, i))}, ...(idempotencyKey === undefined ? {} : {headers: {'idempotency-key': idempotencyKey}})})
  const counted = () => rawRows(h, 'select coalesce(sum(count), 0) as n from usage_minutes')[0]?.n

  it('a retried batch (its acknowledgement was lost) is stored once and answered as a duplicate', async () => {
    const id = '6f1c2a8e-4b7d-4a51-9d1e-0c5b8f3e2a17'
    const first = await send(verifier, id)
    expect(first.body).toEqual({received: 10, stored: 10, unattributed: 0, skipped: 0})
    const again = await send(verifier, id)
    expect(again.status).toBe(200)
    expect(again.body).toEqual({received: 10, stored: 10, unattributed: 0, skipped: 0, duplicate: true})
    expect(counted()).toBe(10)
    // Keys are per verifier; without a key every batch counts.
    expect((await send(other, id)).body.duplicate).toBeUndefined()
    await send(verifier, undefined)
    await send(verifier, undefined)
    expect(counted()).toBe(40)
    expectProblemShape(await send(verifier, 'x'.repeat(201)), 400, 'validation')
  })

  it('a retried batch of aggregated events is stored once: the counts are not added twice', async () => {
    const body = {events: [event(key.id, 0, {count: 400}), event(key.id, 1, {count: 99})]}
    const post = () => h.request('POST', '/v1/usage', {token: verifier, body, headers: {'idempotency-key': 'agg-1'}})
    expect((await post()).body).toEqual({received: 499, stored: 499, unattributed: 0, skipped: 0})
    expect((await post()).body).toEqual({received: 499, stored: 499, unattributed: 0, skipped: 0, duplicate: true})
    expect(counted()).toBe(499)
  })

  it('a failed batch leaves no idempotency record: its retry is stored', async () => {
    const raw = new BetterSqlite3(h.dbPath)
    raw.exec("create trigger fail_last_used before update of last_used_at on api_keys begin select raise(abort, 'disk I/O error'); end")
    expect((await send(verifier, 'batch-1')).status).toBe(503)
    raw.exec('drop trigger fail_last_used')
    raw.close()
    expect((await send(verifier, 'batch-1')).body).toEqual({received: 10, stored: 10, unattributed: 0, skipped: 0})
    expect(counted()).toBe(10)
  })

  it('keys are remembered for a day, then pruned', async () => {
    await send(verifier, 'batch-1')
    h.clock.advance(DAY_MS + 3_600_000)
    await h.server.flushUsage()
    expect(rawRows(h, 'select count(*) as n from usage_batches')[0]?.n).toBe(0)
  })
})
