/**
 * Usage: counts of verifications and requests per key, aggregated per
 * UTC minute, by outcome code, route template, client app, app version,
 * user-agent family and OS, and client network. Networks (IPv4 /24, IPv6 /48,
 * IPv4-mapped IPv6 as IPv4) are stored as a keyed hash — HMAC-SHA256 with a key
 * derived from the server pepper — never as an address.
 *
 * Three sources: `verify` (server-side verifications through `POST /v1/verify`),
 * `gateway` (the nginx auth-request form: one per proxied request) and `reported`
 * (batches a verifier library sends to `POST /v1/usage`). Server-side counts and
 * `last_used_at` are held in memory and written every `settings.usageFlushIntervalMs`
 * and on close; a reported batch is written before its 2xx, in one transaction
 * with `synchronous=FULL`.
 */
import {createHmac} from 'node:crypto'
import {ApikeyError} from '../../core/errors.js'
import {MAX_USAGE_EVENT_COUNT, type UsageEventRequest, type UsageIngestResponse} from '../../core/wire.js'
import {isPlausibleEpochMs} from '../../core/duration.js'
import {redactSecrets} from '../logging.js'
import {UnavailableError, validationError} from '../problems.js'
import {inDurableTransaction, inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import type {UsageCount, UsageSource} from '../repositories/usage.js'
import {DAY_MS, MINUTE_MS} from '../settings.js'
import {requireMember} from './access.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {networkOf} from './ip.js'
import {userAgentFamily, type UserAgentFamily} from './user-agent.js'

/** One event of a `POST /v1/usage` batch (as the verifier library sends it): see {@link UsageEventRequest}. Strings may be null or absent; `count` defaults to 1. */
export type UsageEventInput = UsageEventRequest

/** Context of one server-side verification, for {@link UsageService.record}. */
export interface UsageContext {
  route?: string | null | undefined
  clientApp?: string | null | undefined
  appVersion?: string | null | undefined
  userAgent?: string | null | undefined
  clientIp?: string | null | undefined
}

/** `POST /v1/usage` 200 body ({@link UsageIngestResponse}): numbers of verifications, i.e. sums of the events' `count`s. */
export type IngestResult = UsageIngestResponse

/** How long `Idempotency-Key`s of stored batches are remembered, in ms (a day). */
export const IDEMPOTENCY_WINDOW_MS = DAY_MS
/** Rule for `Idempotency-Key` values: 1–200 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/

/** One entry of a breakdown: a value and its count. */
export interface UsageBucket {
  value: string
  count: number
}

/** Usage of one key in a report. */
export interface KeyUsage {
  keyId: string
  env: string
  total: number
  byCode: Record<string, number>
}

/** `GET /v1/apps/{slug}/usage` 200 body. Counts over minutes in [since, until). */
export interface UsageReport {
  app: string
  /** Start of the range, ms since epoch (a minute boundary). */
  since: number
  /** End of the range (exclusive), ms since epoch (a minute boundary). */
  until: number
  /** Sources counted (see the module comment). */
  sources: UsageSource[]
  /** Every counted event. */
  total: number
  bySource: Record<string, number>
  byCode: Record<string, number>
  /** Per key, most used first. */
  byKey: KeyUsage[]
  /** Top values (at most {@link MAX_REPORT_VALUES}), most frequent first. */
  byRoute: UsageBucket[]
  byClientApp: UsageBucket[]
  byAppVersion: UsageBucket[]
  byUserAgentFamily: UsageBucket[]
  byUserAgentOs: UsageBucket[]
  /** Distinct client networks (IPv4 /24, IPv6 /48) seen; the networks themselves are not revealed. */
  distinctNetworks: number
}

/** Most values listed per breakdown of a report. */
export const MAX_REPORT_VALUES = 100
/** Longest stored dimension value, in characters (longer values are cut). */
export const MAX_VALUE_LENGTH = 200
/** Value stored when a dimension is absent. */
export const UNKNOWN = 'unknown'
/** Every usage source. */
export const USAGE_SOURCES: readonly UsageSource[] = ['verify', 'gateway', 'reported']

/** A printable, bounded dimension value: control characters dropped, secrets redacted, cut to {@link MAX_VALUE_LENGTH}. */
export function dimensionValue(value: string | null | undefined): string {
  if (value === undefined || value === null) return UNKNOWN
  // eslint-disable-next-line no-control-regex
  const clean = redactSecrets(value.replace(/[\u0000-\u001f\u007f]/g, '')).slice(0, MAX_VALUE_LENGTH)
  return clean === '' ? UNKNOWN : clean
}

/** Start of the UTC minute of `at` (ms). */
export function minuteOf(at: number): number {
  return Math.floor(at / MINUTE_MS) * MINUTE_MS
}

/** Identity of an aggregated count: every dimension, NUL-separated (NUL never survives {@link dimensionValue}). */
function countId(keyId: string, minute: number, source: string, code: string, route: string, clientApp: string, appVersion: string, uaFamily: string, uaOs: string, network: string): string {
  return `${keyId}\u0000${minute}\u0000${source}\u0000${code}\u0000${route}\u0000${clientApp}\u0000${appVersion}\u0000${uaFamily}\u0000${uaOs}\u0000${network}`
}

interface LastUsed {
  /** Latest use not yet written, ms. */
  pendingAt: number | undefined
  /** The last value written, ms (per the injected clock). */
  writtenAt: number
}

/** Recording, ingesting, reporting and pruning usage. */
export class UsageService {
  private pending = new Map<string, UsageCount>()
  private readonly lastUsed = new Map<string, LastUsed>()
  private readonly networkKey: Buffer
  private readonly uaCache = new Map<string, UserAgentFamily>()
  private readonly networkCache = new Map<string, string>()
  private readonly valueCache = new Map<string, string>()
  private lastPruneAt = Number.NEGATIVE_INFINITY

  constructor(private readonly ctx: ServiceContext) {
    this.networkKey = createHmac('sha256', ctx.pepper).update('apikey usage network v1', 'utf8').digest()
  }

  /**
   * The keyed hash of a client address's network (IPv4 /24, IPv6 /48, IPv4-mapped → IPv4):
   * 32 hex characters of HMAC-SHA256, or `unknown` when absent or unparsable. The same
   * network always gives the same value on one database (the key comes from its pepper).
   */
  networkHash(clientIp: string | null | undefined): string {
    if (clientIp === undefined || clientIp === null || clientIp === '') return UNKNOWN
    const cached = this.networkCache.get(clientIp)
    if (cached !== undefined) return cached
    const network = networkOf(clientIp)
    const hash = network === undefined ? UNKNOWN : createHmac('sha256', this.networkKey).update(network, 'utf8').digest('hex').slice(0, 32)
    if (this.networkCache.size >= 10_000) this.networkCache.clear()
    this.networkCache.set(clientIp, hash)
    return hash
  }

  private userAgent(userAgent: string | null | undefined): UserAgentFamily {
    if (userAgent === undefined || userAgent === null) return userAgentFamily(userAgent)
    const cached = this.uaCache.get(userAgent)
    if (cached !== undefined) return cached
    const family = userAgentFamily(userAgent)
    if (this.uaCache.size >= 10_000) this.uaCache.clear()
    this.uaCache.set(userAgent, family)
    return family
  }

  /** Adds `count` identical events into `into`, keyed by key, minute, source and the dimension values. */
  private aggregate(into: Map<string, UsageCount>, source: UsageSource, keyId: string, code: string, context: UsageContext, at: number, count = 1): void {
    const minute = minuteOf(at)
    const ua = this.userAgent(context.userAgent)
    const codeValue = this.value(code)
    const route = this.value(context.route)
    const clientApp = this.value(context.clientApp)
    const appVersion = this.value(context.appVersion)
    const network = this.networkHash(context.clientIp)
    const id = countId(keyId, minute, source, codeValue, route, clientApp, appVersion, ua.family, ua.os, network)
    const existing = into.get(id)
    if (existing !== undefined) {
      existing.count += count
      return
    }
    into.set(id, {keyId, minute, source, code: codeValue, route, clientApp, appVersion, uaFamily: ua.family, uaOs: ua.os, network, count})
  }

  /** {@link dimensionValue}, cached by input (the same few routes, apps and versions repeat). */
  private value(raw: string | null | undefined): string {
    if (raw === undefined || raw === null) return UNKNOWN
    let clean = this.valueCache.get(raw)
    if (clean === undefined) {
      clean = dimensionValue(raw)
      if (this.valueCache.size >= 10_000) this.valueCache.clear()
      this.valueCache.set(raw, clean)
    }
    return clean
  }

  /**
   * Records one server-side verification of an existing key in memory (written by
   * {@link flush}), and notes the key as used at `at`.
   */
  record(source: 'verify' | 'gateway', key: {id: string}, code: string, context: UsageContext, at: number): void {
    this.aggregate(this.pending, source, key.id, code, context, at)
    this.noteUsed(key.id, at)
  }

  /**
   * Notes that a key was used at `at` (ms). Its `last_used_at` is written by
   * {@link flush} at most once per `settings.lastUsedWriteIntervalMs` (default a minute).
   */
  noteUsed(keyId: string, at: number): void {
    const entry = this.lastUsed.get(keyId)
    if (entry === undefined) {
      if (this.lastUsed.size >= 200_000) for (const [id, e] of this.lastUsed) if (e.pendingAt === undefined) this.lastUsed.delete(id)
      this.lastUsed.set(keyId, {pendingAt: at, writtenAt: Number.NEGATIVE_INFINITY})
      return
    }
    if (at - entry.writtenAt < this.ctx.settings.lastUsedWriteIntervalMs) return
    entry.pendingAt = Math.max(entry.pendingAt ?? at, at)
  }

  /**
   * Writes usage and `last_used_at` held in memory, in one transaction; on failure they
   * are kept for the next flush (and the error is rethrown). Prunes old usage at most hourly.
   */
  async flush(): Promise<void> {
    const counts = [...this.pending.values()]
    const touches: Array<{id: string; at: number}> = []
    for (const [id, entry] of this.lastUsed) if (entry.pendingAt !== undefined) touches.push({id, at: entry.pendingAt})
    const now = this.ctx.clock.now()
    const prune = now - this.lastPruneAt >= 3_600_000
    if (counts.length === 0 && touches.length === 0 && !prune) return
    this.pending = new Map()
    try {
      await inTransaction(this.ctx.db, async (repos) => {
        await repos.usage.add(counts)
        await repos.keys.touchLastUsed(touches)
        if (prune) {
          await repos.usage.pruneBefore(now - this.ctx.settings.usageRetentionMs)
          await repos.usage.pruneBatchesBefore(now - IDEMPOTENCY_WINDOW_MS)
        }
      })
    } catch (error) {
      for (const count of counts) {
        const id = countId(count.keyId, count.minute, count.source, count.code, count.route, count.clientApp, count.appVersion, count.uaFamily, count.uaOs, count.network)
        const row = this.pending.get(id)
        if (row === undefined) this.pending.set(id, count)
        else row.count += count.count
      }
      throw error
    }
    if (prune) this.lastPruneAt = now
    for (const touch of touches) {
      const entry = this.lastUsed.get(touch.id)
      if (entry !== undefined && entry.pendingAt === touch.at) {
        entry.pendingAt = undefined
        entry.writtenAt = touch.at
      }
    }
  }

  /**
   * Deletes usage older than `settings.usageRetentionMs` (default 90 days) before `now` (ms).
   * @returns rows deleted.
   */
  async prune(now: number = this.ctx.clock.now()): Promise<number> {
    const deleted = await repositories(this.ctx.db).usage.pruneBefore(now - this.ctx.settings.usageRetentionMs)
    this.lastPruneAt = now
    return deleted
  }

  /**
   * Stores a batch reported by a verifier (`POST /v1/usage`) in one durable transaction
   * (`synchronous=FULL`): either every count is written or none. An event stands for
   * `count` identical verifications (default 1) and adds exactly `count` to its row; the
   * numbers of the answer are verifications (sums of counts). Events without a known
   * key id are counted as unattributed; events older than the retention or more than a
   * day ahead are skipped. With an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header),
   * a batch this verifier already sent under the same key within a day is not counted again:
   * the answer is the first one with `duplicate: true`.
   * @param batch.verifierId the sending verifier; batch.idempotencyKey its key for this batch, if any.
   * @throws ApikeyError `validation` when the batch holds more than `settings.maxUsageBatch` events,
   *   an event's `count` is not an integer in [1, {@link MAX_USAGE_EVENT_COUNT}],
   *   or the idempotency key breaks {@link IDEMPOTENCY_KEY_PATTERN};
   *   {@link UnavailableError} (503) when the write fails — nothing of the batch is stored.
   */
  async ingest(events: UsageEventInput[], batch: {verifierId: string; idempotencyKey?: string | undefined} = {verifierId: ''}): Promise<IngestResult> {
    if (events.length > this.ctx.settings.maxUsageBatch) throw validationError('events', `at most ${this.ctx.settings.maxUsageBatch} events per batch`)
    const idempotencyKey = batch.idempotencyKey
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) throw validationError('Idempotency-Key', '1–200 printable ASCII characters')
    let received = 0
    for (const event of events) {
      const count = event.count ?? 1
      if (!Number.isInteger(count) || count < 1 || count > MAX_USAGE_EVENT_COUNT) throw validationError('count', `an integer from 1 to ${MAX_USAGE_EVENT_COUNT}`)
      received += count
    }
    let duplicate: IngestResult | undefined
    const now = this.ctx.clock.now()
    const oldest = now - this.ctx.settings.usageRetentionMs
    const newest = now + DAY_MS
    const ids = [...new Set(events.map((e) => e.keyId).filter((id): id is string => typeof id === 'string' && id !== ''))]
    let stored = 0
    let unattributed = 0
    let skipped = 0
    const used = new Map<string, number>()
    let written: Array<{id: string; at: number}> = []
    try {
      await inDurableTransaction(this.ctx.db, async (repos) => {
        if (idempotencyKey !== undefined) {
          const stored = await repos.usage.findBatch(batch.verifierId, idempotencyKey)
          if (stored !== undefined) {
            duplicate = {...(JSON.parse(stored) as IngestResult), duplicate: true}
            return
          }
        }
        const appIds = await repos.keys.appIdsOf(ids)
        const rows = new Map<string, UsageCount>()
        for (const event of events) {
          const count = event.count ?? 1
          const appId = typeof event.keyId === 'string' ? appIds.get(event.keyId) : undefined
          if (event.keyId === undefined || event.keyId === null || appId === undefined) {
            unattributed += count
            continue
          }
          if (!Number.isFinite(event.at) || event.at < oldest || event.at > newest) {
            skipped += count
            continue
          }
          // A verifier's cache miss was answered by POST /v1/verify, which already counted it
          // (source `verify`, same context): counting the report too would double it.
          if (event.source === 'service') {
            skipped += count
            continue
          }
          this.aggregate(rows, 'reported', event.keyId, event.code, event, event.at, count)
          used.set(event.keyId, Math.max(used.get(event.keyId) ?? 0, event.at))
          stored += count
        }
        await repos.usage.add([...rows.values()])
        // Within the transaction: a failure here leaves nothing of the batch behind.
        written = [...used].filter(([id]) => this.shouldWriteLastUsed(id)).map(([id, at]) => ({id, at}))
        await repos.keys.touchLastUsed(written)
        if (idempotencyKey !== undefined) {
          await repos.usage.recordBatch(batch.verifierId, idempotencyKey, now, JSON.stringify({received, stored, unattributed, skipped}))
        }
      })
      if (duplicate !== undefined) return duplicate
      for (const {id, at} of written) this.markWritten(id, at)
    } catch (error) {
      if (error instanceof ApikeyError) throw error
      // A concurrent retry of the same batch committed first: answer as a duplicate.
      if (idempotencyKey !== undefined && isUniqueViolation(error)) {
        const stored = await repositories(this.ctx.db).usage.findBatch(batch.verifierId, idempotencyKey).catch(() => undefined)
        if (stored !== undefined) return {...(JSON.parse(stored) as IngestResult), duplicate: true}
      }
      throw new UnavailableError('the usage batch could not be stored; nothing of it was kept — send it again', {cause: error, retryAfterSeconds: 1})
    }
    return {received, stored, unattributed, skipped}
  }

  private shouldWriteLastUsed(keyId: string): boolean {
    const entry = this.lastUsed.get(keyId)
    return entry === undefined || this.ctx.clock.now() - entry.writtenAt >= this.ctx.settings.lastUsedWriteIntervalMs
  }

  private markWritten(keyId: string, at: number): void {
    const entry = this.lastUsed.get(keyId)
    if (entry === undefined) this.lastUsed.set(keyId, {pendingAt: undefined, writtenAt: at})
    else if (at >= entry.writtenAt) entry.writtenAt = at
  }

  /**
   * Usage of an app's keys over minutes in [since, until) — members of the owning team
   * (and admins) only. Flushes in-memory usage first. Default range: the last 24 hours.
   * @param query.since, query.until ms since epoch (rounded down to minutes).
   * @param query.sources which sources to count; default all.
   * @throws ApikeyError `validation` (range) | `not_found` | `forbidden` naming the owning team.
   */
  async report(principal: Principal, slug: string, query: {since?: number | undefined; until?: number | undefined; sources?: UsageSource[] | undefined}): Promise<UsageReport> {
    const repos = repositories(this.ctx.db)
    const app = await repos.apps.findBySlug(slug)
    if (app === undefined) throw appNotFound(slug)
    if (!principal.user.isAdmin) await requireMember(repos, principal, app, 'see its usage')
    const now = this.ctx.clock.now()
    const until = query.until ?? minuteOf(now) + MINUTE_MS
    const since = query.since ?? until - DAY_MS
    for (const [field, value] of [['since', query.since], ['until', query.until]] as const) {
      if (value !== undefined && value !== 0 && !isPlausibleEpochMs(value)) throw validationError(field, `milliseconds since the Unix epoch (UTC); ${value} is not a plausible instant (seconds by mistake?)`)
    }
    if (since >= until) throw validationError('since', 'must be before until')
    await this.flush().catch(() => undefined)
    const sources = query.sources ?? [...USAGE_SOURCES]
    const range = {appId: app.id, since: minuteOf(since), until: minuteOf(until), sources}
    const usage = repos.usage
    const keys = new Map((await repos.keys.listForApp(app.id)).map((k) => [k.id, k]))
    const bySource: Record<string, number> = {}
    const byCode: Record<string, number> = {}
    const perKey = new Map<string, KeyUsage>()
    let total = 0
    for (const sum of await usage.totals(range)) {
      total += sum.count
      bySource[sum.source] = (bySource[sum.source] ?? 0) + sum.count
      byCode[sum.code] = (byCode[sum.code] ?? 0) + sum.count
      let entry = perKey.get(sum.keyId)
      if (entry === undefined) {
        entry = {keyId: sum.keyId, env: keys.get(sum.keyId)?.env ?? UNKNOWN, total: 0, byCode: {}}
        perKey.set(sum.keyId, entry)
      }
      entry.total += sum.count
      entry.byCode[sum.code] = (entry.byCode[sum.code] ?? 0) + sum.count
    }
    return {
      app: app.slug,
      since: range.since,
      until: range.until,
      sources,
      total,
      bySource,
      byCode,
      byKey: [...perKey.values()].sort((a, b) => b.total - a.total || (a.keyId < b.keyId ? -1 : 1)),
      byRoute: await usage.top(range, 'route', MAX_REPORT_VALUES),
      byClientApp: await usage.top(range, 'client_app', MAX_REPORT_VALUES),
      byAppVersion: await usage.top(range, 'app_version', MAX_REPORT_VALUES),
      byUserAgentFamily: await usage.top(range, 'ua_family', MAX_REPORT_VALUES),
      byUserAgentOs: await usage.top(range, 'ua_os', MAX_REPORT_VALUES),
      distinctNetworks: await usage.distinctNetworks(range, UNKNOWN),
    }
  }
}
