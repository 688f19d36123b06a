/**
 * Key lifecycle, audit and CI provisioning. Frozen once shipped.
 *
 * - `api_keys`: rotation state (`rotated_at`, `replaced_by`, `grace_ends_at`)
 *   and `created_by_token` (the provisioning token that issued a CI key; the
 *   token's creator stays in `created_by`).
 * - `audit_events`: `actor_token_id`, `app_id` (which app an event concerns,
 *   for owners' audit reads) and `source_address`. Adding columns is a schema
 *   change, not an UPDATE: the append-only triggers stay in force.
 * - `provisioning_tokens`: app-scoped CI tokens, stored as SHA-256 plus a display start.
 */
import {sql, type Kysely} from 'kysely'

/** Adds the columns and the table above. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('rotated_at', 'integer').execute()
  await db.schema.alterTable('api_keys').addColumn('replaced_by', 'text', (c) => c.references('api_keys.id')).execute()
  await db.schema.alterTable('api_keys').addColumn('grace_ends_at', 'integer').execute()
  await db.schema.alterTable('api_keys').addColumn('created_by_token', 'text').execute()

  await db.schema.alterTable('audit_events').addColumn('actor_token_id', 'text').execute()
  await db.schema.alterTable('audit_events').addColumn('app_id', 'text').execute()
  await db.schema.alterTable('audit_events').addColumn('source_address', 'text').execute()
  await db.schema.createIndex('audit_events_app_idx').on('audit_events').columns(['app_id', 'at']).execute()
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute()

  await db.schema
    .createTable('provisioning_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('ci')`))
    .addColumn('name', 'text')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('start', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'integer', (c) => c.notNull())
    .addColumn('revoked_at', 'integer')
    .addColumn('revoked_by', 'text', (c) => c.references('users.id'))
    .addColumn('last_used_at', 'integer')
    .execute()
  await db.schema.createIndex('provisioning_tokens_app_idx').on('provisioning_tokens').columns(['app_id', 'created_at']).execute()
}

/** Drops what `up` added (SQLite ≥ 3.35 drops columns). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('provisioning_tokens').ifExists().execute()
  await db.schema.dropIndex('audit_events_at_idx').ifExists().execute()
  await db.schema.dropIndex('audit_events_app_idx').ifExists().execute()
  for (const column of ['source_address', 'app_id', 'actor_token_id']) await db.schema.alterTable('audit_events').dropColumn(column).execute()
  for (const column of ['created_by_token', 'grace_ends_at', 'replaced_by', 'rotated_at']) await db.schema.alterTable('api_keys').dropColumn(column).execute()
}
