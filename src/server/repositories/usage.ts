import {sql, type Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** Where a usage count came from. */
export type UsageSource = 'verify' | 'gateway' | 'reported'

/** Dimensions usage is counted by (columns of `usage_minutes`). `network` values are keyed hashes, never addresses. */
export type UsageDimension = 'code' | 'route' | 'client_app' | 'app_version' | 'ua_family' | 'ua_os' | 'network'

/** One aggregated count to add: a key, a minute, a source and one value per dimension. */
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

/** Filter of the report queries: the keys of one app, minutes in [since, until), some sources. */
export interface UsageRange {
  appId: string
  since: number
  until: number
  sources: UsageSource[]
}

/** Rows per INSERT statement (11 bound parameters each; SQLite allows 32 766). */
const CHUNK = 2500

/** SQL for `usage_minutes`. */
export class UsageRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Adds counts (upsert: existing rows are incremented). Call inside a transaction for all-or-nothing. */
  async add(counts: UsageCount[]): Promise<void> {
    for (let i = 0; i < counts.length; i += CHUNK) {
      await this.db
        .insertInto('usage_minutes')
        .values(
          counts.slice(i, i + CHUNK).map((c) => ({
            key_id: c.keyId,
            minute: c.minute,
            source: c.source,
            code: c.code,
            route: c.route,
            client_app: c.clientApp,
            app_version: c.appVersion,
            ua_family: c.uaFamily,
            ua_os: c.uaOs,
            network: c.network,
            count: c.count,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['key_id', 'minute', 'source', 'code', 'route', 'client_app', 'app_version', 'ua_family', 'ua_os', 'network']).doUpdateSet({count: sql<number>`count + excluded.count`}),
        )
        .execute()
    }
  }

  private scope(range: UsageRange) {
    return this.db
      .selectFrom('usage_minutes')
      .where('key_id', 'in', (eb) => eb.selectFrom('api_keys').select('id').where('app_id', '=', range.appId))
      .where('minute', '>=', range.since)
      .where('minute', '<', range.until)
      .where('source', 'in', range.sources)
  }

  /** Sums per key, source and code. */
  async totals(range: UsageRange): Promise<Array<{keyId: string; source: UsageSource; code: string; count: number}>> {
    const rows = await this.scope(range)
      .select(['key_id', 'source', 'code', sql<number>`sum(count)`.as('total')])
      .groupBy(['key_id', 'source', 'code'])
      .execute()
    return rows.map((r) => ({keyId: r.key_id, source: r.source as UsageSource, code: r.code, count: Number(r.total)}))
  }

  /** The `limit` most frequent values of one dimension, most frequent first (ties by value). */
  async top(range: UsageRange, dimension: Exclude<UsageDimension, 'code' | 'network'>, limit: number): Promise<Array<{value: string; count: number}>> {
    const rows = await this.scope(range)
      .select([sql.ref<string>(dimension).as('value'), sql<number>`sum(count)`.as('total')])
      .groupBy(dimension)
      .orderBy('total', 'desc')
      .orderBy('value')
      .limit(limit)
      .execute()
    return rows.map((r) => ({value: r.value, count: Number(r.total)}))
  }

  /** Distinct values of `network` other than `exclude`. */
  async distinctNetworks(range: UsageRange, exclude: string): Promise<number> {
    const row = await this.scope(range).select(sql<number>`count(distinct network)`.as('n')).where('network', '!=', exclude).executeTakeFirst()
    return Number(row?.n ?? 0)
  }

  /** Deletes rows of minutes before `before` (ms). @returns rows deleted. */
  async pruneBefore(before: number): Promise<number> {
    const result = await this.db.deleteFrom('usage_minutes').where('minute', '<', before).executeTakeFirst()
    return Number(result.numDeletedRows)
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
