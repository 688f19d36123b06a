import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'
import type {ProvisioningToken} from '../model.js'

interface TokenRow {
  id: string
  app_id: string
  app_slug: string
  scope: 'ci'
  name: string | null
  start: string
  created_by: string
  created_by_username: string
  created_at: number
  expires_at: number
  revoked_at: number | null
  revoked_by_username: string | null
  last_used_at: number | null
}

function toToken(row: TokenRow): ProvisioningToken {
  return {
    id: row.id,
    appId: row.app_id,
    appSlug: row.app_slug,
    scope: row.scope,
    name: row.name,
    start: row.start,
    createdByUserId: row.created_by,
    createdBy: row.created_by_username,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by_username,
    lastUsedAt: row.last_used_at,
  }
}

/** SQL for `provisioning_tokens`. Stores the token's SHA-256 and display start, never the token. */
export class TokensRepository {
  constructor(private readonly db: Kysely<Database>) {}

  private base() {
    return this.db
      .selectFrom('provisioning_tokens as t')
      .innerJoin('apps', 'apps.id', 't.app_id')
      .innerJoin('users as creator', 'creator.id', 't.created_by')
      .leftJoin('users as revoker', 'revoker.id', 't.revoked_by')
      .select([
        't.id as id',
        't.app_id as app_id',
        'apps.slug as app_slug',
        't.scope as scope',
        't.name as name',
        't.start as start',
        't.created_by as created_by',
        'creator.username as created_by_username',
        't.created_at as created_at',
        't.expires_at as expires_at',
        't.revoked_at as revoked_at',
        'revoker.username as revoked_by_username',
        't.last_used_at as last_used_at',
      ])
  }

  /** Inserts a token record. @throws the SQLite unique violation on an id or hash collision. */
  async insert(input: {id: string; appId: string; scope: 'ci'; name: string | null; tokenHash: string; start: string; createdBy: string; createdAt: number; expiresAt: number}): Promise<void> {
    await this.db
      .insertInto('provisioning_tokens')
      .values({
        id: input.id,
        app_id: input.appId,
        scope: input.scope,
        name: input.name,
        token_hash: input.tokenHash,
        start: input.start,
        created_by: input.createdBy,
        created_at: input.createdAt,
        expires_at: input.expiresAt,
      })
      .execute()
  }

  /** The token with this public id, or undefined. */
  async findById(id: string): Promise<ProvisioningToken | undefined> {
    const row = await this.base().where('t.id', '=', id).executeTakeFirst()
    return row && toToken(row)
  }

  /** The token whose SHA-256 (hex) is `tokenHash`, or undefined. */
  async findByHash(tokenHash: string): Promise<ProvisioningToken | undefined> {
    const row = await this.base().where('t.token_hash', '=', tokenHash).executeTakeFirst()
    return row && toToken(row)
  }

  /** Tokens of the given apps, newest first. */
  async listForApps(appIds: string[]): Promise<ProvisioningToken[]> {
    if (appIds.length === 0) return []
    const rows = await this.base().where('t.app_id', 'in', appIds).orderBy('t.created_at', 'desc').orderBy('t.id').execute()
    return rows.map(toToken)
  }

  /** Every token, newest first (admins). */
  async listAll(): Promise<ProvisioningToken[]> {
    const rows = await this.base().orderBy('t.created_at', 'desc').orderBy('t.id').execute()
    return rows.map(toToken)
  }

  /** Marks a token revoked at `at` (ms) by `byUserId`; no-op when already revoked. @returns whether a row changed. */
  async revoke(id: string, at: number, byUserId: string): Promise<boolean> {
    const result = await this.db
      .updateTable('provisioning_tokens')
      .set({revoked_at: at, revoked_by: byUserId})
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Sets `last_used_at` (ms), never moving it backwards. */
  async touch(id: string, at: number): Promise<void> {
    await this.db
      .updateTable('provisioning_tokens')
      .set({last_used_at: at})
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute()
  }
}
