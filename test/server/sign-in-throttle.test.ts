import {describe, expect, it} from 'vitest'
import {SignInThrottle} from '../../src/server/services/sign-in-throttle.js'
import {TestClock} from './helpers.js'

const policy = {
  backoff: {freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 4000, forgetAfterMs: 60_000},
  perUsername: {capacity: 3, refillIntervalMs: 10_000},
  perAddress: {capacity: 5, refillIntervalMs: 1000},
}
const from = (address: string, knownNetwork = false) => ({username: 'Ann', address, knownNetwork})

describe('SignInThrottle', () => {
  it('backoff doubles up to maxDelayMs and is forgotten forgetAfterMs after the last attempt', () => {
    const clock = new TestClock()
    const t = new SignInThrottle({...policy, perUsername: {capacity: 100, refillIntervalMs: 1}, perAddress: {capacity: 100, refillIntervalMs: 1}}, clock)
    const waits: number[] = []
    for (let i = 0; i < 6; i++) {
      let d = t.begin(from('192.0.2.7'))
      if (!d.allowed) {
        waits.push(d.retryAfterSeconds)
        clock.advance(d.retryAfterSeconds * 1000)
        d = t.begin(from('192.0.2.7'))
      }
      expect(d.allowed).toBe(true)
    }
    expect(waits).toEqual([1, 2, 4, 4])
    clock.advance(60_000)
    expect(t.begin(from('192.0.2.7')).allowed).toBe(true)
    expect(t.begin(from('192.0.2.7')).allowed).toBe(true)
    expect(t.begin(from('192.0.2.7')).allowed).toBe(false)
  })

  it('usernames compare lower-cased; IPv6 addresses share a backoff per /64', () => {
    const t = new SignInThrottle(policy, new TestClock())
    expect(t.begin({username: 'ann', address: '2001:db8:1:2::1', knownNetwork: false}).allowed).toBe(true)
    expect(t.begin({username: 'ANN', address: '2001:db8:1:2::ffff', knownNetwork: false}).allowed).toBe(true)
    expect(t.begin({username: 'Ann', address: '2001:db8:1:2:0:0:0:7', knownNetwork: false})).toMatchObject({allowed: false, limit: 'backoff'})
  })

  it('the per-address ceiling spans usernames and names itself; a refused attempt takes nothing', () => {
    const clock = new TestClock()
    const t = new SignInThrottle(policy, clock)
    for (let i = 0; i < 5; i++) expect(t.begin({username: `u${i}`, address: '192.0.2.7', knownNetwork: false}).allowed).toBe(true)
    expect(t.begin({username: 'u9', address: '192.0.2.7', knownNetwork: false})).toEqual({allowed: false, limit: 'address', retryAfterSeconds: 1})
    // u9's username bucket was not touched by the refusal: three attempts from elsewhere pass.
    for (let i = 0; i < 3; i++) expect(t.begin({username: 'u9', address: `198.51.100.${i}`, knownNetwork: false}).allowed).toBe(true)
    expect(t.begin({username: 'u9', address: '198.51.100.3', knownNetwork: false})).toMatchObject({allowed: false, limit: 'username'})
  })

  it('known networks neither count against nor are stopped by the per-username ceiling', () => {
    const t = new SignInThrottle(policy, new TestClock())
    for (let i = 0; i < 3; i++) expect(t.begin(from(`198.51.100.${i}`)).allowed).toBe(true)
    expect(t.begin(from('198.51.100.9'))).toMatchObject({allowed: false, limit: 'username', retryAfterSeconds: 10})
    expect(t.begin(from('192.0.2.7', true)).allowed).toBe(true)
  })

  it('succeeded and abandoned give the attempt back; failed keeps it', () => {
    const t = new SignInThrottle(policy, new TestClock())
    for (let i = 0; i < 10; i++) {
      const d = t.begin(from('192.0.2.7'))
      if (!d.allowed) throw new Error(`attempt ${i} refused: ${d.limit}`)
      if (i % 2 === 0) t.succeeded(d.attempt)
      else t.abandoned(d.attempt)
    }
    const kept = t.begin(from('192.0.2.7'))
    if (!kept.allowed) throw new Error('refused')
    t.failed(kept.attempt)
    const second = t.begin(from('192.0.2.7'))
    if (!second.allowed) throw new Error('refused')
    t.failed(second.attempt)
    expect(t.begin(from('192.0.2.7'))).toMatchObject({allowed: false, limit: 'backoff'})
  })
})
