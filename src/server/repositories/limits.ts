import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** A stored rate-limit override, in requests per minute. */
export interface RateLimitOverride {
  scope: 'app' | 'key'
  targetId: string
  rpm: number
  updatedAt: number
}

/** SQL for `rate_limit_overrides`. */
export class LimitsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The overrides of a key and of its app (either may be missing). */
  async forKey(keyId: string, appId: string): Promise<{key: number | undefined; app: number | undefined}> {
    const rows = await this.db
      .selectFrom('rate_limit_overrides')
      .select(['scope', 'rpm'])
      .where((eb) => eb.or([eb.and([eb('scope', '=', 'key'), eb('target_id', '=', keyId)]), eb.and([eb('scope', '=', 'app'), eb('target_id', '=', appId)])]))
      .execute()
    return {key: rows.find((r) => r.scope === 'key')?.rpm, app: rows.find((r) => r.scope === 'app')?.rpm}
  }

  /** Sets (insert or replace) an override. */
  async set(input: {scope: 'app' | 'key'; targetId: string; rpm: number; updatedAt: number; updatedBy: string | null}): Promise<void> {
    await this.db
      .insertInto('rate_limit_overrides')
      .values({scope: input.scope, target_id: input.targetId, rpm: input.rpm, updated_at: input.updatedAt, updated_by: input.updatedBy})
      .onConflict((oc) => oc.columns(['scope', 'target_id']).doUpdateSet({rpm: input.rpm, updated_at: input.updatedAt, updated_by: input.updatedBy}))
      .execute()
  }

  /** Removes an override. @returns whether one existed. */
  async clear(scope: 'app' | 'key', targetId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('rate_limit_overrides').where('scope', '=', scope).where('target_id', '=', targetId).executeTakeFirst()
    return result.numDeletedRows > 0n
  }
}
