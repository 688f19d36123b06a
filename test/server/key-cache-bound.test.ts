/**
 * The key-record cache's memory bound and eviction: the estimate never passes the bound,
 * a working set larger than the cache keeps hitting in about capacity/working-set of its
 * lookups (counts, not time), invalidation by key id, shared app views, and the setting's range.
 */
import {describe, expect, it} from 'vitest'
import type {ApiKey, App} from '../../src/server/model.js'
import {KeyRecordCache, RECORD_FIXED_BYTES, recordBytes} from '../../src/server/services/key-cache.js'
import {effectiveLimit} from '../../src/server/services/limits.js'
import {cacheId} from '../../src/server/services/verify.js'
import {MIN_KEY_CACHE_BYTES, resolveSettings} from '../../src/server/settings.js'

const settings = resolveSettings({})

/** A deterministic number in [0, 1) (mulberry32), so the counts below do not vary between runs. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function app(n: number): App {
  const team = {id: `team_${n}`, slug: `team-${n}`, name: `Team ${n}`, contactEmail: null, createdAt: 0}
  return {id: `app_${n}`, slug: `app-${n}`, name: `App ${n}`, team, contactEmail: `app-${n}@example.com`, description: null, createdBy: 'ann', createdAt: 0}
}

function key(n: number, appOf: App, rotation: ApiKey['rotation'] = null): ApiKey {
  const id = `key_${String(n).padStart(20, '0')}`
  return {
    id,
    appId: appOf.id,
    appSlug: appOf.slug,
    env: 'prod',
    kind: 'service',
    name: null,
    start: 'ak_app_prod_abcd…',
    createdBy: 'ann',
    createdByTokenId: null,
    createdByUserId: 'usr_1',
    createdAt: 0,
    expiresAt: 1_900_000_000_000,
    revokedAt: null,
    revokedBy: null,
    lastUsedAt: null,
    metadata: {},
    rotation,
  }
}

/** Looks `n` up, caching its record on a miss; true on a hit. */
function touch(cache: KeyRecordCache, n: number, appOf: App): boolean {
  const id = cacheId(`ak_app_prod_${n}`)
  if (cache.get(id) !== undefined) return true
  const k = key(n, appOf)
  cache.set(cache.record(id, k, appOf, effectiveLimit(settings, 'prod', {key: undefined, app: undefined}), k.expiresAt, 0))
  return false
}

describe('key-record cache bound', () => {
  it('never estimates more than its bound while ten times more records than fit are added', () => {
    const cache = new KeyRecordCache(MIN_KEY_CACHE_BYTES, seeded(1))
    const one = app(1)
    const perRecord = recordBytes(cacheId('ak_app_prod_0'), key(0, one))
    expect(perRecord).toBeGreaterThanOrEqual(RECORD_FIXED_BYTES)
    const capacity = Math.floor(MIN_KEY_CACHE_BYTES / perRecord)
    let largest = 0
    for (let n = 0; n < capacity * 10; n++) {
      touch(cache, n, n % 3 === 0 ? app(n % 7) : one)
      expect(cache.bytes).toBeLessThanOrEqual(MIN_KEY_CACHE_BYTES)
      largest = Math.max(largest, cache.size)
    }
    // Full, not emptied: every eviction made room for one record only.
    expect(largest).toBeGreaterThan(capacity * 0.9)
    expect(cache.size).toBeGreaterThan(capacity * 0.9)
    expect(cache.size).toBeLessThanOrEqual(capacity)
  })

  it('a working set twice its capacity keeps hitting (cycled and uniform) where least-recently-used eviction would never hit', () => {
    const one = app(1)
    const capacity = Math.floor(MIN_KEY_CACHE_BYTES / recordBytes(cacheId('ak_app_prod_0'), key(0, one)))
    const workingSet = capacity * 2
    // The same keys over and over in one order: least-recently-used evicts each key just before it comes again.
    const cycled = new KeyRecordCache(MIN_KEY_CACHE_BYTES, seeded(2))
    for (let n = 0; n < workingSet; n++) touch(cycled, n, one)
    let hits = 0
    const rounds = 20
    for (let round = 0; round < rounds; round++) for (let n = 0; n < workingSet; n++) if (touch(cycled, n, one)) hits++
    expect(hits / (rounds * workingSet)).toBeGreaterThan(0.4)
    // A cycle of ten times the capacity: about a tenth still hits.
    const long = new KeyRecordCache(MIN_KEY_CACHE_BYTES, seeded(6))
    hits = 0
    for (let round = 0; round < rounds + 1; round++) for (let n = 0; n < capacity * 10; n++) if (touch(long, n, one) && round > 0) hits++
    expect(hits / (rounds * capacity * 10)).toBeGreaterThan(0.05)

    const uniform = new KeyRecordCache(MIN_KEY_CACHE_BYTES, seeded(3))
    const draw = seeded(4)
    for (let i = 0; i < workingSet * 2; i++) touch(uniform, Math.floor(draw() * workingSet), one)
    hits = 0
    const lookups = workingSet * 20
    for (let i = 0; i < lookups; i++) if (touch(uniform, Math.floor(draw() * workingSet), one)) hits++
    // About capacity / working set = 0.5.
    expect(hits / lookups).toBeGreaterThan(0.4)
    expect(hits / lookups).toBeLessThan(0.6)
  })

  it('lets a key in steady use into a full cache after a few misses', () => {
    const one = app(1)
    const cache = new KeyRecordCache(MIN_KEY_CACHE_BYTES, seeded(7))
    for (let n = 0; n < 10_000; n++) touch(cache, n, one)
    let misses = 0
    while (!touch(cache, 1_000_000, one)) misses++
    expect(misses).toBeGreaterThan(0)
    expect(misses).toBeLessThan(200)
    expect(cache.bytes).toBeLessThanOrEqual(MIN_KEY_CACHE_BYTES)
  })

  it('drops a record by key id, shares one app view between the records of an app, and empties on clear', () => {
    const cache = new KeyRecordCache(1024 * 1024, seeded(5))
    const one = app(1)
    const limit = effectiveLimit(settings, 'prod', {key: undefined, app: undefined})
    const first = cache.record(cacheId('a'), key(1, one), one, limit, null, 0)
    const second = cache.record(cacheId('b'), key(2, one, {rotatedAt: 1, replacedBy: 'key_00000000000000000003', graceEndsAt: 2}), one, limit, 2, 0)
    expect(cache.set(first)).toBe(true)
    expect(cache.set(second)).toBe(true)
    expect(second.appView).toBe(first.appView)
    expect(second.policy).toBe(first.policy)
    expect(second.bytes).toBeGreaterThan(first.bytes) // its rotation state
    const withBoth = cache.bytes
    expect(withBoth).toBeGreaterThan(first.bytes + second.bytes) // plus the one shared app view

    cache.delete(first.id)
    expect(cache.get(cacheId('a'))).toBeUndefined()
    expect(cache.get(cacheId('b'))).toBe(second)
    expect(cache.bytes).toBe(withBoth - first.bytes)
    cache.delete('key_unknown')
    expect(cache.size).toBe(1)

    cache.clear()
    expect(cache.size).toBe(0)
    expect(cache.bytes).toBe(0)
    expect(cache.get(cacheId('b'))).toBeUndefined()
  })

  it('refuses a keyCacheMaxBytes below 64 KiB or not an integer, naming the setting', () => {
    expect(() => resolveSettings({keyCacheMaxBytes: MIN_KEY_CACHE_BYTES - 1})).toThrow(/settings\.keyCacheMaxBytes must be an integer number of bytes of at least 65536, got 65535/)
    expect(() => resolveSettings({keyCacheMaxBytes: 1.5 * 1024 * 1024 + 0.5})).toThrow(/keyCacheMaxBytes/)
    expect(resolveSettings({}).keyCacheMaxBytes).toBe(64 * 1024 * 1024)
  })
})
