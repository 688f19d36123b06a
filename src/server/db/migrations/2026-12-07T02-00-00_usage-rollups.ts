/**
 * Usage at three resolutions with small rows. Frozen once shipped.
 *
 * - `usage_values`: every dimension value (key ids, sources, codes, routes, client
 *   apps, versions, user-agent families and OSs, network hashes) once, as an
 *   integer id; usage rows hold these ids instead of text.
 * - `usage_minute`, `usage_hour`, `usage_day`: counts per time bucket and
 *   combination of dimension ids. `minute` is the bucket's start in minutes since
 *   the Unix epoch (UTC) at every level (an hour bucket is a multiple of 60, a day
 *   bucket a multiple of 1440). Primary keys lead with time, so new rows are
 *   appended, a bucket is one range and retention deletes from the front;
 *   `usage_hour_key_idx` reads one key's hours by time.
 * - `usage_levels`: per level, `rolled_before` (buckets before it are added into the
 *   next coarser level: `minute` → hours, `hour` → days; null until the first rollup)
 *   and `pruned_before` (rows before it may be deleted and are never read), both in
 *   minutes since the epoch.
 * - The old `usage_minutes` rows move into `usage_minute` (the rollup then adds them
 *   into hours and days); `usage_minutes` becomes a read-only view with the old
 *   columns (text values, `minute` in ms) over `usage_minute`.
 */
import {sql, type Kysely} from 'kysely'

const DIMENSIONS = ['source', 'code', 'route', 'client_app', 'app_version', 'ua_family', 'ua_os', 'network'] as const

/** Creates the tables, moves `usage_minutes` into them and replaces it with a view. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table usage_values (id integer primary key, value text not null unique)`.execute(db)
  for (const level of ['minute', 'hour', 'day']) {
    await sql
      .raw(
        `create table usage_${level} (minute integer not null, key_id integer not null, ${DIMENSIONS.map((d) => `${d} integer not null`).join(', ')}, count integer not null, ` +
          `primary key (minute, key_id, ${DIMENSIONS.join(', ')})) without rowid`,
      )
      .execute(db)
  }
  await sql`create index usage_hour_key_idx on usage_hour (key_id, minute)`.execute(db)
  await sql`create table usage_levels (level text primary key, rolled_before integer, pruned_before integer not null) without rowid`.execute(db)
  await sql`insert into usage_levels (level, rolled_before, pruned_before) values ('minute', null, 0), ('hour', null, 0), ('day', null, 0)`.execute(db)

  const columns = ['key_id', ...DIMENSIONS]
  await sql.raw(`insert or ignore into usage_values (value) ${columns.map((c) => `select ${c} from usage_minutes`).join(' union ')}`).execute(db)
  await sql
    .raw(
      `insert into usage_minute (minute, ${columns.join(', ')}, count) select m.minute / 60000, ${columns.map((c) => `v_${c}.id`).join(', ')}, m.count from usage_minutes m ` +
        columns.map((c) => `join usage_values v_${c} on v_${c}.value = m.${c}`).join(' '),
    )
    .execute(db)
  await sql`drop table usage_minutes`.execute(db)
  await sql
    .raw(
      `create view usage_minutes as select u.minute * 60000 as minute, ${columns.map((c) => `v_${c}.value as ${c}`).join(', ')}, u.count as count from usage_minute u ` +
        columns.map((c) => `join usage_values v_${c} on v_${c}.id = u.${c}`).join(' '),
    )
    .execute(db)
}

/** Back to the `usage_minutes` table, with the minute rows still kept (hours and days are dropped). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create table usage_minutes_old as select * from usage_minutes`.execute(db)
  await sql`drop view usage_minutes`.execute(db)
  await db.schema
    .createTable('usage_minutes')
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('minute', 'integer', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
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
  await sql`insert into usage_minutes select key_id, minute, source, code, route, client_app, app_version, ua_family, ua_os, network, count from usage_minutes_old`.execute(db)
  await sql`drop table usage_minutes_old`.execute(db)
  for (const table of ['usage_levels', 'usage_day', 'usage_hour', 'usage_minute', 'usage_values']) await sql.raw(`drop table ${table}`).execute(db)
}
