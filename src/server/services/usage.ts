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
 *
 * Counts are kept per minute, hour and day (dimension values as integer ids, hours
 * and days also as per-app facets); {@link UsageService.maintain} rolls closed hours
 * and days up and deletes what retention no longer keeps, and reports read the
 * coarsest level that answers ({@link planUsageRange}). docs/architecture.md
 * ("Usage storage, rollups and reports") describes the layout and its guarantees.
 */
import {createHmac} from 'node:crypto'
import {ApikeyError} from '../../core/errors.js'
import {MAX_USAGE_EVENT_COUNT, type UsageEventRequest, type UsageIngestResponse} from '../../core/wire.js'
import {isPlausibleEpochMs} from '../../core/duration.js'
import {redactSecrets} from '../logging.js'
import {UnavailableError, validationError} from '../problems.js'
import {inDurableTransaction, inReadTransaction, inTransaction, isUniqueViolation, isWriterQueueFull, repositories, type Repositories} from '../repositories/index.js'
import {FACET, LEVEL_MINUTES, type EncodedCount, type FacetRow, type ReportLevel, type UsageCount, type UsageLevel, type UsageMarks, type UsagePart, type UsageSource} from '../repositories/usage.js'
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

/** One part of a report's range and the level it was read from: buckets in [since, until), ms since epoch. */
export interface UsageReportPart {
  /** `week` parts are read from weekly per-app facets (weeks start on Thursdays, as the epoch does). */
  level: ReportLevel
  since: number
  until: number
}

/**
 * `GET /v1/apps/{slug}/usage` 200 body. Counts over [since, until): the range actually
 * covered, which is the requested one rounded to minutes, or widened to whole hours or days
 * where minutes or hours are no longer kept (`resolution`), and cut to what is still kept.
 */
export interface UsageReport {
  app: string
  /** Start of the range covered, ms since epoch (a minute, hour or day boundary, see `resolution`). */
  since: number
  /** End of the range covered (exclusive), ms since epoch. */
  until: number
  /** The range as asked (or defaulted), ms since epoch. */
  requested: {since: number; until: number}
  /** What the edges of the covered range are aligned to: `minute` when only rounded to minutes; `hour` or `day` when widened to them. */
  resolution: UsageLevel
  /** Where the counts came from: consecutive parts of [since, until), each read from one level (coarsest first where it answers). */
  parts: UsageReportPart[]
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
/** Most value ids kept in memory (ids never change once committed; the cache starts over when full). */
const VALUE_CACHE_SIZE = 100_000
/** Keys whose last use is remembered (to write `last_used_at` at most once per `settings.lastUsedWriteIntervalMs`) before written ones are forgotten. */
const LAST_USED_ENTRIES = 200_000

/** Work done by one {@link UsageService.maintain} pass. */
export interface MaintenanceResult {
  /** Hours of minutes added into `usage_hour` (hours without usage are skipped and not counted). */
  hoursRolled: number
  /** Days of hours added into `usage_day`. */
  daysRolled: number
  /** Weeks of day facets added into `usage_facet_week`. */
  weeksRolled: number
  /** Rows deleted per level. */
  pruned: Record<UsageLevel, number>
  /** Retention transactions run. */
  pruneBatches: number
}

/** Floor of `value` to a multiple of `unit`. */
function floorTo(value: number, unit: number): number {
  return Math.floor(value / unit) * unit
}

/** Ceiling of `value` to a multiple of `unit`. */
function ceilTo(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit
}

/** The facet counts of encoded rows, bucketed to `width` minutes; rows of keys without an app are left out. */
function facetsOf(rows: EncodedCount[], width: number, appOf: (keyId: number) => string | undefined): FacetRow[] {
  const out = new Map<string, FacetRow>()
  for (const r of rows) {
    const appId = appOf(r[1])
    if (appId === undefined) continue
    const minute = Math.floor(r[0] / width) * width
    const facets: Array<[number, number, number]> = [
      [FACET.key, r[1], r[3]],
      [FACET.route, r[4], 0],
      [FACET.clientApp, r[5], 0],
      [FACET.appVersion, r[6], 0],
      [FACET.uaFamily, r[7], 0],
      [FACET.uaOs, r[8], 0],
      [FACET.network, r[9], 0],
    ]
    for (const [facet, value, code] of facets) {
      const id = `${appId}\u0000${minute}\u0000${r[2]}\u0000${facet}\u0000${value}\u0000${code}`
      const existing = out.get(id)
      if (existing === undefined) out.set(id, {appId, minute, source: r[2], facet, value, code, count: r[10]})
      else existing.count += r[10]
    }
  }
  return [...out.values()]
}

const HOUR_MIN = LEVEL_MINUTES.hour
const DAY_MIN = LEVEL_MINUTES.day
const WEEK_MIN = LEVEL_MINUTES.week
const LEVEL_ORDER: Record<UsageLevel, number> = {minute: 0, hour: 1, day: 2}

/**
 * Which levels answer buckets [since, until) (minutes since the epoch), given the rollup and
 * retention progress: whole weeks from week facets where weeks are rolled, whole days from
 * `usage_day` where days are rolled, whole hours from `usage_hour` where hours are rolled, the
 * rest from `usage_minute`. An edge that falls where
 * minutes (hours) are no longer kept is widened to its hour (day); the start is cut to
 * `oldest` (a day boundary: what retention keeps).
 * @returns the covered range, its resolution and its parts (empty when the range is).
 */
export function planUsageRange(since: number, until: number, marks: UsageMarks, oldest: number): {since: number; until: number; resolution: UsageLevel; parts: UsagePart[]} {
  const hoursFrom = marks.hoursFrom ?? 0
  const daysFrom = marks.daysFrom ?? 0
  const weeksFrom = marks.weeksFrom ?? 0
  let s = Math.max(since, oldest, marks.dayPrunedBefore)
  let u = Math.max(until, s)
  let resolution: UsageLevel = 'minute'
  const widen = (level: UsageLevel) => {
    if (LEVEL_ORDER[level] > LEVEL_ORDER[resolution]) resolution = level
  }
  // An edge where hours are gone needs a whole day; where only minutes are gone, a whole hour.
  if (s < marks.hourPrunedBefore) {
    if (s % DAY_MIN !== 0) (s = floorTo(s, DAY_MIN)), widen('day')
  } else if (s < marks.minutePrunedBefore && s % HOUR_MIN !== 0) (s = floorTo(s, HOUR_MIN)), widen('hour')
  if (u < marks.hourPrunedBefore) {
    if (u % DAY_MIN !== 0) (u = ceilTo(u, DAY_MIN)), widen('day')
  } else if (u < marks.minutePrunedBefore && u % HOUR_MIN !== 0) (u = ceilTo(u, HOUR_MIN)), widen('hour')
  const parts: UsagePart[] = []
  const minutes = (a: number, b: number) => {
    if (a < b) parts.push({level: 'minute', since: a, until: b})
  }
  const hours = (a: number, b: number) => {
    const from = ceilTo(a, HOUR_MIN)
    const to = Math.min(floorTo(b, HOUR_MIN), hoursFrom)
    if (from < to) {
      minutes(a, from)
      parts.push({level: 'hour', since: from, until: to})
      minutes(to, b)
    } else minutes(a, b)
  }
  const days = (a: number, b: number) => {
    const from = ceilTo(a, DAY_MIN)
    const to = Math.min(floorTo(b, DAY_MIN), daysFrom)
    if (from < to) {
      hours(a, from)
      parts.push({level: 'day', since: from, until: to})
      hours(to, b)
    } else hours(a, b)
  }
  // Whole weeks from week facets, where every day of them is rolled (days before the start are gone: never read).
  const from = ceilTo(s, WEEK_MIN)
  const to = Math.min(floorTo(u, WEEK_MIN), weeksFrom)
  if (from < to) {
    days(s, from)
    parts.push({level: 'week', since: from, until: to})
    days(to, u)
  } else days(s, u)
  return {since: s, until: u, resolution, parts}
}

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

/** What one rollup transaction did: nothing left (`done`), marks set for a first pass (`started`), an empty stretch passed over (`skipped`), or one bucket added up (`rolled`). */
type RollStep = 'done' | 'started' | 'skipped' | 'rolled'

/**
 * Adds up the first bucket of `coarse` (width `width` minutes) that holds rows of `fine` at or after
 * `from` and before `closed`, with its facets, and moves `fine`'s rolled mark past it — or, when
 * nothing is left before `closed`, moves the mark to `closed`. Call inside a transaction.
 */
async function rollNextBucket(repos: Repositories, fine: 'minute' | 'hour', coarse: 'hour' | 'day', width: number, from: number, closed: number): Promise<RollStep> {
  if (from >= closed) return 'done'
  const first = await repos.usage.firstBucketFrom(fine, from)
  if (first === undefined || first >= closed) {
    await repos.usage.advanceRolled(fine, from, closed)
    return 'skipped'
  }
  const bucket = floorTo(first, width)
  await repos.usage.rollInto(fine, coarse, bucket, bucket + width)
  await repos.usage.rollFacets(fine, coarse, bucket, bucket + width)
  await repos.usage.advanceRolled(fine, from, bucket + width)
  return 'rolled'
}

/** Recording, ingesting, reporting and pruning usage. */
export class UsageService {
  private pending = new Map<string, UsageCount>()
  private readonly lastUsed = new Map<string, LastUsed>()
  /** Whether {@link noteUsed} already forgot written keys since the last flush (see there). */
  private lastUsedScanned = false
  private readonly networkKey: Buffer
  private readonly uaCache = new Map<string, UserAgentFamily>()
  private readonly networkCache = new Map<string, string>()
  private readonly valueCache = new Map<string, string>()
  /** Committed `usage_values` ids by text. */
  private readonly valueIds = new Map<string, number>()
  private lastPruneAt = Number.NEGATIVE_INFINITY
  /** The rollup and retention pass running, if any (passes run one at a time). */
  private maintenance: Promise<MaintenanceResult> | undefined
  private stopped = false

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
      // Full: forget the keys already written, once per flush at most — when every entry is
      // pending (more distinct keys used since the last flush than the bound), scanning again for
      // each new key would cost the whole map per verification; the flush empties it instead.
      if (this.lastUsed.size >= LAST_USED_ENTRIES && !this.lastUsedScanned) {
        this.lastUsedScanned = true
        for (const [id, e] of this.lastUsed) if (e.pendingAt === undefined) this.lastUsed.delete(id)
      }
      this.lastUsed.set(keyId, {pendingAt: at, writtenAt: Number.NEGATIVE_INFINITY})
      return
    }
    if (at - entry.writtenAt < this.ctx.settings.lastUsedWriteIntervalMs) return
    entry.pendingAt = Math.max(entry.pendingAt ?? at, at)
  }

  /**
   * Writes usage and `last_used_at` held in memory, in one transaction; on failure they
   * are kept for the next flush (and the error is rethrown). Forgets batch idempotency keys
   * older than a day at most hourly (usage retention runs in {@link maintain}).
   */
  async flush(): Promise<void> {
    const counts = [...this.pending.values()]
    const touches: Array<{id: string; at: number}> = []
    for (const [id, entry] of this.lastUsed) if (entry.pendingAt !== undefined) touches.push({id, at: entry.pendingAt})
    const now = this.ctx.clock.now()
    const prune = now - this.lastPruneAt >= 3_600_000
    if (counts.length === 0 && touches.length === 0 && !prune) return
    this.pending = new Map()
    let learned: Map<string, number>
    try {
      learned = await inTransaction(this.ctx.bulkDb, async (repos) => {
        const ids = await this.store(repos, counts)
        await repos.keys.touchLastUsed(touches)
        if (prune) await repos.usage.pruneBatchesBefore(now - IDEMPOTENCY_WINDOW_MS)
        return ids
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
    this.remember(learned)
    if (prune) this.lastPruneAt = now
    this.lastUsedScanned = false
    for (const touch of touches) {
      const entry = this.lastUsed.get(touch.id)
      if (entry !== undefined && entry.pendingAt === touch.at) {
        entry.pendingAt = undefined
        entry.writtenAt = touch.at
      }
    }
  }

  /**
   * Adds counts inside the caller's transaction: values interned to ids, each count added
   * to its minute and — when that minute (hour) was already rolled up — to its hour (day)
   * too, so a late count is in every level a report may read, exactly once. Levels whose
   * bucket is already pruned are skipped.
   * @returns ids learned in this transaction (to cache once it committed).
   */
  private async store(repos: Repositories, counts: UsageCount[]): Promise<Map<string, number>> {
    if (counts.length === 0) return new Map()
    const missing = new Set<string>()
    for (const c of counts) {
      for (const value of [c.keyId, c.source, c.code, c.route, c.clientApp, c.appVersion, c.uaFamily, c.uaOs, c.network]) if (!this.valueIds.has(value)) missing.add(value)
    }
    const learned = missing.size === 0 ? new Map<string, number>() : await repos.usage.intern([...missing])
    const id = (value: string): number => {
      const found = this.valueIds.get(value) ?? learned.get(value)
      if (found === undefined) throw new Error('a usage value was not interned')
      return found
    }
    const marks = await repos.usage.marks()
    const minutes: EncodedCount[] = []
    const hours: EncodedCount[] = []
    const days: EncodedCount[] = []
    for (const c of counts) {
      const minute = Math.floor(c.minute / MINUTE_MS)
      const row: EncodedCount = [minute, id(c.keyId), id(c.source), id(c.code), id(c.route), id(c.clientApp), id(c.appVersion), id(c.uaFamily), id(c.uaOs), id(c.network), c.count]
      if (minute >= marks.minutePrunedBefore) minutes.push(row)
      if (marks.hoursFrom !== null && minute < marks.hoursFrom && minute >= marks.hourPrunedBefore) hours.push(row)
      if (marks.daysFrom !== null && minute < marks.daysFrom && minute >= marks.dayPrunedBefore) days.push(row)
    }
    await repos.usage.add('minute', minutes)
    if (hours.length > 0 || days.length > 0) {
      // Late counts: into the rolled levels and their per-app facets, as a rollup would have added them.
      const appOf = await repos.keys.appIdsOf([...new Set(counts.map((c) => c.keyId))])
      const keyText = new Map(counts.map((c) => [id(c.keyId), c.keyId]))
      await repos.usage.add('hour', hours)
      await repos.usage.addFacets('hour', facetsOf(hours, HOUR_MIN, (key) => appOf.get(keyText.get(key) ?? '')))
      await repos.usage.add('day', days)
      await repos.usage.addFacets('day', facetsOf(days, DAY_MIN, (key) => appOf.get(keyText.get(key) ?? '')))
      // Weeks before the retention start are never read: nothing is added to them.
      const weeks = days.filter((row) => marks.weeksFrom !== null && row[0] < marks.weeksFrom && floorTo(row[0], WEEK_MIN) >= marks.dayPrunedBefore)
      await repos.usage.addFacets('week', facetsOf(weeks, WEEK_MIN, (key) => appOf.get(keyText.get(key) ?? '')))
    }
    return learned
  }

  /** Caches ids of a committed transaction. */
  private remember(learned: Map<string, number>): void {
    if (learned.size === 0) return
    if (this.valueIds.size + learned.size > VALUE_CACHE_SIZE) this.valueIds.clear()
    for (const [value, id] of learned) this.valueIds.set(value, id)
  }

  /**
   * One rollup and retention pass ({@link rollUp} then {@link prune}); passes run one at a
   * time (a call during a pass waits for it, then runs its own). Every transaction is small:
   * one hour, one day, or `settings.usagePruneBatchRows` deleted rows.
   * @throws the database error of a failed transaction (what committed before stays; the next pass goes on from there).
   */
  async maintain(): Promise<MaintenanceResult> {
    const previous = this.maintenance ?? Promise.resolve(undefined)
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const rolled = await this.rollUp()
        const pruned = await this.prune()
        return {...rolled, ...pruned}
      })
    this.maintenance = run
    try {
      return await run
    } finally {
      if (this.maintenance === run) this.maintenance = undefined
    }
  }

  /** Stops maintenance passes after their current transaction (on close) and waits for the one running. */
  async stopMaintenance(): Promise<void> {
    this.stopped = true
    await this.maintenance?.catch(() => undefined)
  }

  private async pause(): Promise<void> {
    const ms = this.ctx.settings.usageMaintenancePauseMs
    await new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)))
  }

  /**
   * Runs `step` in one bulk transaction after another (pausing between them) until it answers
   * `done` or maintenance stops. @returns how many steps answered `rolled`.
   */
  private async eachStep(step: (repos: Repositories) => Promise<RollStep>): Promise<number> {
    let rolled = 0
    while (!this.stopped) {
      const result = await inTransaction(this.ctx.bulkDb, step)
      if (result === 'done') break
      if (result === 'rolled') rolled++
      await this.pause()
    }
    return rolled
  }

  /**
   * Adds every closed hour of minutes into `usage_hour`, then every day whose hours are all
   * rolled into `usage_day`; one bucket per transaction, each committing the sum and the moved
   * `rolled_before` together (a pass killed at any point neither loses nor repeats a bucket).
   * Usage held in memory is written first.
   */
  async rollUp(): Promise<{hoursRolled: number; daysRolled: number; weeksRolled: number}> {
    await this.flush().catch(() => undefined)
    const closedHour = floorTo(Math.floor(this.ctx.clock.now() / MINUTE_MS), HOUR_MIN)
    const hoursRolled = await this.eachStep(async (repos) => {
      const marks = await repos.usage.marks()
      const from = marks.hoursFrom
      if (from === null) {
        const first = await repos.usage.firstBucketFrom('minute', 0)
        const start = Math.min(floorTo(first ?? closedHour, HOUR_MIN), closedHour)
        await repos.usage.advanceRolled('minute', null, start)
        if (marks.daysFrom === null) await repos.usage.advanceRolled('hour', null, floorTo(start, DAY_MIN))
        if (marks.weeksFrom === null) await repos.usage.advanceRolled('day', null, floorTo(start, WEEK_MIN))
        return 'started'
      }
      return rollNextBucket(repos, 'minute', 'hour', HOUR_MIN, from, closedHour)
    })
    const daysRolled = await this.eachStep(async (repos) => {
      const marks = await repos.usage.marks()
      if (marks.daysFrom === null || marks.hoursFrom === null) return 'done'
      return rollNextBucket(repos, 'hour', 'day', DAY_MIN, marks.daysFrom, floorTo(marks.hoursFrom, DAY_MIN))
    })
    const weeksRolled = await this.eachStep(async (repos) => {
      const marks = await repos.usage.marks()
      const from = marks.weeksFrom
      if (from === null || marks.daysFrom === null) return 'done'
      if (from >= floorTo(marks.daysFrom, WEEK_MIN)) return 'done'
      // A week of day facets is a few thousand rows: one week per transaction.
      await repos.usage.rollFacets('day', 'week', from, from + WEEK_MIN)
      await repos.usage.advanceRolled('day', from, from + WEEK_MIN)
      return 'rolled'
    })
    return {hoursRolled, daysRolled, weeksRolled}
  }

  /**
   * Deletes usage past its level's retention, only what is already rolled up: minutes before
   * `now - settings.usageMinuteRetentionMs` (whole hours), hours before `now - settings.usageHourRetentionMs`
   * (whole days), days before `now - settings.usageRetentionMs` (whole days). A level's
   * `pruned_before` moves first (reports stop reading those rows), then rows go in transactions
   * of at most `settings.usagePruneBatchRows` rows (and as many facet rows of hours and days).
   */
  async prune(): Promise<{pruned: Record<UsageLevel, number>; pruneBatches: number}> {
    const nowMinute = Math.floor(this.ctx.clock.now() / MINUTE_MS)
    const settings = this.ctx.settings
    const pruned: Record<UsageLevel, number> = {minute: 0, hour: 0, day: 0}
    let pruneBatches = 0
    const batch = settings.usagePruneBatchRows
    for (const level of ['minute', 'hour', 'day'] as const) {
      if (this.stopped) break
      const before = await inTransaction(this.ctx.bulkDb, async (repos) => {
        const marks = await repos.usage.marks()
        let target: number
        if (level === 'minute') target = Math.min(marks.hoursFrom ?? 0, floorTo(nowMinute - settings.usageMinuteRetentionMs / MINUTE_MS, HOUR_MIN))
        else if (level === 'hour') target = Math.min(marks.daysFrom ?? 0, floorTo(nowMinute - settings.usageHourRetentionMs / MINUTE_MS, DAY_MIN))
        else target = floorTo(nowMinute - settings.usageRetentionMs / MINUTE_MS, DAY_MIN)
        await repos.usage.markPruned(level, target)
        const after = await repos.usage.marks()
        return level === 'minute' ? after.minutePrunedBefore : level === 'hour' ? after.hourPrunedBefore : after.dayPrunedBefore
      })
      while (!this.stopped) {
        const {rows, facets} = await inTransaction(this.ctx.bulkDb, async (repos) => ({
          rows: await repos.usage.pruneLevel(level, before, batch),
          facets: level === 'minute' ? 0 : await repos.usage.pruneFacets(level, before, batch),
        }))
        pruneBatches++
        pruned[level] += rows
        if (rows < batch && facets < batch) break
        await this.pause()
      }
    }
    // Week facets go once their week starts before the days kept (such a week is never read).
    while (!this.stopped) {
      const facets = await inTransaction(this.ctx.bulkDb, async (repos) => repos.usage.pruneFacets('week', (await repos.usage.marks()).dayPrunedBefore, batch))
      pruneBatches++
      if (facets < batch) break
      await this.pause()
    }
    return {pruned, pruneBatches}
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
   *   {@link UnavailableError} (503, `Retry-After`) when the write fails or the writer's bulk queue is
   *   full (`settings.writeQueueLimit`) — nothing of the batch is stored.
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
    let learned = new Map<string, number>()
    try {
      await inDurableTransaction(this.ctx.bulkDb, async (repos) => {
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
        learned = await this.store(repos, [...rows.values()])
        // Within the transaction: a failure here leaves nothing of the batch behind.
        written = [...used].filter(([id]) => this.shouldWriteLastUsed(id)).map(([id, at]) => ({id, at}))
        await repos.keys.touchLastUsed(written)
        if (idempotencyKey !== undefined) {
          await repos.usage.recordBatch(batch.verifierId, idempotencyKey, now, JSON.stringify({received, stored, unattributed, skipped}))
        }
      })
      if (duplicate !== undefined) return duplicate
      this.remember(learned)
      for (const {id, at} of written) this.markWritten(id, at)
    } catch (error) {
      if (error instanceof ApikeyError) throw error
      if (isWriterQueueFull(error)) {
        throw new UnavailableError(`the key service is busy writing (${error.waiting} usage batches and other bulk writes are waiting); nothing of this batch was kept — send it again after Retry-After`, {cause: error, retryAfterSeconds: 1})
      }
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
   * Usage of an app's keys over [since, until) — members of the owning team (and admins)
   * only. Flushes in-memory usage first. Default range: the last 24 hours. Reads the
   * coarsest level that answers each part (see {@link planUsageRange}) in one transaction;
   * any range is answered: a start before what retention keeps is cut to the oldest kept day
   * and an end more than a day ahead to a day ahead (nothing is stored beyond either), so
   * the work is bounded by the rows kept, never by the length asked for. The answer's
   * `since`, `until` and `resolution` say what was covered.
   * @param query.since, query.until ms since epoch (rounded down to minutes).
   * @param query.sources which sources to count; default all.
   * @throws ApikeyError `validation` (since not before until, an implausible instant) | `not_found` | `forbidden` naming the owning team.
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
    if (since >= until) throw validationError('since', `must be before until (since ${since}, until ${until}, ms since the epoch)`)
    await this.flush().catch(() => undefined)
    const sources = query.sources ?? [...USAGE_SOURCES]
    const nowMinute = Math.floor(now / MINUTE_MS)
    const oldest = floorTo(nowMinute - this.ctx.settings.usageRetentionMs / MINUTE_MS, DAY_MIN)
    const newest = Math.ceil((now + DAY_MS) / MINUTE_MS) + 1
    const read = await inReadTransaction(this.ctx.db, async (trx) => {
      const marks = await trx.usage.marks()
      const plan = planUsageRange(Math.floor(since / MINUTE_MS), Math.min(Math.floor(until / MINUTE_MS), newest), marks, oldest)
      const sourceIds = [...(await trx.usage.idsOf(sources)).values()]
      const unknown = (await trx.usage.idsOf([UNKNOWN])).get(UNKNOWN)
      return {
        plan,
        // Whole hours and days from the per-app facets, the rest from minute rows, summed in SQLite.
        summary: await trx.usage.reportSummary(app.id, plan.parts, sourceIds, unknown, MAX_REPORT_VALUES),
        keys: await trx.usage.keysOf(app.id),
      }
    })
    const {plan} = read
    const keys = new Map(read.keys.map((k) => [k.id, k]))
    const bySource: Record<string, number> = {}
    const byCode: Record<string, number> = {}
    const perKey = new Map<number, KeyUsage>()
    const tops = new Map<number, UsageBucket[]>()
    let distinctNetworks = 0
    let total = 0
    for (const r of read.summary) {
      if (r.kind === 0) {
        total += r.count
        const code = r.codeText ?? UNKNOWN
        byCode[code] = (byCode[code] ?? 0) + r.count
        let entry = perKey.get(r.id)
        if (entry === undefined) {
          const key = keys.get(r.id)
          entry = {keyId: key?.keyId ?? r.text ?? UNKNOWN, env: key?.env ?? UNKNOWN, total: 0, byCode: {}}
          perKey.set(r.id, entry)
        }
        entry.total += r.count
        entry.byCode[code] = (entry.byCode[code] ?? 0) + r.count
      } else if (r.kind === 1) {
        const source = r.text ?? UNKNOWN
        bySource[source] = (bySource[source] ?? 0) + r.count
      } else if (r.kind === 2) {
        let bucket = tops.get(r.facet)
        if (bucket === undefined) tops.set(r.facet, (bucket = []))
        bucket.push({value: r.text ?? UNKNOWN, count: r.count})
      } else {
        distinctNetworks = r.count
      }
    }
    // SQLite ranked by count with the ties at the cut included; the order among equal counts is by text here.
    const top = (facet: number): UsageBucket[] =>
      (tops.get(facet) ?? []).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, MAX_REPORT_VALUES)
    const ms = (minute: number) => minute * MINUTE_MS
    return {
      app: app.slug,
      since: ms(plan.since),
      until: ms(plan.until),
      requested: {since, until},
      resolution: plan.resolution,
      parts: plan.parts.map((p) => ({level: p.level, since: ms(p.since), until: ms(p.until)})),
      sources,
      total,
      bySource,
      byCode,
      byKey: [...perKey.values()].sort((a, b) => b.total - a.total || (a.keyId < b.keyId ? -1 : 1)),
      byRoute: top(FACET.route),
      byClientApp: top(FACET.clientApp),
      byAppVersion: top(FACET.appVersion),
      byUserAgentFamily: top(FACET.uaFamily),
      byUserAgentOs: top(FACET.uaOs),
      distinctNetworks,
    }
  }
}
