import {CompiledQuery, sql, type Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** Where a usage count came from. */
export type UsageSource = 'verify' | 'gateway' | 'reported'

/** Dimensions usage is counted by (columns of the usage tables besides `minute`, `key_id` and `count`). `network` values are keyed hashes, never addresses. */
export type UsageDimension = 'source' | 'code' | 'route' | 'client_app' | 'app_version' | 'ua_family' | 'ua_os' | 'network'

/** Every dimension column, in primary-key order. */
export const USAGE_DIMENSIONS: readonly UsageDimension[] = ['source', 'code', 'route', 'client_app', 'app_version', 'ua_family', 'ua_os', 'network']

/** One aggregated count to add: a key, a minute, a source and one value per dimension (text). */
export interface UsageCount {
  keyId: string
  /** Start of the UTC minute, ms since epoch. */
  minute: number
  source: UsageSource
  code: string
  route: string
  clientApp: string
  appVersion: string
  uaFamily: string
  uaOs: string
  network: string
  count: number
}

/**
 * A count with every value replaced by its `usage_values` id: `[minute, keyId, source, code,
 * route, clientApp, appVersion, uaFamily, uaOs, network, count]`, `minute` in minutes since the epoch.
 */
export type EncodedCount = [number, number, number, number, number, number, number, number, number, number, number]

/** A usage level (table `usage_<level>`). */
export type UsageLevel = 'minute' | 'hour' | 'day'

/** A level a report reads: the usage levels and weeks (week facets only). */
export type ReportLevel = UsageLevel | 'week'

/** A level with per-app facets (table `usage_facet_<level>`). */
export type FacetLevel = 'hour' | 'day' | 'week'

/** Length of a bucket of each level, in minutes (weeks start on Thursdays, as the epoch does). */
export const LEVEL_MINUTES: Readonly<Record<ReportLevel, number>> = {minute: 1, hour: 60, day: 1440, week: 10_080}

/**
 * Rollup and retention progress (`usage_levels`), in minutes since the epoch:
 * minutes before `hoursFrom` are added into `usage_hour`, hours before `daysFrom` into
 * `usage_day` (0 before the first rollup); rows of a level before its `…PrunedBefore` are
 * deleted or about to be, and never read.
 */
export interface UsageMarks {
  /** Minutes before it are in `usage_hour` (the `minute` level's `rolled_before`); null before the first rollup. */
  hoursFrom: number | null
  /** Hours before it are in `usage_day`; null before the first rollup. */
  daysFrom: number | null
  /** Days before it are in `usage_facet_week`; null before the first rollup. */
  weeksFrom: number | null
  minutePrunedBefore: number
  hourPrunedBefore: number
  dayPrunedBefore: number
}

/** One part of a report range read from one level: buckets in [since, until), minutes since the epoch. */
export interface UsagePart {
  level: ReportLevel
  since: number
  until: number
}

/**
 * One row of {@link UsageRepository.reportSummary}. `kind` 0: key `id` with `code` (ids) and
 * their texts; 1: source `id`; 2: value `id` of `facet`; 3: `count` is the number of distinct
 * networks. `count` is a summed number of requests otherwise.
 */
export interface ReportSummaryRow {
  kind: 0 | 1 | 2 | 3
  facet: number
  id: number
  code: number
  count: number
  /** Text of `id` (`usage_values`), null when it has none (and for kind 3). */
  text: string | null
  /** Text of `code` for kind 0, else null. */
  codeText: string | null
}

/** Facet numbers of `usage_facet_hour|day`: which dimension a facet row counts (key rows carry the code too). */
export const FACET = {key: 0, route: 1, clientApp: 2, appVersion: 3, uaFamily: 4, uaOs: 5, network: 6} as const

/** One facet count: per app, bucket (minutes since the epoch) and source, the count of one value of one facet (ids). */
export interface FacetRow {
  appId: string
  minute: number
  source: number
  facet: number
  value: number
  /** The code id for {@link FACET}.key rows, else 0. */
  code: number
  count: number
}

/** SQL choosing a facet's value column of a usage row `u`. */
const FACET_VALUE_SQL = 'case f.facet when 0 then u.key_id when 1 then u.route when 2 then u.client_app when 3 then u.app_version when 4 then u.ua_family when 5 then u.ua_os else u.network end'
/** The facet numbers as a table `f(facet)`. */
const FACETS_TABLE_SQL = '(select 0 as facet union all select 1 union all select 2 union all select 3 union all select 4 union all select 5 union all select 6) f'
const FACET_COLUMNS = 'app_id, minute, source, facet, value, code'

/** Rows per INSERT statement (11 bound parameters each; SQLite allows 32 766). */
const CHUNK = 2500
/** Values per interning statement. */
const VALUE_CHUNK = 500
const KEY_COLUMNS = `minute, key_id, ${USAGE_DIMENSIONS.join(', ')}`
const GROUP_COLUMNS = `key_id, ${USAGE_DIMENSIONS.join(', ')}`

/** SQL for the usage tables (`usage_values`, `usage_minute|hour|day`, `usage_levels`, `usage_batches`). */
export class UsageRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Ids of `values` in `usage_values`, adding the missing ones. Ids never change and are never
   * reused once committed. Call inside the transaction that uses them.
   */
  async intern(values: string[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>()
    for (let i = 0; i < values.length; i += VALUE_CHUNK) {
      const chunk = values.slice(i, i + VALUE_CHUNK)
      await this.db
        .insertInto('usage_values')
        .values(chunk.map((value) => ({value})))
        .onConflict((oc) => oc.column('value').doNothing())
        .execute()
      for (const row of await this.db.selectFrom('usage_values').select(['id', 'value']).where('value', 'in', chunk).execute()) ids.set(row.value, row.id)
    }
    return ids
  }

  /** Ids of `values` already in `usage_values` (absent values are left out). */
  async idsOf(values: string[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>()
    for (let i = 0; i < values.length; i += VALUE_CHUNK) {
      for (const row of await this.db.selectFrom('usage_values').select(['id', 'value']).where('value', 'in', values.slice(i, i + VALUE_CHUNK)).execute()) ids.set(row.value, row.id)
    }
    return ids
  }

  /** Rollup and retention progress. */
  async marks(): Promise<UsageMarks> {
    const rows = await this.db.selectFrom('usage_levels').select(['level', 'rolled_before', 'pruned_before']).execute()
    const of = (level: UsageLevel) => rows.find((r) => r.level === level)
    return {
      hoursFrom: of('minute')?.rolled_before ?? null,
      daysFrom: of('hour')?.rolled_before ?? null,
      weeksFrom: of('day')?.rolled_before ?? null,
      minutePrunedBefore: of('minute')?.pruned_before ?? 0,
      hourPrunedBefore: of('hour')?.pruned_before ?? 0,
      dayPrunedBefore: of('day')?.pruned_before ?? 0,
    }
  }

  /**
   * Adds encoded counts to one level, bucketed to it (upsert: existing rows are incremented).
   * Call inside a transaction for all-or-nothing.
   */
  async add(level: UsageLevel, counts: EncodedCount[]): Promise<void> {
    const width = LEVEL_MINUTES[level]
    for (let i = 0; i < counts.length; i += CHUNK) {
      const chunk = counts.slice(i, i + CHUNK)
      const params: number[] = []
      for (const c of chunk) {
        params.push(Math.floor(c[0] / width) * width, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10])
      }
      const placeholders = chunk.map(() => '(?,?,?,?,?,?,?,?,?,?,?)').join(',')
      await this.db.executeQuery(CompiledQuery.raw(`insert into usage_${level} (${KEY_COLUMNS}, count) values ${placeholders} on conflict do update set count = count + excluded.count`, params))
    }
  }

  /** Adds facet counts to the facets of `level` (upsert). Call inside a transaction. */
  async addFacets(level: FacetLevel, rows: FacetRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK)
      const params: Array<string | number> = []
      for (const r of chunk) params.push(r.appId, r.minute, r.source, r.facet, r.value, r.code, r.count)
      const placeholders = chunk.map(() => '(?,?,?,?,?,?,?)').join(',')
      await this.db.executeQuery(CompiledQuery.raw(`insert into usage_facet_${level} (${FACET_COLUMNS}, count) values ${placeholders} on conflict do update set count = count + excluded.count`, params))
    }
  }

  /**
   * Adds the facets of `from`'s rows in [since, until) into the facets of `to`, bucket `since`
   * (upsert): from full rows of `usage_minute` for an hour, from the hour (day) facets for a day (week).
   */
  async rollFacets(from: 'minute' | 'hour' | 'day', to: FacetLevel, since: number, until: number): Promise<void> {
    const query =
      from === 'minute'
        ? `insert into usage_facet_${to} (${FACET_COLUMNS}, count) select a.app_id, ${since}, u.source, f.facet, ${FACET_VALUE_SQL}, case f.facet when 0 then u.code else 0 end, sum(u.count) ` +
          `from usage_minute u join usage_values kv on kv.id = u.key_id join api_keys a on a.id = kv.value cross join ${FACETS_TABLE_SQL} ` +
          `where u.minute >= ${since} and u.minute < ${until} group by a.app_id, u.source, f.facet, 5, 6 on conflict do update set count = count + excluded.count`
        : `insert into usage_facet_${to} (${FACET_COLUMNS}, count) select app_id, ${since}, source, facet, value, code, sum(count) from usage_facet_${from} ` +
          `where minute >= ${since} and minute < ${until} group by app_id, source, facet, value, code on conflict do update set count = count + excluded.count`
    await sql.raw(query).execute(this.db)
  }

  /** Deletes at most `limit` facet rows of `level` with buckets before `before`. @returns rows deleted. */
  async pruneFacets(level: FacetLevel, before: number, limit: number): Promise<number> {
    const result = await sql.raw(`delete from usage_facet_${level} where minute < ${Math.floor(before)} order by minute limit ${Math.floor(limit)}`).execute(this.db)
    return Number(result.numAffectedRows ?? 0)
  }

  /**
   * The aggregated report of app `appId` over `parts` for `sources` (value ids), computed in
   * one statement so only the answer leaves SQLite: whole hours, days and weeks come from the
   * per-app facets, minute parts from `usage_minute` (split into facets on the fly).
   * Rows (see {@link ReportSummaryRow}): per key id and code the count, per source the count,
   * per facet of {@link FACET}.route … uaOs the values ranked within the first `maxValues` by
   * count (ties at the cut all included, the caller cuts), and the number of distinct networks
   * other than `unknownNetwork` (an id, or undefined when never stored). Texts are the
   * `usage_values` texts (null for an id without one). Call inside a read transaction.
   */
  async reportSummary(appId: string, parts: UsagePart[], sources: number[], unknownNetwork: number | undefined, maxValues: number): Promise<ReportSummaryRow[]> {
    if (parts.length === 0 || sources.length === 0) return []
    const inSources = `source in (${sources.map(Number).join(',')})`
    const params: string[] = []
    const selects = parts.map((p) => {
      params.push(appId)
      const range = (t: string) => `${t}minute >= ${Math.floor(p.since)} and ${t}minute < ${Math.floor(p.until)}`
      return p.level === 'minute'
        ? `select u.source as source, f.facet as facet, ${FACET_VALUE_SQL} as value, case f.facet when 0 then u.code else 0 end as code, u.count as count ` +
            `from usage_minute u cross join ${FACETS_TABLE_SQL} where ${range('u.')} and u.${inSources} ` +
            `and u.key_id in (select v.id from api_keys a join usage_values v on v.value = a.id where a.app_id = ?)`
        : `select source, facet, value, code, count from usage_facet_${p.level} where app_id = ? and ${range('')} and ${inSources}`
    })
    const notUnknown = unknownNetwork === undefined ? '' : ` and value != ${Math.floor(unknownNetwork)}`
    const query =
      `with g as materialized (select source, facet, value, code, sum(count) as n from (${selects.join(' union all ')}) group by source, facet, value, code) ` +
      `select 0 as kind, 0 as facet, k.value as id, k.code as code, k.n as n, kv.value as text, cv.value as code_text from ` +
      `(select value, code, sum(n) as n from g where facet = 0 group by value, code) k left join usage_values kv on kv.id = k.value left join usage_values cv on cv.id = k.code ` +
      `union all select 1, 0, s.source, 0, s.n, sv.value, null from (select source, sum(n) as n from g where facet = 0 group by source) s left join usage_values sv on sv.id = s.source ` +
      `union all select 2, t.facet, t.value, 0, t.n, tv.value, null from (select facet, value, n, rank() over (partition by facet order by n desc) as rk from ` +
      `(select facet, value, sum(n) as n from g where facet between 1 and 5 group by facet, value)) t left join usage_values tv on tv.id = t.value where t.rk <= ${Math.floor(maxValues)} ` +
      `union all select 3, 6, 0, 0, count(distinct value), null, null from g where facet = 6${notUnknown}`
    const result = await this.db.executeQuery<{kind: number; facet: number; id: number; code: number; n: number; text: string | null; code_text: string | null}>(CompiledQuery.raw(query, params))
    return result.rows.map((r) => ({kind: r.kind as ReportSummaryRow['kind'], facet: r.facet, id: r.id, code: r.code, count: Number(r.n), text: r.text, codeText: r.code_text}))
  }

  /** The first bucket start of `level` at or after `from` (minutes), or undefined when there is none. */
  async firstBucketFrom(level: UsageLevel, from: number): Promise<number | undefined> {
    const row = await sql<{m: number | null}>`select min(minute) as m from ${sql.table(`usage_${level}`)} where minute >= ${from}`.execute(this.db)
    const m = row.rows[0]?.m
    return m === null || m === undefined ? undefined : Number(m)
  }

  /**
   * Adds the rows of `from` (a finer level) in [since, until) into one bucket `since` of `to`
   * (upsert). @returns rows read.
   */
  async rollInto(from: UsageLevel, to: UsageLevel, since: number, until: number): Promise<number> {
    const result = await sql
      .raw(
        `insert into usage_${to} (${KEY_COLUMNS}, count) select ${since}, ${GROUP_COLUMNS}, sum(count) from usage_${from} ` +
          `where minute >= ${since} and minute < ${until} group by ${GROUP_COLUMNS} on conflict do update set count = count + excluded.count`,
      )
      .execute(this.db)
    return Number(result.numAffectedRows ?? 0)
  }

  /**
   * Moves `level`'s `rolled_before` from `expected` to `next` (creating it from null when `expected` is null).
   * @throws Error when it is no longer `expected` (another pass moved it): the caller's transaction must roll back.
   */
  async advanceRolled(level: UsageLevel, expected: number | null, next: number): Promise<void> {
    const result = await this.db
      .updateTable('usage_levels')
      .set({rolled_before: next})
      .where('level', '=', level)
      .where((eb) => (expected === null ? eb('rolled_before', 'is', null) : eb('rolled_before', '=', expected)))
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) !== 1) throw new Error(`usage rollup of level ${level} moved meanwhile (expected ${expected}); this pass stops`)
  }

  /** Raises `level`'s `pruned_before` to `before` (never lowers it). */
  async markPruned(level: UsageLevel, before: number): Promise<void> {
    await this.db.updateTable('usage_levels').set({pruned_before: before}).where('level', '=', level).where('pruned_before', '<', before).execute()
  }

  /** Deletes at most `limit` rows of `level` with buckets before `before` (the oldest first). @returns rows deleted. */
  async pruneLevel(level: UsageLevel, before: number, limit: number): Promise<number> {
    // Time leads the primary key: the oldest rows are one range at the front.
    const result = await sql.raw(`delete from usage_${level} where minute < ${Math.floor(before)} order by minute limit ${Math.floor(limit)}`).execute(this.db)
    return Number(result.numAffectedRows ?? 0)
  }

  /** Dictionary ids and key rows of app `appId`'s keys that have usage. */
  async keysOf(appId: string): Promise<Array<{id: number; keyId: string; env: string}>> {
    const rows = await sql<{id: number; key_id: string; env: string}>`select v.id as id, a.id as key_id, a.env as env from api_keys a join usage_values v on v.value = a.id where a.app_id = ${appId}`.execute(this.db)
    return rows.rows.map((r) => ({id: r.id, keyId: r.key_id, env: r.env}))
  }

  /** The stored answer (JSON) of a batch a verifier already sent under `key`, or undefined. */
  async findBatch(verifierId: string, key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('usage_batches').select('result').where('verifier_id', '=', verifierId).where('idempotency_key', '=', key).executeTakeFirst()
    return row?.result
  }

  /** Records that a verifier's batch `key` was stored, with its answer (JSON). @throws the SQLite primary-key violation on a concurrent duplicate. */
  async recordBatch(verifierId: string, key: string, receivedAt: number, result: string): Promise<void> {
    await this.db.insertInto('usage_batches').values({verifier_id: verifierId, idempotency_key: key, received_at: receivedAt, result}).execute()
  }

  /** Forgets batch keys received before `before` (ms). @returns rows deleted. */
  async pruneBatchesBefore(before: number): Promise<number> {
    const result = await this.db.deleteFrom('usage_batches').where('received_at', '<', before).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
