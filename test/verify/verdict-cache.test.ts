/** The verifier's verdict cache (src/verify/verdict-cache.ts): freshness bounds, invalidation by key or key id, eviction, frozen entries. */
import {describe, expect, it} from 'vitest'
import type {VerifyCode, VerifyResponse} from '../../src/core/wire.js'
import {cacheKeyOf, isCacheable, isTerminal, VerdictCache} from '../../src/verify/verdict-cache.js'

function verdict(code: VerifyCode, keyId: string | null, extra: Partial<VerifyResponse> = {}): VerifyResponse {
  const owned = keyId !== null
  return {
    valid: code === 'VALID',
    code,
    app: owned ? {slug: 'weather-app', name: 'Weather', team: {slug: 'mobile', name: 'Mobile'}, contactEmail: 'mobile@example.com'} : null,
    team: owned ? 'mobile' : null,
    env: owned ? 'dev' : null,
    keyId,
    expiresAt: null,
    rateLimit: null,
    message: code,
    suggestions: [],
    docsUrl: '',
    ...extra,
  } as VerifyResponse
}

describe('verdict cache', () => {
  it('caches authoritative codes only; terminal codes are the ones that never turn VALID again', () => {
    expect(['VALID', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'MALFORMED', 'FORBIDDEN'].every((c) => isCacheable(c as VerifyCode))).toBe(true)
    expect(isCacheable('RATE_LIMITED')).toBe(false)
    expect(['EXPIRED', 'REVOKED', 'FORBIDDEN'].every((c) => isTerminal(c as VerifyCode))).toBe(true)
    expect(['VALID', 'NOT_FOUND', 'MALFORMED'].some((c) => isTerminal(c as VerifyCode))).toBe(false)
  })

  it('an entry is fresh until min(fetchedAt + stalenessMs, expiresAt) and may be served stale until fetchedAt + hardCeilingMs', () => {
    const cache = new VerdictCache({size: 10, stalenessMs: 5000, hardCeilingMs: 60_000})
    const far = cache.store('a', verdict('VALID', 'key_a', {expiresAt: 100_000}), 1000, null)
    expect(far).toMatchObject({fetchedAt: 1000, freshUntil: 6000, deadline: 100_000, ceilingAt: 61_000})
    const soon = cache.store('b', verdict('VALID', 'key_b', {expiresAt: 3000}), 1000, null)
    expect(soon).toMatchObject({freshUntil: 3000, deadline: 3000})
    const revoked = cache.store('c', verdict('REVOKED', 'key_c', {expiresAt: 3000}), 1000, null)
    expect(revoked.deadline).toBe(Number.POSITIVE_INFINITY)
  })

  it('the cached verdict says source "cache" and is frozen: a handler mutating it cannot change the cache', () => {
    const cache = new VerdictCache({size: 10, stalenessMs: 5000, hardCeilingMs: 60_000})
    const entry = cache.store('a', verdict('VALID', 'key_a'), 0, null)
    expect(entry.cached.source).toBe('cache')
    expect(Object.isFrozen(entry.cached)).toBe(true)
    expect(Object.isFrozen(entry.cached.app)).toBe(true)
    expect(Object.isFrozen(entry.cached.suggestions)).toBe(true)
    expect(() => {
      ;(entry.cached as {valid: boolean}).valid = false
    }).toThrow(TypeError)
  })

  it('invalidates by key id, by the key itself, or everything; each bumps the generation', () => {
    const cache = new VerdictCache({size: 10, stalenessMs: 5000, hardCeilingMs: 60_000})
    const key = 'ak_weather-app_dev_example'
    cache.store(cacheKeyOf(key), verdict('VALID', 'key_a'), 0, null)
    cache.store('other', verdict('VALID', 'key_b'), 0, null)
    cache.store('third', verdict('NOT_FOUND', null), 0, null)
    const g = cache.generation
    expect(cache.invalidate('key_a')).toBe(1)
    expect(cache.peek(cacheKeyOf(key))).toBeUndefined()
    expect(cache.generation).toBe(g + 1)
    cache.store(cacheKeyOf(key), verdict('VALID', 'key_a'), 0, null)
    expect(cache.invalidate(key)).toBe(1)
    expect(cache.invalidate('key_a')).toBe(0)
    expect(cache.invalidate()).toBe(2)
    expect(cache.size).toBe(0)
  })

  it('evicts the least recently used entry over its size and forgets its key id', () => {
    const cache = new VerdictCache({size: 2, stalenessMs: 5000, hardCeilingMs: 60_000})
    cache.store('a', verdict('VALID', 'key_a'), 0, null)
    cache.store('b', verdict('VALID', 'key_b'), 0, null)
    cache.store('c', verdict('VALID', 'key_c'), 0, null)
    expect(cache.size).toBe(2)
    expect(cache.peek('a')).toBeUndefined()
    expect(cache.invalidate('key_a')).toBe(0)
    expect(cache.invalidate('key_b')).toBe(1)
  })

  it('a key whose verdict now names another key id is no longer found under the old id', () => {
    const cache = new VerdictCache({size: 10, stalenessMs: 5000, hardCeilingMs: 60_000})
    cache.store('a', verdict('VALID', 'key_old'), 0, null)
    cache.store('a', verdict('VALID', 'key_new'), 0, null)
    expect(cache.invalidate('key_old')).toBe(0)
    expect(cache.invalidate('key_new')).toBe(1)
  })

  it('rejects a size that is not a positive integer', () => {
    expect(() => new VerdictCache({size: 0, stalenessMs: 1, hardCeilingMs: 1})).toThrow(RangeError)
  })
})
