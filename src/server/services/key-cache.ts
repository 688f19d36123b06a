/**
 * The key-record cache of verification: compact records of verified keys, bounded by an
 * estimate of the V8 heap they take (`settings.keyCacheMaxBytes`), with random eviction.
 *
 * Eviction: when the cache is full, a new record is admitted with probability
 * {@link ADMISSION_PROBABILITY} (1/16) and then replaces a record chosen at random; otherwise it is
 * used for this verification only. Least-recently-used (and CLOCK, its cheap approximation) gives
 * up the record that will be asked for next when the keys in use are walked in a cycle and do not
 * all fit — every verification then misses, as if there were no cache — and random eviction alone
 * does nearly as badly (a walk of 10× the capacity: under 1 % hits). With the admission draw the
 * cached set changes slowly, so a working set larger than the cache keeps about capacity / working
 * set of its verifications hitting whatever the order (test/server/key-cache-bound.test.ts: a
 * cycle of 2× the capacity hits in over 40 %, of 10× in over 5 %, uniform 2× in about 50 %); a key
 * in steady use still gets in after about 16 misses. Hits cost nothing (no list to reorder, no
 * bit to set) and a miss O(1) (a dense array of the records for the draw).
 *
 * The estimate per record (see {@link recordBytes}) was measured with
 * `node --expose-gc bench/key-cache-memory.mjs`: V8 heap used after filling a cache with 200 000
 * records read from a database of 200 000 keys, minus before, divided by the count; the fixed part
 * {@link RECORD_FIXED_BYTES} covers the record object, its numbers, its Map entry and array slot,
 * and the per-record strings are counted by length. The estimate is rounded up from the
 * measurement, so the heap taken stays below the bound.
 */
import {KEY_ENVIRONMENTS, type KeyEnvironment} from '../../core/key-format.js'
import type {KeyKind, VerifyResponse} from '../../core/wire.js'
import type {ApiKey, App, KeyRotationState} from '../model.js'
import type {RateLimitPolicy} from '../settings.js'
import {bucketPolicy, type EffectiveLimit} from './limits.js'

/** The app fields every verdict shows (`app` of {@link VerifyResponse}). */
export type AppView = NonNullable<VerifyResponse['app']>

/**
 * Estimated heap bytes of one record besides its own strings: the record object (16 fields), its
 * boxed numbers (fetched-at time, expiry, deadline), its entry in the Map and its slot in the
 * eviction array. From the measurement described in the module comment (≈ 200 measured,
 * rounded up).
 */
export const RECORD_FIXED_BYTES = 288

/** Estimated heap bytes of a rotation state object (three fields, two boxed numbers) besides the replacement key's id. */
export const ROTATION_FIXED_BYTES = 56

/** Estimated heap bytes of a shared app view (two objects, five strings counted by length). */
export const APP_VIEW_FIXED_BYTES = 120

/** Probability that a new record is cached when the cache is full (see the module comment). */
export const ADMISSION_PROBABILITY = 1 / 16

/** Most app views kept for sharing; beyond, the table starts over (records keep theirs). */
const MAX_SHARED_APPS = 1024

/** Key kinds, so that records share one string per kind instead of each holding the database's copy. */
const KEY_KINDS: readonly KeyKind[] = ['dev', 'ci', 'service']

/** `value` as the equal member of `known` (one shared string), or itself. */
function interned<T extends string>(value: T, known: readonly T[]): T {
  for (const candidate of known) if (candidate === value) return candidate
  return value
}

/** Heap bytes of a one-byte string of `length` characters: 12-byte header, 4-byte aligned (V8 with pointer compression). */
export function stringBytes(length: number): number {
  return 12 + Math.ceil(length / 4) * 4
}

/** A verified key's record as verification needs it: the key's verdict-relevant fields, its app's view and its bucket. */
export class KeyRecord {
  /** Index in the cache's eviction array (-1 when not cached). */
  slot = -1

  constructor(
    /** SHA-256 of the key (see `cacheId` in verify.ts): the cache's Map key. */
    readonly cacheId: string,
    /** Estimated heap bytes of this record ({@link recordBytes}). */
    readonly bytes: number,
    readonly id: string,
    readonly appSlug: string,
    readonly env: KeyEnvironment,
    readonly kind: KeyKind,
    readonly expiresAt: number | null,
    readonly revokedAt: number | null,
    readonly rotation: KeyRotationState | null,
    /** The earliest instant after which the key stops verifying (expiry or end of grace), ms, or null. */
    readonly deadline: number | null,
    /** Read from the database at, ms (injected clock). */
    readonly fetchedAt: number,
    /** Shared by every record of the app (never mutated). */
    readonly appView: AppView,
    readonly limit: EffectiveLimit,
    /** The key's token-bucket policy (shared by records with the same limit). */
    readonly policy: RateLimitPolicy,
  ) {}
}

/** Estimated heap bytes of a record of `key` cached under `cacheId`: {@link RECORD_FIXED_BYTES} plus its own strings. */
export function recordBytes(cacheId: string, key: Pick<ApiKey, 'id' | 'rotation'>): number {
  const rotation = key.rotation === null ? 0 : ROTATION_FIXED_BYTES + stringBytes(key.rotation.replacedBy.length)
  // Strings of the record alone: the cache id and the key id (also the key's bucket name in the rate-limit store).
  return RECORD_FIXED_BYTES + stringBytes(cacheId.length) + stringBytes(key.id.length) + rotation
}

/**
 * Key records by cache id, at most `maxBytes` by estimate (records plus the shared app views).
 * Not thread-safe (one event loop). Hits never change the cache.
 */
export class KeyRecordCache {
  private readonly records = new Map<string, KeyRecord>()
  /** The cache id of each key id, for invalidation by key id. */
  private readonly byKeyId = new Map<string, string>()
  /** Every cached record, densely: the draw of random eviction. */
  private readonly slots: KeyRecord[] = []
  /** App views by their content, shared by records of one app. */
  private readonly apps = new Map<string, AppView>()
  /** Token-bucket policies by limit, shared by records with the same limit. */
  private readonly policies = new Map<string, {limit: EffectiveLimit; policy: RateLimitPolicy}>()
  private recordBytesTotal = 0
  private sharedBytes = 0

  /**
   * @param maxBytes the bound (`settings.keyCacheMaxBytes`).
   * @param random a number in [0, 1) for the eviction draw; default `Math.random`.
   */
  constructor(
    readonly maxBytes: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Number of cached records. */
  get size(): number {
    return this.records.size
  }

  /** Estimated heap bytes held: records plus shared app views. Never above {@link maxBytes}. */
  get bytes(): number {
    return this.recordBytesTotal + this.sharedBytes
  }

  /** The record cached under `cacheId`, whatever its age. */
  get(cacheId: string): KeyRecord | undefined {
    return this.records.get(cacheId)
  }

  /**
   * A record of `key` of `app` read at `now`, its app view and policy shared with other records
   * when equal (not cached yet: see {@link set}).
   */
  record(cacheId: string, key: ApiKey, app: App, limit: EffectiveLimit, deadline: number | null, now: number): KeyRecord {
    const shared = this.sharedLimit(limit)
    const view = this.appView(app)
    return new KeyRecord(
      cacheId,
      recordBytes(cacheId, key),
      key.id,
      view.slug,
      interned(key.env, KEY_ENVIRONMENTS),
      interned(key.kind, KEY_KINDS),
      key.expiresAt,
      key.revokedAt,
      key.rotation === null ? null : {...key.rotation},
      deadline,
      now,
      view,
      shared.limit,
      shared.policy,
    )
  }

  /**
   * Caches `record` (replacing one with the same cache id or key id). When it does not fit in
   * {@link maxBytes} as is, it is admitted with probability {@link ADMISSION_PROBABILITY}, after
   * evicting records chosen at random until it fits.
   * @returns whether the record was cached (false: not admitted, or larger than the bound alone).
   */
  set(record: KeyRecord): boolean {
    const sameId = this.records.get(record.cacheId)
    if (sameId !== undefined) this.remove(sameId)
    this.delete(record.id)
    if (this.sharedBytes + record.bytes > this.maxBytes) return false
    if (this.bytes + record.bytes > this.maxBytes && this.random() >= ADMISSION_PROBABILITY) return false
    while (this.bytes + record.bytes > this.maxBytes && this.slots.length > 0) {
      const victim = this.slots[Math.floor(this.random() * this.slots.length)]
      if (victim !== undefined) this.remove(victim)
    }
    record.slot = this.slots.length
    this.slots.push(record)
    this.records.set(record.cacheId, record)
    this.byKeyId.set(record.id, record.cacheId)
    this.recordBytesTotal += record.bytes
    return true
  }

  /** Drops the record of key id `keyId`, if cached. */
  delete(keyId: string): void {
    const cacheId = this.byKeyId.get(keyId)
    if (cacheId === undefined) return
    const record = this.records.get(cacheId)
    if (record !== undefined) this.remove(record)
    else this.byKeyId.delete(keyId)
  }

  /** Drops every record and shared view. */
  clear(): void {
    this.records.clear()
    this.byKeyId.clear()
    this.slots.length = 0
    this.apps.clear()
    this.policies.clear()
    this.recordBytesTotal = 0
    this.sharedBytes = 0
  }

  private remove(record: KeyRecord): void {
    const last = this.slots.pop()
    if (last !== undefined && last !== record) {
      this.slots[record.slot] = last
      last.slot = record.slot
    }
    record.slot = -1
    this.records.delete(record.cacheId)
    if (this.byKeyId.get(record.id) === record.cacheId) this.byKeyId.delete(record.id)
    this.recordBytesTotal -= record.bytes
  }

  /** The app's view, shared with the other records of the same app (same content). */
  private appView(app: App): AppView {
    const id = `${app.id}\u0000${app.slug}\u0000${app.name}\u0000${app.team.slug}\u0000${app.team.name}\u0000${app.contactEmail}`
    let view = this.apps.get(id)
    if (view === undefined) {
      if (this.apps.size >= MAX_SHARED_APPS) {
        // Records keep their views; only the sharing starts over (views of evicted records go with them).
        this.apps.clear()
        this.sharedBytes = 0
      }
      view = {slug: app.slug, name: app.name, team: {slug: app.team.slug, name: app.team.name}, contactEmail: app.contactEmail}
      this.apps.set(id, view)
      this.sharedBytes += APP_VIEW_FIXED_BYTES + stringBytes(id.length) + [app.slug, app.name, app.team.slug, app.team.name, app.contactEmail].reduce((sum, s) => sum + stringBytes(s.length), 0)
    }
    return view
  }

  /** The limit and its bucket policy, shared by records with the same limit (a few distinct ones exist). */
  private sharedLimit(limit: EffectiveLimit): {limit: EffectiveLimit; policy: RateLimitPolicy} {
    const id = `${limit.limit}/${limit.windowMs}/${limit.source}`
    let shared = this.policies.get(id)
    if (shared === undefined) {
      if (this.policies.size >= MAX_SHARED_APPS) this.policies.clear()
      shared = {limit, policy: bucketPolicy(limit)}
      this.policies.set(id, shared)
    }
    return shared
  }
}
