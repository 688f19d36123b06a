/**
 * Sign-in limits against the real service: the backoff per (username, address),
 * the per-username ceiling that the user's known networks bypass, the per-address
 * ceiling, and bounded password hashing. Client addresses are real: requests leave
 * from different 127.x.y.z source addresses (all local on Linux).
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {addUser} from '../../src/server/services/users.js'
import {DEFAULT_SCRYPT_COST} from '../../src/server/settings.js'
import {expectProblemShape, PASSWORD, startHarness, type Answer, type Harness} from './helpers.js'

/** The address the user signs in from normally (its /24 becomes a known network). */
const HOME = '127.0.0.1'
/** Attackers and fresh places: each in its own /24, none known for any user. */
const elsewhere = (n: number): string => `127.${n}.0.1`

function signIn(h: Harness, from: string, password: string, username = 'ann'): Promise<Answer> {
  return h.request('POST', '/v1/sessions', {body: {username, password}, from})
}

describe('sign-in limits', () => {
  let h: Harness
  beforeEach(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
  })
  afterEach(async () => h.cleanup())

  it('20 wrong passwords for a user from one address, then the right one from another address: signed in (from a new address and from a known one)', async () => {
    await h.login('ann', PASSWORD, HOME)
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push((await signIn(h, elsewhere(1), `wrong password ${i}`)).status)
    // The attacker's own address is slowed down: 5 free failures, then 429.
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]))
    expect((await signIn(h, elsewhere(2), PASSWORD)).status).toBe(201)
    expect((await signIn(h, HOME, PASSWORD)).status).toBe(201)
  })

  it('refusals are reported to operators: one warning per 10 s at most, with counts per limit and no username, password or address', async () => {
    for (let i = 0; i < 20; i++) await signIn(h, elsewhere(1), `wrong password ${i}`)
    h.clock.advance(10_000)
    expect((await signIn(h, elsewhere(1), 'wrong password again')).status).toBe(401)
    expect((await signIn(h, elsewhere(1), 'wrong password again')).status).toBe(429)
    const lines = h.logs.filter((l) => l.includes('refused by the sign-in limits')).map((l) => JSON.parse(l))
    // The first refusal is reported at once; the next line, 10 s later, carries the ones in between.
    expect(lines.map((l) => l.refused)).toEqual([{backoff: 1}, {backoff: 15}])
    expect(lines.map((l) => l.level)).toEqual([40, 40])
    expect(JSON.stringify(lines)).not.toMatch(/ann|wrong password|127\./)
  })

  it('an attacker retrying at 1 request/s for 5 minutes from one address keeps only that address waiting; the user signs in from elsewhere all along', async () => {
    let attempts = 0
    for (let second = 0; second < 300; second++) {
      const res = await signIn(h, elsewhere(1), 'guess')
      if (res.status === 401) attempts++
      else expect(res.status).toBe(429)
      if (second % 60 === 59) expect((await signIn(h, elsewhere(2), PASSWORD)).status).toBe(201)
      h.clock.advance(1000)
    }
    // 5 free (seconds 0–4), then after waits of 1, 2, 4, … 128 s (seconds 5, 7, 11, 19, 35, 67, 131, 259): 13 password checks.
    expect(attempts).toBe(13)
  })

  it('backoff per (username, address): 5 free failures, then 429 naming when to retry, doubling; the right password resets it', async () => {
    for (let i = 0; i < 5; i++) expect((await signIn(h, elsewhere(1), 'wrong')).status).toBe(401)
    const limited = await signIn(h, elsewhere(1), PASSWORD)
    const problem = expectProblemShape(limited, 429, 'rate_limited')
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(problem.retryAfterSeconds).toBe(1)
    expect(problem.limit).toBe('backoff')
    expect(problem.detail).toMatch(/try again in 1 s/)
    h.clock.advance(1000)
    expect((await signIn(h, elsewhere(1), 'wrong')).status).toBe(401)
    const doubled = await signIn(h, elsewhere(1), PASSWORD)
    expect(doubled.status).toBe(429)
    expect(doubled.headers.get('retry-after')).toBe('2')
    h.clock.advance(1999)
    expect((await signIn(h, elsewhere(1), PASSWORD)).headers.get('retry-after')).toBe('1')
    h.clock.advance(1)
    expect((await signIn(h, elsewhere(1), PASSWORD)).status).toBe(201)
    // Reset: five free failures again.
    for (let i = 0; i < 5; i++) expect((await signIn(h, elsewhere(1), 'wrong')).status).toBe(401)
    expect((await signIn(h, elsewhere(1), 'wrong')).status).toBe(429)
    // Another username from the same address is not slowed down by ann's backoff.
    await h.addUser('bob', 'web')
    expect((await signIn(h, elsewhere(1), PASSWORD, 'bob')).status).toBe(201)
  })

  it('the backoff is counted when an attempt starts: 20 concurrent wrong passwords from one address get at most 5 password checks', async () => {
    const answers = await Promise.all(Array.from({length: 20}, () => signIn(h, elsewhere(1), 'wrong')))
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(15)
  })

  it('per-username ceiling: wrong passwords spread over many new addresses stop new addresses, never the networks the user signed in from', async () => {
    await h.login('ann', PASSWORD, HOME)
    // 10 addresses, one wrong password each: within each backoff, but the username's bucket (10) is empty.
    for (let n = 1; n <= 10; n++) expect((await signIn(h, elsewhere(n), 'wrong')).status).toBe(401)
    const fresh = await signIn(h, elsewhere(11), PASSWORD)
    const problem = expectProblemShape(fresh, 429, 'rate_limited')
    expect(problem.limit).toBe('username')
    expect(fresh.headers.get('retry-after')).toBe('30')
    expect(problem.detail).toMatch(/try again in 30 s, or sign in from a network you have signed in from before/)
    // The user's network (127.0.0.0/24, so another address in it too) is not stopped.
    expect((await signIn(h, HOME, PASSWORD)).status).toBe(201)
    expect((await signIn(h, '127.0.0.77', PASSWORD)).status).toBe(201)
    // Waiting Retry-After is enough for the new address.
    h.clock.advance(30_000)
    expect((await signIn(h, elsewhere(11), PASSWORD)).status).toBe(201)
  })

  it('successful sign-ins give their attempt back: 60 sign-ins from one address pass the per-address ceiling of 50', async () => {
    for (let i = 0; i < 60; i++) expect((await signIn(h, elsewhere(1), PASSWORD)).status).toBe(201)
  })

  it('known networks are stored as keyed hashes, never as addresses, and at most knownNetworksPerUser per user (the most recent)', async () => {
    await h.cleanup()
    h = await startHarness({settings: {knownNetworksPerUser: 3}})
    await h.addUser('ann', 'mobile')
    for (let n = 1; n <= 5; n++) {
      await h.login('ann', PASSWORD, elsewhere(n))
      h.clock.advance(1000)
    }
    const raw = new BetterSqlite3(h.dbPath, {readonly: true})
    try {
      const rows = raw.prepare('select * from sign_in_networks').all() as Array<Record<string, unknown>>
      expect(rows).toHaveLength(3)
      for (const row of rows) expect(row.network_hash).toMatch(/^[0-9a-f]{64}$/)
      expect(JSON.stringify(rows)).not.toMatch(/127\./)
    } finally {
      raw.close()
    }
    // The oldest network (127.1.0.0/24) was dropped: it counts against the ceiling again, the newest does not.
    for (let n = 20; n < 30; n++) expect((await signIn(h, elsewhere(n), 'wrong')).status).toBe(401)
    expect((await signIn(h, elsewhere(1), PASSWORD)).status).toBe(429)
    expect((await signIn(h, elsewhere(5), PASSWORD)).status).toBe(201)
  })
})

describe('bounded password hashing', () => {
  it('300 wrong sign-ins from 10 addresses at once: hashing stays within its bound, the excess is refused at once with Retry-After, and a good sign-in from a known network is answered 201 without waiting', async () => {
    const h = await startHarness({settings: {scryptCost: DEFAULT_SCRYPT_COST, passwordHashing: {shared: {active: 2, queued: 2}, reserved: {active: 1, queued: 1}}}})
    try {
      await addUser({dbPath: h.dbPath, username: 'ann', password: PASSWORD, team: 'mobile', admin: false, scryptCost: DEFAULT_SCRYPT_COST, clock: h.clock})
      await h.login('ann', PASSWORD, HOME)
      // 300 usernames, 30 per address: within every per-address and per-username limit, so only the hashing bound holds them.
      const flood = Array.from({length: 300}, (_, i) => signIn(h, elsewhere(1 + (i % 10)), `guess ${i}`, `user${i}`))
      // Wait (without a deadline on the service) until the flood fills the shared lane.
      for (let spins = 0; h.server.signInStats().hashing.shared.active < 2; spins++) {
        if (spins > 2000) throw new Error('the flood never filled the shared hashing lane')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      const good = await signIn(h, HOME, PASSWORD)
      expect(good.status).toBe(201)
      const atGood = h.server.signInStats().hashing
      const answers = await Promise.all(flood)
      const stats = h.server.signInStats().hashing
      // The good sign-in, sent while the flood filled the shared lane, ran in the reserved lane at once.
      expect(atGood.reserved.startedAtOnce).toBe(1)
      expect(atGood.reserved.startedAfterWaiting).toBe(0)
      expect(stats.shared.peakActive).toBeLessThanOrEqual(2)
      expect(stats.shared.peakQueued).toBeLessThanOrEqual(2)
      expect(stats.reserved.peakActive).toBe(1)
      // Every flood answer is a wrong password (401) or an immediate 429 naming when to retry.
      const refused = answers.filter((a) => a.status === 429)
      expect(refused.length + answers.filter((a) => a.status === 401).length).toBe(300)
      expect(stats.shared.refused).toBeGreaterThan(0)
      const busy = refused.filter((a) => a.body.limit === 'busy')
      expect(busy.length).toBe(stats.shared.refused)
      for (const a of busy) {
        expect(a.headers.get('retry-after')).toBe('1')
        expect(a.body.detail).toMatch(/checking too many passwords at once; try again in 1 s/)
      }
    } finally {
      await h.cleanup()
    }
  }, 120_000)

  it('an attempt refused because hashing is full does not count toward the backoff', async () => {
    const h = await startHarness({settings: {scryptCost: DEFAULT_SCRYPT_COST, passwordHashing: {shared: {active: 1, queued: 0}, reserved: {active: 1, queued: 0}}}})
    try {
      await addUser({dbPath: h.dbPath, username: 'ann', password: PASSWORD, team: 'mobile', admin: false, scryptCost: DEFAULT_SCRYPT_COST, clock: h.clock})
      // Six at once from one address: one runs, the ones that arrive while it runs are refused as busy (uncounted).
      const first = await Promise.all(Array.from({length: 6}, () => signIn(h, elsewhere(1), 'wrong')))
      const checked = first.filter((a) => a.status === 401).length
      const busy = first.filter((a) => a.status === 429 && a.body.limit === 'busy').length
      expect(checked + busy).toBe(6)
      expect(busy).toBeGreaterThan(0)
      // So 5 − checked failures are still free before the backoff begins.
      for (let i = checked; i < 5; i++) expect((await signIn(h, elsewhere(1), 'wrong')).status).toBe(401)
      expect((await signIn(h, elsewhere(1), 'wrong')).body.limit).toBe('backoff')
    } finally {
      await h.cleanup()
    }
  }, 60_000)
})
