/**
 * The verifier's bounded cache of the service's verdicts, keyed by the
 * SHA-256 of the key (the key itself is never stored), with an index by key
 * id so `invalidate` works with either.
 *
 * Rules:
 * - only authoritative answers are cached ({@link isCacheable});
 * - an entry is fresh until `min(fetchedAt + stalenessMs, deadline)`, where the
 *   deadline is a VALID verdict's `expiresAt`;
 * - during an outage an entry may be served stale until `fetchedAt + hardCeilingMs`
 *   (terminal codes, {@link isTerminal}: always);
 * - `invalidate` bumps a generation: a fetch that started before it does not
 *   store its (possibly outdated) verdict.
 */
import {hash} from 'node:crypto'
import {MAX_KEY_LENGTH} from '../core/key-format.js'
import type {VerifyCode, VerifyResponse} from '../core/wire.js'
import {Lru} from './lru.js'
import type {TokenBucket} from './token-bucket.js'
import type {Verdict} from './types.js'
import {usageHead, type UsageHead} from './usage.js'

/**
 * Codes whose verdicts are cached: authoritative answers about the key itself, and FORBIDDEN,
 * which is authoritative for this verifier's token (the token's environment scope is fixed at
 * creation, and a key never changes environment).
 */
const CACHEABLE: ReadonlySet<VerifyCode> = new Set(['VALID', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'MALFORMED', 'FORBIDDEN'])
/**
 * Codes that never change back to VALID: served stale during an outage even past the hard
 * ceiling. A FORBIDDEN key may later become EXPIRED or REVOKED, but never acceptable to this token.
 */
const TERMINAL: ReadonlySet<VerifyCode> = new Set(['EXPIRED', 'REVOKED', 'FORBIDDEN'])

/** Whether verdicts with `code` are cached. */
export function isCacheable(code: VerifyCode): boolean {
  return CACHEABLE.has(code)
}

/** Whether `code` can never change back to VALID. */
export function isTerminal(code: VerifyCode): boolean {
  return TERMINAL.has(code)
}

/** The cache key of an API key: its SHA-256 as a binary string. */
export function cacheKeyOf(key: string): string {
  return hash('sha256', key, 'binary')
}

/** One cached verdict. Times are ms instants of the verifier's clock. */
export interface CacheEntry {
  verdict: VerifyResponse
  /** The verdict as served from the cache (prebuilt; shared, never mutated). */
  cached: Verdict
  /** The usage head of `cached` (built once: a cache hit records usage without building strings). */
  hit: UsageHead
  /** The usage head of the local RATE_LIMITED answer for this key, built at its first use. */
  limited: UsageHead | null
  /** When the fetch that produced it started. */
  fetchedAt: number
  /** Served from the cache while now < freshUntil = min(fetchedAt + stalenessMs, deadline). */
  freshUntil: number
  /** The verdict's own deadline for VALID verdicts (`expiresAt`), else +Infinity. */
  deadline: number
  /** During an outage, served stale while now < ceilingAt (terminal codes: always). */
  ceilingAt: number
  bucket: TokenBucket | null
  /** Cache generation when stored (see {@link VerdictCache.invalidate}). */
  generation: number
  /** Recency sequence (see Lru). */
  seq: number
}

/** Sizes and bounds of a {@link VerdictCache}. */
export interface VerdictCacheOptions {
  /** Most entries (a positive integer). */
  size: number
  /** How long after its fetch started a verdict is served from the cache, in ms. */
  stalenessMs: number
  /** How long after its fetch started a verdict may be served stale during an outage, in ms. */
  hardCeilingMs: number
}

/** See the module comment. */
export class VerdictCache {
  readonly #stalenessMs: number
  readonly #hardCeilingMs: number
  /** keyId → cache key, to invalidate by key id. */
  readonly #byKeyId = new Map<string, string>()
  readonly #lru: Lru<string, CacheEntry>
  #generation = 0

  /** @throws RangeError when `size` is not a positive integer. */
  constructor(options: VerdictCacheOptions) {
    this.#stalenessMs = options.stalenessMs
    this.#hardCeilingMs = options.hardCeilingMs
    this.#lru = new Lru<string, CacheEntry>(options.size, (_id, entry) => {
      if (entry.verdict.keyId !== null) this.#byKeyId.delete(entry.verdict.keyId)
    })
  }

  /** Bumped by every {@link invalidate}. */
  get generation(): number {
    return this.#generation
  }

  get size(): number {
    return this.#lru.size
  }

  /** The entry under cache key `id`, without touching recency. */
  peek(id: string): CacheEntry | undefined {
    return this.#lru.peek(id)
  }

  /** Marks the entry recently used. */
  touch(id: string, entry: CacheEntry): void {
    this.#lru.touch(id, entry)
  }

  /**
   * Stores a cacheable verdict whose fetch started at `fetchedAt` (ms), replacing the
   * entry under `id` and evicting the least recently used over the size.
   */
  store(id: string, verdict: VerifyResponse, fetchedAt: number, bucket: TokenBucket | null): CacheEntry {
    const deadline = verdict.code === 'VALID' && verdict.expiresAt !== null ? verdict.expiresAt : Number.POSITIVE_INFINITY
    const entry: CacheEntry = {
      verdict,
      cached: freezeVerdict({...verdict, source: 'cache'}),
      hit: usageHead(verdict.keyId, verdict.app?.slug ?? null, verdict.code, 'cache'),
      limited: null,
      fetchedAt,
      freshUntil: Math.min(fetchedAt + this.#stalenessMs, deadline),
      deadline,
      ceilingAt: fetchedAt + this.#hardCeilingMs,
      bucket,
      generation: this.#generation,
      seq: 0,
    }
    const previous = this.#lru.peek(id)
    if (previous?.verdict.keyId != null && previous.verdict.keyId !== verdict.keyId) this.#byKeyId.delete(previous.verdict.keyId)
    this.#lru.set(id, entry)
    if (verdict.keyId !== null) this.#byKeyId.set(verdict.keyId, id)
    return entry
  }

  /**
   * Drops the cached verdict of an API key or a key id, or every verdict when none is given.
   * @returns how many entries were dropped.
   */
  invalidate(keyOrKeyId?: string): number {
    this.#generation++
    if (keyOrKeyId === undefined) {
      const n = this.#lru.size
      this.#lru.clear()
      this.#byKeyId.clear()
      return n
    }
    let dropped = 0
    const byId = this.#byKeyId.get(keyOrKeyId)
    if (byId !== undefined) {
      this.#byKeyId.delete(keyOrKeyId)
      if (this.#lru.delete(byId)) dropped++
    }
    if (keyOrKeyId.length > 0 && keyOrKeyId.length <= MAX_KEY_LENGTH) {
      const id = cacheKeyOf(keyOrKeyId)
      const entry = this.#lru.peek(id)
      if (entry !== undefined) {
        if (entry.verdict.keyId !== null) this.#byKeyId.delete(entry.verdict.keyId)
        this.#lru.delete(id)
        dropped++
      }
    }
    return dropped
  }
}

/** Freezes a cached verdict and its members: handlers share it, so a mutation must not reach the cache. */
function freezeVerdict(verdict: Verdict): Verdict {
  if (verdict.app !== null) {
    Object.freeze(verdict.app.team)
    Object.freeze(verdict.app)
  }
  if (verdict.rateLimit !== null) Object.freeze(verdict.rateLimit)
  Object.freeze(verdict.suggestions)
  return Object.freeze(verdict)
}
