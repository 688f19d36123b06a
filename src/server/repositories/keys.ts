import {sql, type CompiledQuery, type InferResult, type Kysely} from 'kysely'
import {isKeyEnvironment} from '../../core/key-format.js'
import type {KeyKind, KeyMetadata} from '../../core/wire.js'
import type {Database} from '../db/schema.js'
import type {ApiKey, App} from '../model.js'
import {toTeam} from './teams.js'

interface KeyRow {
  id: string
  app_id: string
  app_slug: string
  env: string
  kind: string
  name: string | null
  start: string
  created_by_username: string
  created_by: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  revoked_by_username: string | null
  last_used_at: number | null
  metadata: string
  rotated_at: number | null
  replaced_by: string | null
  grace_ends_at: number | null
  created_by_token: string | null
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
    createdBy: row.created_by_token === null ? row.created_by_username : `token:${row.created_by_token}`,
    createdByTokenId: row.created_by_token,
    createdByUserId: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by_username,
    lastUsedAt: row.last_used_at,
    metadata,
    rotation:
      row.rotated_at === null || row.replaced_by === null || row.grace_ends_at === null
        ? null
        : {rotatedAt: row.rotated_at, replacedBy: row.replaced_by, graceEndsAt: row.grace_ends_at},
  }
}

/** SQL for `api_keys`. Stores the key's HMAC and display start, never the key. */
/** A key record to insert (the key itself is never stored: only its HMAC and display start). */
export interface NewKey {
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
  /** Provisioning token that issued the key (CI), if any. */
  createdByToken?: string | null
}

/** Column values of a {@link NewKey}. */
function toInsertRow(input: NewKey) {
  return {
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
    created_by_token: input.createdByToken ?? null,
  }
}

/** Stands for the key hash while the verification query is compiled (never a real hash: not hex). */
const HASH_PLACEHOLDER = '\u0000hash'
/** A row of the verification query. */
type VerificationRow = InferResult<ReturnType<KeysRepository['verificationQuery']>>[number]
/** The compiled verification query per Kysely instance, and where the hash goes in its parameters. */
const verificationQueries = new WeakMap<Kysely<Database>, {query: CompiledQuery<unknown>; at: number}>()

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
        'api_keys.created_by as created_by',
        'api_keys.created_at as created_at',
        'api_keys.expires_at as expires_at',
        'api_keys.revoked_at as revoked_at',
        'revoker.username as revoked_by_username',
        'api_keys.last_used_at as last_used_at',
        'api_keys.metadata as metadata',
        'api_keys.rotated_at as rotated_at',
        'api_keys.replaced_by as replaced_by',
        'api_keys.grace_ends_at as grace_ends_at',
        'api_keys.created_by_token as created_by_token',
      ])
  }

  /** Inserts a key record. @throws the SQLite unique violation on an id or hash collision. */
  async insert(input: NewKey): Promise<void> {
    await this.db.insertInto('api_keys').values(toInsertRow(input)).execute()
  }

  /**
   * Records a rotation: rotation columns set and `expires_at` lowered to `graceEndsAt`
   * (the old key's effective end). Only a key not yet rotated is changed.
   * @returns whether a row changed.
   */
  async markRotated(id: string, rotation: {rotatedAt: number; replacedBy: string; graceEndsAt: number}): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({rotated_at: rotation.rotatedAt, replaced_by: rotation.replacedBy, grace_ends_at: rotation.graceEndsAt, expires_at: rotation.graceEndsAt})
      .where('id', '=', id)
      .where('rotated_at', 'is', null)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Marks a key revoked at `at` (ms) by user `byUserId`; no-op when already revoked. @returns whether a row changed. */
  async revoke(id: string, at: number, byUserId: string): Promise<boolean> {
    const result = await this.db.updateTable('api_keys').set({revoked_at: at, revoked_by: byUserId}).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Sets `expires_at` (ms since epoch). */
  async setExpiry(id: string, expiresAt: number): Promise<void> {
    await this.db.updateTable('api_keys').set({expires_at: expiresAt}).where('id', '=', id).execute()
  }

  /** Ids of every key of an app (any status), oldest first. */
  async idsForApp(appId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('api_keys').select('id').where('app_id', '=', appId).orderBy('created_at').orderBy('id').execute()
    return rows.map((row) => row.id)
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

  /**
   * Inserts many keys in one statement per chunk (benchmarks and imports; call inside a
   * transaction). Same columns and rules as {@link KeysRepository.insert}.
   */
  async insertMany(rows: NewKey[]): Promise<void> {
    // 13 bound parameters per row; SQLite allows 32 766 per statement.
    for (let i = 0; i < rows.length; i += 2000) {
      await this.db
        .insertInto('api_keys')
        .values(
          rows.slice(i, i + 2000).map(toInsertRow),
        )
        .execute()
    }
  }

  /**
   * Raises `last_used_at` of each key to the given instant (ms) — never lowers it.
   * Usage telemetry, not key state: it changes no verdict, so it does not go through
   * the lifecycle module and emits no change event. One statement for any number of keys (the
   * updates travel as one JSON parameter; a key named twice gets the later instant).
   */
  async touchLastUsed(updates: Array<{id: string; at: number}>): Promise<void> {
    if (updates.length === 0) return
    const pairs = JSON.stringify(updates.map((u) => [u.id, u.at]))
    await sql`update api_keys set last_used_at = max(coalesce(api_keys.last_used_at, 0), touched.at)
      from (select json_extract(value, '$[0]') as id, max(json_extract(value, '$[1]')) as at from json_each(${pairs}) group by 1) as touched
      where api_keys.id = touched.id`.execute(this.db)
  }

  /** App ids of the given key ids (unknown ids are absent from the map). */
  async appIdsOf(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db.selectFrom('api_keys').select(['id', 'app_id']).where('id', 'in', ids.slice(i, i + 500)).execute()
      for (const row of rows) out.set(row.id, row.app_id)
    }
    return out
  }

  private verificationQuery(hash: string) {
    return this.base()
      .innerJoin('teams', 'teams.id', 'apps.team_id')
      .innerJoin('users as app_creator', 'app_creator.id', 'apps.created_by')
      .leftJoin('rate_limit_overrides as key_limit', (join) => join.onRef('key_limit.target_id', '=', 'api_keys.id').on('key_limit.scope', '=', 'key'))
      .leftJoin('rate_limit_overrides as app_limit', (join) => join.onRef('app_limit.target_id', '=', 'apps.id').on('app_limit.scope', '=', 'app'))
      .select([
        'apps.name as app_name',
        'apps.contact_email as app_contact_email',
        'apps.description as app_description',
        'apps.created_at as app_created_at',
        'app_creator.username as app_created_by',
        'teams.id as team_id',
        'teams.slug as team_slug',
        'teams.name as team_name',
        'teams.contact_email as team_contact_email',
        'teams.created_at as team_created_at',
        'key_limit.rpm as key_rpm',
        'app_limit.rpm as app_rpm',
      ])
      .where('api_keys.hash', '=', hash)
  }

  /**
   * Everything verification needs about the key whose stored HMAC equals `hash`, in one
   * query: the key, its app with the owning team, and the rate-limit overrides of the key
   * and of the app (requests per minute). Undefined when no key has this hash.
   */
  async findForVerification(hash: string): Promise<{key: ApiKey; app: App; overrides: {key: number | undefined; app: number | undefined}} | undefined> {
    // The hot path of POST /v1/verify: the query is compiled once per connection and run with the hash swapped in.
    let compiled = verificationQueries.get(this.db)
    if (compiled === undefined) {
      const query = this.verificationQuery(HASH_PLACEHOLDER).compile()
      const at = query.parameters.indexOf(HASH_PLACEHOLDER)
      if (at < 0 || query.parameters.indexOf(HASH_PLACEHOLDER, at + 1) >= 0) throw new Error('the verification query must take the key hash as exactly one parameter')
      compiled = {query, at}
      verificationQueries.set(this.db, compiled)
    }
    const parameters = [...compiled.query.parameters]
    parameters[compiled.at] = hash
    const row = (await this.db.executeQuery<VerificationRow>({...compiled.query, parameters})).rows[0]
    if (row === undefined) return undefined
    const app: App = {
      id: row.app_id,
      slug: row.app_slug,
      name: row.app_name,
      team: toTeam({id: row.team_id, slug: row.team_slug, name: row.team_name, contact_email: row.team_contact_email, created_at: row.team_created_at}),
      contactEmail: row.app_contact_email,
      description: row.app_description,
      createdBy: row.app_created_by,
      createdAt: row.app_created_at,
    }
    return {key: toKey(row), app, overrides: {key: row.key_rpm ?? undefined, app: row.app_rpm ?? undefined}}
  }
}
