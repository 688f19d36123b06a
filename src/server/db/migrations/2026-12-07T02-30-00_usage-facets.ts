/**
 * Per-app breakdowns of hourly and daily usage, for reports. Frozen once shipped.
 *
 * - `usage_facet_hour`, `usage_facet_day`: per app (`app_id`, text), bucket
 *   (`minute`, as in `usage_hour`/`usage_day`) and source, one count per value of one
 *   facet: 0 = key (with `code`: counts per key and outcome), 1 = route, 2 = client
 *   app, 3 = app version, 4 = user-agent family, 5 = user-agent OS, 6 = network;
 *   `value` and `code` are `usage_values` ids (`code` 0 for facets other than key).
 *   A report adds up a few thousand of these per day instead of every combination
 *   of dimensions. They are written with the rows of `usage_hour`/`usage_day` they
 *   summarize (same transaction) and deleted with them.
 * - Hours and days already stored get their facets here.
 */
import {sql, type Kysely} from 'kysely'

/** SQL choosing a facet's value column of a usage row `u` (facet numbers as in the module comment). */
const FACET_VALUE_SQL = 'case f.facet when 0 then u.key_id when 1 then u.route when 2 then u.client_app when 3 then u.app_version when 4 then u.ua_family when 5 then u.ua_os else u.network end'
/** The facet numbers as a table `f(facet)`. */
const FACETS_TABLE_SQL = '(select 0 as facet union all select 1 union all select 2 union all select 3 union all select 4 union all select 5 union all select 6) f'

/** Creates the facet tables and fills them from the hours and days stored. */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const level of ['hour', 'day']) {
    await sql
      .raw(
        `create table usage_facet_${level} (app_id text not null, minute integer not null, source integer not null, facet integer not null, value integer not null, code integer not null, count integer not null, ` +
          'primary key (app_id, minute, source, facet, value, code)) without rowid',
      )
      .execute(db)
    await sql.raw(`create index usage_facet_${level}_minute_idx on usage_facet_${level} (minute)`).execute(db)
    await sql
      .raw(
        `insert into usage_facet_${level} (app_id, minute, source, facet, value, code, count) ` +
          `select a.app_id, u.minute, u.source, f.facet, ${FACET_VALUE_SQL}, case f.facet when 0 then u.code else 0 end, sum(u.count) ` +
          `from usage_${level} u join usage_values kv on kv.id = u.key_id join api_keys a on a.id = kv.value cross join ${FACETS_TABLE_SQL} ` +
          'group by a.app_id, u.minute, u.source, f.facet, 5, 6',
      )
      .execute(db)
  }
}

/** Drops the facet tables. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table usage_facet_day`.execute(db)
  await sql`drop table usage_facet_hour`.execute(db)
}
