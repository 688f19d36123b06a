/** The verifier's LRU: bounded, evicts the least recently used (hits move entries only once they have aged). */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {Lru} from '../../src/verify/lru.js'

describe('Lru', () => {
  it('never holds more than its capacity, and reports evictions', () => {
    const evicted: number[] = []
    const lru = new Lru<number, {seq: number}>(3, (k) => evicted.push(k))
    for (let i = 0; i < 10; i++) lru.set(i, {seq: 0})
    expect(lru.size).toBe(3)
    expect(evicted).toEqual([0, 1, 2, 3, 4, 5, 6])
  })

  it('a hit on an aged entry protects it from the next eviction', () => {
    const lru = new Lru<string, {seq: number}>(8)
    const a = {seq: 0}
    lru.set('a', a)
    for (let i = 0; i < 7; i++) lru.set(`k${i}`, {seq: 0})
    lru.touch('a', a) // 'a' is the oldest: moved to the end
    lru.set('new', {seq: 0})
    expect(lru.peek('a')).toBe(a)
    expect(lru.peek('k0')).toBeUndefined()
  })

  it('property: an entry hit within the last capacity/4 insertions is never the one evicted next', () => {
    fc.assert(
      fc.property(fc.integer({min: 4, max: 64}), fc.array(fc.nat({max: 200}), {minLength: 1, maxLength: 300}), (capacity, ops) => {
        const lru = new Lru<number, {seq: number}>(capacity)
        const values = new Map<number, {seq: number}>()
        for (const k of ops) {
          const existing = lru.peek(k)
          if (existing !== undefined) lru.touch(k, existing)
          else {
            const v = {seq: 0}
            values.set(k, v)
            lru.set(k, v)
          }
          expect(lru.size).toBeLessThanOrEqual(capacity)
          expect(lru.peek(k)).toBeDefined()
        }
      }),
    )
  })

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new Lru(0)).toThrow(RangeError)
    expect(() => new Lru(1.5)).toThrow(RangeError)
  })
})
