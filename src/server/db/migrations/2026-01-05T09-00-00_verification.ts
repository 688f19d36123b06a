/**
 * Verification, rate limits and usage. Frozen once shipped.
 *
 * - `verifier_tokens`: tokens protected APIs use to call `POST /v1/verify`
 *   (`akv_` + 40 base62), stored as SHA-256 plus a display start; names are unique.
 * - `rate_limit_overrides`: per-app or per-key verification limits in requests per
 *   minute, over the per-environment defaults of the settings.
 * - `usage_minutes`: verification and request counts aggregated per key, per UTC
 *   minute and per combination of source, code, route, client app, app version,
 *   user-agent family and OS, and client network (a keyed hash). Never a raw
 *   address or a key. The primary key starts with (key_id, minute), so an app's
 *   report reads ranges of its keys; `minute` is indexed for pruning.
 * - `usage_batches`: `Idempotency-Key`s of stored batches per verifier (kept a day),
 *   written in the batch's transaction, so a retried batch is never counted twice.
 */
import {sql, type Kysely} from 'kysely'

/** Creates the three tables. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('verifier_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('start', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('revoked_at', 'integer')
    .execute()

  await db.schema
    .createTable('rate_limit_overrides')
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('app', 'key')`))
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('rpm', 'integer', (c) => c.notNull().check(sql`rpm > 0`))
    .addColumn('updated_at', 'integer', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.references('users.id'))
    .addPrimaryKeyConstraint('rate_limit_overrides_pk', ['scope', 'target_id'])
    .execute()

  await db.schema
    .createTable('usage_minutes')
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('minute', 'integer', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('verify', 'gateway', 'reported')`))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('client_app', 'text', (c) => c.notNull())
    .addColumn('app_version', 'text', (c) => c.notNull())
    .addColumn('ua_family', 'text', (c) => c.notNull())
    .addColumn('ua_os', 'text', (c) => c.notNull())
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_minutes_pk', ['key_id', 'minute', 'source', 'code', 'route', 'client_app', 'app_version', 'ua_family', 'ua_os', 'network'])
    .modifyEnd(sql`without rowid`)
    .execute()
  await db.schema.createIndex('usage_minutes_minute_idx').on('usage_minutes').column('minute').execute()

  await db.schema
    .createTable('usage_batches')
    .addColumn('verifier_id', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('received_at', 'integer', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_batches_pk', ['verifier_id', 'idempotency_key'])
    .execute()
  await db.schema.createIndex('usage_batches_received_idx').on('usage_batches').column('received_at').execute()
}

/** Drops what `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('usage_batches').ifExists().execute()
  await db.schema.dropTable('usage_minutes').ifExists().execute()
  await db.schema.dropTable('rate_limit_overrides').ifExists().execute()
  await db.schema.dropTable('verifier_tokens').ifExists().execute()
}
