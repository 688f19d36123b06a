import {sql, type Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** Where a usage count came from. */
export type UsageSource = 'verify' | 'gateway' | 'reported'

/** Dimensions usage is counted by. `network` values are keyed hashes, never addresses. */
export type UsageDimension = 'code' | 'route' | 'client_app' | 'app_version' | 'ua_family' | 'ua_os' | 'network'

/** One aggregated count to add. */
export interface UsageCount {
  keyId: string
  appId: string
  /** Start of the UTC minute, ms since epoch. */
  minute: number
  source: UsageSource
  dimension: UsageDimension
  value: string
  count: number
}

/** A summed row of {@link UsageRepository.sumByDimension}. */
export interface UsageSum {
  keyId: string
  source: UsageSource
  dimension: UsageDimension
  value: string
  count: number
}

/** Rows per INSERT statement (6 bound parameters each; SQLite allows 32 766). */
const CHUNK = 2000

/** SQL for `usage_minutes`. */
export class UsageRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Adds counts (upsert: existing rows are incremented). Call inside a transaction for all-or-nothing. */
  async add(counts: UsageCount[]): Promise<void> {
    for (let i = 0; i < counts.length; i += CHUNK) {
      const chunk = counts.slice(i, i + CHUNK)
      await this.db
        .insertInto('usage_minutes')
        .values(chunk.map((c) => ({key_id: c.keyId, app_id: c.appId, minute: c.minute, source: c.source, dimension: c.dimension, value: c.value, count: c.count})))
        .onConflict((oc) => oc.columns(['key_id', 'minute', 'source', 'dimension', 'value']).doUpdateSet({count: sql<number>`count + excluded.count`}))
        .execute()
    }
  }

  /** Sums per key, source, dimension and value of every key of `appId` over minutes in [since, until). */
  async sumByDimension(appId: string, since: number, until: number, sources?: UsageSource[]): Promise<UsageSum[]> {
    let q = this.db
      .selectFrom('usage_minutes')
      .select(['key_id', 'source', 'dimension', 'value', sql<number>`sum(count)`.as('total')])
      .where('key_id', 'in', (eb) => eb.selectFrom('api_keys').select('id').where('app_id', '=', appId))
      .where('minute', '>=', since)
      .where('minute', '<', until)
    if (sources !== undefined) q = q.where('source', 'in', sources)
    const rows = await q.groupBy(['key_id', 'source', 'dimension', 'value']).execute()
    return rows.map((r) => ({keyId: r.key_id, source: r.source as UsageSource, dimension: r.dimension as UsageDimension, value: r.value, count: Number(r.total)}))
  }

  /** Deletes rows of minutes before `before` (ms). @returns rows deleted. */
  async pruneBefore(before: number): Promise<number> {
    const result = await this.db.deleteFrom('usage_minutes').where('minute', '<', before).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
