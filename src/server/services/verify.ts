/**
 * Key verification for protected APIs (`POST /v1/verify` and its nginx
 * auth-request form; contract in src/core/wire.ts, "Verification, rate limits
 * and usage"). Order of checks, cheapest and safest first:
 *
 * 1. shape — empty, longer than {@link MAX_KEY_LENGTH}, or any character outside
 *    the key alphabet (control characters, spaces: never trimmed) → MALFORMED,
 *    no store lookup;
 * 2. offline parse with checksum (`parseKey`) → MALFORMED, no store lookup;
 * 3. lookup by HMAC-SHA256(pepper, key) → NOT_FOUND / REVOKED / EXPIRED (a rotated
 *    key is VALID until its grace ends; `expiresAt` is the earliest deadline);
 * 4. the asking verifier's environment scope (`apikey server verifiers add NAME --env prod`)
 *    → FORBIDDEN for a key of another environment, without touching the key's bucket;
 *    checked on every request with the verifier that asks (key records are cached per key,
 *    for every verifier, so the scope is never part of them);
 * 5. the key's token bucket (atomic take; named by the key id, `key_…`) → RATE_LIMITED with real numbers.
 *
 * MALFORMED and NOT_FOUND answers also take a token from the client address's
 * failure bucket (`fail:<address>`); when it is empty they become RATE_LIMITED (a flood of unknown
 * keys from one address is limited, valid keys from it still pass).
 *
 * Rate-limit store failures follow `settings.rateLimitStoreFailure` within
 * `settings.rateLimitStoreTimeoutMs` for keys that exist; MALFORMED and
 * NOT_FOUND are answered even when the failure bucket cannot be read (a rejection
 * needs no limiter). Database failures throw
 * {@link UnavailableError} (503) — never a verdict.
 *
 * NOT_FOUND and REVOKED reveal nothing about the owning app or team (`app: null`);
 * VALID, EXPIRED, FORBIDDEN and RATE_LIMITED carry them so the protected API can
 * attribute the request and tell its caller whom to ask.
 */
import {hash} from 'node:crypto'
import {MAX_KEY_LENGTH, parseKey, type KeyEnvironment} from '../../core/key-format.js'
import {replacementCommand} from '../../core/replacement-command.js'
import type {VerifyCode, VerifyContext, VerifyResponse} from '../../core/wire.js'
import type {ApiKey, Verifier} from '../model.js'
import {UnavailableError} from '../problems.js'
import {repositories} from '../repositories/index.js'
import {DAY_MS, getKeyCommandOf, type RateLimitPolicy} from '../settings.js'
import type {ServiceContext} from './context.js'
import {keyHash} from './crypto.js'
import {parseIp} from './ip.js'
import type {LifecycleEvents} from './lifecycle.js'
import {KeyRecordCache, type KeyRecord} from './key-cache.js'
import {effectiveLimit} from './limits.js'
import {bucketState, clientAddressKey, type BucketTake, type RateLimitStore} from './rate-limit.js'
import type {UsageService} from './usage.js'
import {joinOr} from './verifiers.js'
import {keyStatus} from './views.js'

/** Characters a key can contain; anything else is MALFORMED before parsing. */
const KEY_ALPHABET = /^[A-Za-z0-9_-]+$/
/** A VALID key expiring within this many ms gets a rotate suggestion. */
export const EXPIRY_WARNING_MS = 14 * DAY_MS

/** Minimal logger (Fastify's, in the app). */
export interface VerifyLogger {
  warn(object: Record<string, unknown>, message: string): void
}

/** The key fields a verdict needs (a cached {@link KeyRecord} has them). */
type VerdictKey = Pick<ApiKey, 'id' | 'appSlug' | 'env' | 'kind' | 'expiresAt' | 'revokedAt' | 'rotation'>

/** What verification needs of the verifier that asks: its name (for messages) and its environment scope. */
export type VerifierScope = Pick<Verifier, 'name' | 'allowedEnvs'>

/** Input of {@link VerifyService.verify}. */
export interface VerifyInput {
  /** The key exactly as received (never trimmed). */
  key: string
  /**
   * The authenticated verifier that asks (`request.verifier`). A key that exists, is neither
   * revoked nor expired, and whose environment is outside `allowedEnvs` (when not null) is
   * FORBIDDEN for this verifier.
   */
  verifier: VerifierScope
  context?: VerifyContext | undefined
  /** Which route asks: `verify` (POST /v1/verify) or `gateway` (auth-request form). */
  source: 'verify' | 'gateway'
  /**
   * Address for the failure bucket when `context.clientIp` is absent or does not parse:
   * the request's address as Fastify resolved it (trusted proxies only).
   */
  requestIp: string
  /**
   * A problem found before the key could be read (e.g. two different keys in one request,
   * a key in the URL): answered as MALFORMED with this message, without any lookup.
   */
  rejection?: string | undefined
}

/**
 * Cache id of a key: its SHA-256 as a 32-character binary (`binary`, i.e. latin1) string — the most compact
 * string form of the digest — so raw keys are never held as map keys (as in the verifier
 * library). Unpeppered is fine here: it never leaves memory, and costs a fraction of the HMAC
 * that finds the key in the database.
 */
export function cacheId(plaintext: string): string {
  return hash('sha256', plaintext, 'binary')
}

/** Most audit events read in one cache sync; more means "drop everything". */
const SYNC_BATCH = 1000

/** Verdicts that count against the client address's failure bucket. */
const FAILURES: ReadonlySet<VerifyCode> = new Set(['MALFORMED', 'NOT_FOUND'])

/** Checks keys for protected APIs. One per app; holds the key-record cache and the buckets. */
export class VerifyService {
  /** Key records by SHA-256 of the key (see {@link cacheId}), at most `settings.keyCacheMaxBytes` (see key-cache.ts). */
  private readonly records: KeyRecordCache
  /** Bumped by every invalidation: a record read while it changed is not cached (it may predate the change). */
  private generation = 0
  /** Audit-log id up to which changes are reflected in the cache (undefined: not read yet). */
  private syncedThrough: number | undefined
  /** When the audit log was last read (injected clock, ms). */
  private lastSyncAt = Number.NEGATIVE_INFINITY
  /** The audit-log read in flight, which verifications wait for. */
  private syncing: Promise<void> | undefined

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: RateLimitStore,
    private readonly usage: UsageService,
    private readonly log: VerifyLogger,
    events?: LifecycleEvents,
  ) {
    this.records = new KeyRecordCache(ctx.settings.keyCacheMaxBytes)
    events?.subscribe((event) => this.invalidate(event.keyIds))
  }

  /** Drops cached records of these keys (all when omitted): after lifecycle changes and limit overrides. */
  invalidate(keyIds?: string[]): void {
    this.generation++
    if (keyIds === undefined) {
      this.records.clear()
      return
    }
    for (const id of keyIds) this.records.delete(id)
  }

  /**
   * Verifies a key (see the module comment for the order of checks).
   * @returns the verdict; `rateLimit` is filled for VALID and RATE_LIMITED (null when the
   *   store failed and the policy is `open`).
   * @throws UnavailableError (503) when the database fails, or the rate-limit store fails
   *   and `settings.rateLimitStoreFailure` is `closed`.
   */
  async verify(input: VerifyInput): Promise<VerifyResponse> {
    const now = this.ctx.clock.now()
    const sync = this.syncIfDue(now)
    if (sync !== undefined) await sync
    const context = input.context ?? {}
    // The failure bucket's address; only MALFORMED and NOT_FOUND need it.
    const clientIp = (): string => (context.clientIp !== undefined && parseIp(context.clientIp) !== undefined ? context.clientIp : input.requestIp)
    // A key found in the cache was well-formed and known when it was stored there: no shape check, parse or hash again.
    const id = input.rejection === undefined ? this.cacheIdOf(input.key) : undefined
    let record = id === undefined ? undefined : this.cached(id, now)
    if (record === undefined) {
      const getKey = getKeyCommandOf(this.ctx.settings)
      const early = input.rejection !== undefined ? {message: input.rejection, suggestions: [getKey]} : shapeProblem(input.key, getKey)
      if (early !== undefined) return this.failure('MALFORMED', early.message, early.suggestions, clientIp, now)
      const parsed = parseKey(input.key, this.ctx.settings.keyPrefix)
      if (!parsed.valid) {
        const parts = [...new Set(parsed.problems.map((p) => p.part))].join(', ')
        return this.failure('MALFORMED', `the API key is malformed (${parts}): it was mistyped, truncated or edited. Get your own key: ${getKey}`, [getKey], clientIp, now)
      }
      record = await this.lookup(input.key, id, now)
      if (record === undefined) {
        return this.failure('NOT_FOUND', `this API key is not known to the key service (never issued here, or deleted). Get your own key: ${getKey}`, [getKey], clientIp, now)
      }
    }
    // The record holds every key field a verdict needs (a compact copy of the key row).
    const key = record
    const status = keyStatus(key, now)
    const deadline = record.deadline
    let verdict: VerifyResponse
    if (status === 'revoked') {
      const command = this.replacement(key, 'revoked')
      verdict = this.verdict('REVOKED', null, key, {
        message: `this API key was revoked at ${new Date(key.revokedAt ?? now).toISOString()}. Get a new key: ${command}`,
        suggestions: [command],
      })
    } else if (status === 'expired') {
      const rotated = key.rotation !== null ? ` It was rotated and replaced by ${key.rotation.replacedBy}: switch to the new key.` : ''
      verdict = this.verdict('EXPIRED', record.appView, key, {
        message: `this API key expired at ${new Date(deadline ?? now).toISOString()}.${rotated} Get a new key: ${this.replacement(key, 'expired')}`,
        suggestions: [this.replacement(key, 'expired')],
        expiresAt: deadline,
      })
    } else if (input.verifier.allowedEnvs !== null && !input.verifier.allowedEnvs.includes(key.env)) {
      verdict = this.forbidden(record, input.verifier)
    } else {
      verdict = await this.limited(record, now)
    }
    // Usage counts the client's network only when the caller named the client (never the verifier's own address).
    this.usage.record(input.source, key, verdict.code, context, now)
    return verdict
  }

  /** The command that replaces an ended key: by its kind, app and environment (see {@link replacementCommand}). */
  private replacement(key: VerdictKey, status: 'expired' | 'revoked'): string {
    return replacementCommand({kind: key.kind, app: key.appSlug, env: key.env, status}, getKeyCommandOf(this.ctx.settings))
  }

  /**
   * FORBIDDEN: the key is genuine but of an environment this verifier does not accept. The owner
   * is named (the caller may know whose key it is), no token is taken from the key's bucket, and
   * the message names the command that issues a key of an accepted environment.
   */
  private forbidden(record: KeyRecord, verifier: VerifierScope): VerifyResponse {
    const {appView} = record
    const key = record
    const allowed = verifier.allowedEnvs ?? []
    const suggestions = allowed.map((env) => `apikey keys create --app ${appView.slug} --env ${env}`)
    const accepts = allowed.length === 0 ? 'accepts no key environment this key service knows' : `accepts only ${joinOr(allowed)} keys`
    const fix =
      suggestions.length === 0
        ? 'Ask the key service admin to check the verifier\'s scope.'
        : `Get a ${joinOr(allowed)} key: ${suggestions[0]}${allowed.length > 1 ? ` (or ${allowed.slice(1).map((env) => `--env ${env}`).join(', ')})` : ''}`
    return this.verdict('FORBIDDEN', appView, key, {
      message: `this is a ${key.env} key of ${appView.slug}; the protected API behind verifier "${verifier.name}" ${accepts}. ${fix}`,
      suggestions,
    })
  }

  /** VALID or RATE_LIMITED after taking a token from the key's bucket. */
  private async limited(record: KeyRecord, now: number): Promise<VerifyResponse> {
    const {appView, limit, policy, deadline} = record
    const key = record
    const take = await this.take(record.id, policy, now)
    const rateLimit = take === undefined ? null : bucketState(take, policy)
    if (take !== undefined && !take.allowed) {
      const retry = rateLimit?.retryAfterSeconds ?? 1
      return this.verdict('RATE_LIMITED', appView, key, {
        message: `this key made more than ${limit.limit} requests in ${describeWindow(limit.windowMs)}; retry in ${retry} s. Limits are per key: every app gets its own (${getKeyCommandOf(this.ctx.settings)}).`,
        suggestions: [],
        expiresAt: deadline,
        rateLimit,
      })
    }
    if (key.rotation === null && (deadline === null || deadline - now > EXPIRY_WARNING_MS)) {
      return this.verdict('VALID', appView, key, {message: 'the API key is valid', suggestions: [], expiresAt: deadline, rateLimit})
    }
    const notes: string[] = []
    const suggestions: string[] = []
    if (key.rotation !== null) {
      notes.push(`it was rotated and stops working at ${new Date(key.rotation.graceEndsAt).toISOString()}: switch to the new key ${key.rotation.replacedBy}`)
    } else if (deadline !== null && deadline - now <= EXPIRY_WARNING_MS) {
      notes.push(`it expires at ${new Date(deadline).toISOString()}`)
      suggestions.push(`apikey keys rotate ${key.id}`)
    }
    return this.verdict('VALID', appView, key, {
      message: notes.length === 0 ? 'the API key is valid' : `the API key is valid; ${notes.join('; ')}`,
      suggestions,
      expiresAt: deadline,
      rateLimit,
    })
  }

  /** MALFORMED / NOT_FOUND, turned into RATE_LIMITED when the address's failure bucket is empty. */
  private async failure(code: 'MALFORMED' | 'NOT_FOUND', message: string, suggestions: string[], clientIp: () => string, now: number): Promise<VerifyResponse> {
    const policy = this.ctx.settings.verifyFailureLimitPerIp
    // A rejection is safe to give without the limiter: its store failing never turns it into "unavailable".
    const take = FAILURES.has(code) ? await this.take(`fail:${clientAddressKey(clientIp())}`, policy, now, 'open') : undefined
    if (take !== undefined && !take.allowed) {
      const rateLimit = bucketState(take, policy)
      return this.verdict('RATE_LIMITED', null, null, {
        message: `too many invalid API keys from this address; retry in ${rateLimit.retryAfterSeconds ?? 1} s. Get your own key: ${getKeyCommandOf(this.ctx.settings)}`,
        suggestions: [getKeyCommandOf(this.ctx.settings)],
        rateLimit,
      })
    }
    return this.verdict(code, null, null, {message, suggestions})
  }

  private verdict(
    code: VerifyCode,
    app: VerifyResponse['app'],
    key: VerdictKey | null,
    extra: {message: string; suggestions: string[]; expiresAt?: number | null; rateLimit?: VerifyResponse['rateLimit']},
  ): VerifyResponse {
    return {
      valid: code === 'VALID',
      code,
      app,
      team: app === null ? null : app.team.slug,
      env: key === null ? null : (key.env as KeyEnvironment),
      keyId: key === null ? null : key.id,
      expiresAt: extra.expiresAt ?? null,
      rateLimit: extra.rateLimit ?? null,
      message: extra.message,
      suggestions: extra.suggestions,
      // The service's own docs page is per request (its URL): the route fills it in when no URL is configured.
      docsUrl: this.ctx.settings.docsUrl ?? '',
      getKeyCommand: getKeyCommandOf(this.ctx.settings),
      ...(key === null ? {} : {keyKind: key.kind}),
    }
  }

  /**
   * Every `settings.keyCacheSyncMs`, reads the audit log for changes committed since the
   * last read — by any process on this database — and drops the cached records they
   * affect: `key.*` events by key id; `app.*` events (transfer, app-wide limit) drop every
   * record. Verifications meanwhile wait for the read, so no verdict comes from a record
   * older than the last read. When the log cannot be read, the whole cache is dropped.
   * @returns the read to wait for, or undefined when none is due or running (no promise on the hot path).
   */
  private syncIfDue(now: number): Promise<void> | undefined {
    if (this.ctx.settings.keyCacheMs === 0) return undefined
    if (this.syncing === undefined && (now - this.lastSyncAt >= this.ctx.settings.keyCacheSyncMs || now < this.lastSyncAt)) {
      this.lastSyncAt = now
      this.syncing = this.sync().finally(() => {
        this.syncing = undefined
      })
    }
    return this.syncing
  }

  private async sync(): Promise<void> {
    try {
      const audit = repositories(this.ctx.readDb).audit
      if (this.syncedThrough === undefined) {
        this.syncedThrough = await audit.lastId()
        this.invalidate()
        return
      }
      const changes = await audit.changesAfter(this.syncedThrough, SYNC_BATCH)
      if (changes.length === SYNC_BATCH) {
        this.invalidate()
        this.syncedThrough = await audit.lastId()
        return
      }
      for (const change of changes) {
        if (change.action.startsWith('key.') && change.targetType === 'key' && change.targetId !== null) this.invalidate([change.targetId])
        else if (change.action.startsWith('key.') || (change.action.startsWith('app.') && change.action !== 'app.create')) this.invalidate()
        this.syncedThrough = change.id
      }
    } catch (error) {
      this.log.warn({err: error}, 'reading the audit log for key changes failed; dropping the key-record cache')
      this.invalidate()
      this.syncedThrough = undefined
    }
  }

  /** The cache id of a key ({@link cacheId}), or undefined when the cache is off or the key too long to be one. */
  private cacheIdOf(plaintext: string): string | undefined {
    return this.ctx.settings.keyCacheMs > 0 && plaintext.length <= MAX_KEY_LENGTH ? cacheId(plaintext) : undefined
  }

  /** The cached record under `id` when it is at most `settings.keyCacheMs` old (injected clock), else undefined. */
  private cached(id: string, now: number): KeyRecord | undefined {
    const cached = this.records.get(id)
    return cached !== undefined && now - cached.fetchedAt < this.ctx.settings.keyCacheMs && now >= cached.fetchedAt ? cached : undefined
  }

  /**
   * The key's record from the database (by HMAC-SHA256 of the key with the pepper), kept
   * in the cache under `id` (its {@link cacheIdOf}; undefined: not cached).
   */
  private async lookup(plaintext: string, id: string | undefined, now: number): Promise<KeyRecord | undefined> {
    let record: KeyRecord | undefined
    const generation = this.generation
    try {
      const found = await repositories(this.ctx.readDb).keys.findForVerification(keyHash(this.ctx.pepper, plaintext))
      if (found === undefined) return undefined
      const {key, app} = found
      record = this.records.record(id ?? '', key, app, effectiveLimit(this.ctx.settings, key.env, found.overrides), deadlineOf(key), now)
    } catch (error) {
      throw new UnavailableError('verification is unavailable: the key store failed; try again shortly', {cause: error, retryAfterSeconds: 1})
    }
    if (id !== undefined && generation === this.generation) this.records.set(record)
    return record
  }

  /**
   * One atomic take with the store-failure policy: a synchronous store answers at once;
   * an asynchronous one must answer within `settings.rateLimitStoreTimeoutMs`.
   * @returns the take, or undefined when the store failed and the policy is `open`.
   * @throws UnavailableError when the store failed and the policy is `closed`.
   */
  private async take(bucket: string, policy: RateLimitPolicy, now: number, onFailure = this.ctx.settings.rateLimitStoreFailure): Promise<BucketTake | undefined> {
    try {
      const result = this.store.take(bucket, policy, now)
      return isPromise(result) ? await withDeadline(result, this.ctx.settings.rateLimitStoreTimeoutMs) : result
    } catch (error) {
      this.log.warn({err: error, policy: onFailure}, 'the rate-limit store failed; applying the store-failure policy')
      if (onFailure === 'closed') {
        throw new UnavailableError('verification is unavailable: the rate limiter failed; try again shortly', {cause: error, retryAfterSeconds: 1})
      }
      return undefined
    }
  }
}

/**
 * Why a key is MALFORMED by its shape alone (no parse, no lookup), or undefined.
 * Empty is "missing key" with the how-to-get-one message.
 */
export function shapeProblem(key: unknown, getKeyCommand: string): {message: string; suggestions: string[]} | undefined {
  if (typeof key !== 'string' || key === '') return {message: `no API key was sent. Get your own key: ${getKeyCommand}`, suggestions: [getKeyCommand]}
  if (key.length > MAX_KEY_LENGTH) return {message: `the API key is ${key.length} characters long; keys are at most ${MAX_KEY_LENGTH}. Get your own key: ${getKeyCommand}`, suggestions: [getKeyCommand]}
  if (!KEY_ALPHABET.test(key)) {
    const what = /^\s|\s$/.test(key) ? 'leading or trailing whitespace (send the key exactly as issued)' : /[\u0000-\u001f\u007f]/.test(key) ? 'control characters' : 'characters outside letters, digits, "_" and "-"'
    return {message: `the API key contains ${what}. Get your own key: ${getKeyCommand}`, suggestions: [getKeyCommand]}
  }
  return undefined
}

/** The earliest instant after which a key stops verifying: expiry or end of a rotation grace (ms), or null. */
export function deadlineOf(key: Pick<ApiKey, 'expiresAt' | 'rotation'>): number | null {
  const candidates = [key.expiresAt, key.rotation?.graceEndsAt ?? null].filter((t): t is number => t !== null)
  return candidates.length === 0 ? null : Math.min(...candidates)
}

function describeWindow(windowMs: number): string {
  if (windowMs % 60_000 === 0) return windowMs === 60_000 ? 'a minute' : `${windowMs / 60_000} minutes`
  if (windowMs % 1000 === 0) return windowMs === 1000 ? 'a second' : `${windowMs / 1000} seconds`
  return `${windowMs} ms`
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as {then?: unknown} | null)?.then === 'function'
}

/** Resolves with `promise`, or rejects after `ms` milliseconds of wall time. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the rate-limit store did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** Path segments that look like ids (numbers, UUIDs, hex, long mixed tokens) become `:id`. */
const ID_SEGMENT = /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|(?=.*\d)[A-Za-z0-9_~.-]{16,})$/i

/**
 * A route template from a concrete request URI, for usage reports when the gateway
 * gives none (`X-Route-Template`): the path without query string, id-like segments
 * replaced by `:id`, at most 12 segments. E.g. `/v1/users/1234/orders?x=1` → `/v1/users/:id/orders`.
 */
export function routeTemplateOf(uri: string | undefined): string | undefined {
  if (uri === undefined || uri === '') return undefined
  const path = uri.split(/[?#]/)[0] ?? ''
  const segments = path.split('/').slice(1, 13)
  return `/${segments.map((segment) => (ID_SEGMENT.test(segment) ? ':id' : segment)).join('/')}`
}
