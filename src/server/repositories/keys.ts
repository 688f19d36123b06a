import type {Kysely} from 'kysely'
import {isKeyEnvironment} from '../../core/key-format.js'
import type {KeyKind, KeyMetadata} from '../../core/wire.js'
import type {Database} from '../db/schema.js'
import type {ApiKey} from '../model.js'

interface KeyRow {
  id: string
  app_id: string
  app_slug: string
  env: string
  kind: string
  name: string | null
  start: string
  created_by_username: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  revoked_by_username: string | null
  last_used_at: number | null
  metadata: string
}

function toKey(row: KeyRow): ApiKey {
  if (!isKeyEnvironment(row.env)) throw new Error(`api_keys.env of ${row.id} is invalid`)
  let metadata: KeyMetadata = {}
  try {
    const parsed: unknown = JSON.parse(row.metadata)
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) metadata = parsed as KeyMetadata
  } catch {
    // A damaged metadata column shows as empty; the key itself stays usable.
  }
  return {
    id: row.id,
    appId: row.app_id,
    appSlug: row.app_slug,
    env: row.env,
    kind: row.kind as KeyKind,
    name: row.name,
    start: row.start,
    createdBy: row.created_by_username,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by_username,
    lastUsedAt: row.last_used_at,
    metadata,
  }
}

/** SQL for `api_keys`. Stores the key's HMAC and display start, never the key. */
export class KeysRepository {
  constructor(private readonly db: Kysely<Database>) {}

  private base() {
    return this.db
      .selectFrom('api_keys')
      .innerJoin('apps', 'apps.id', 'api_keys.app_id')
      .innerJoin('users as creator', 'creator.id', 'api_keys.created_by')
      .leftJoin('users as revoker', 'revoker.id', 'api_keys.revoked_by')
      .select([
        'api_keys.id as id',
        'api_keys.app_id as app_id',
        'apps.slug as app_slug',
        'api_keys.env as env',
        'api_keys.kind as kind',
        'api_keys.name as name',
        'api_keys.start as start',
        'creator.username as created_by_username',
        'api_keys.created_at as created_at',
        'api_keys.expires_at as expires_at',
        'api_keys.revoked_at as revoked_at',
        'revoker.username as revoked_by_username',
        'api_keys.last_used_at as last_used_at',
        'api_keys.metadata as metadata',
      ])
  }

  /** Inserts a key record. @throws the SQLite unique violation on an id or hash collision. */
  async insert(input: {
    id: string
    appId: string
    env: string
    kind: KeyKind
    name: string | null
    hash: string
    start: string
    createdBy: string
    createdAt: number
    expiresAt: number | null
    metadata: KeyMetadata
  }): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: input.id,
        app_id: input.appId,
        env: input.env,
        kind: input.kind,
        name: input.name,
        hash: input.hash,
        start: input.start,
        created_by: input.createdBy,
        created_at: input.createdAt,
        expires_at: input.expiresAt,
        metadata: JSON.stringify(input.metadata),
      })
      .execute()
  }

  /** The key with this public id, or undefined. */
  async findById(id: string): Promise<ApiKey | undefined> {
    const row = await this.base().where('api_keys.id', '=', id).executeTakeFirst()
    return row && toKey(row)
  }

  /** The key whose stored HMAC equals `hash` (hex), or undefined. */
  async findByHash(hash: string): Promise<ApiKey | undefined> {
    const row = await this.base().where('api_keys.hash', '=', hash).executeTakeFirst()
    return row && toKey(row)
  }

  /** Keys of an app, newest first. */
  async listForApp(appId: string): Promise<ApiKey[]> {
    const rows = await this.base().where('api_keys.app_id', '=', appId).orderBy('api_keys.created_at', 'desc').orderBy('api_keys.id').execute()
    return rows.map(toKey)
  }
}
