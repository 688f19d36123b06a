/**
 * Per-app breakdowns of weekly usage, for reports over weeks. Frozen once shipped.
 *
 * - `usage_facet_week`: the facets of `usage_facet_day` (same columns) summed per
 *   week: `minute` is the week's start in minutes since the Unix epoch, a multiple of
 *   10 080 (weeks start on Thursdays, as the epoch does).
 * - `usage_levels` row `day`: its `rolled_before` now means days before it are in
 *   weeks. Weeks whose days are all rolled get their facets here.
 */
import {sql, type Kysely} from 'kysely'

const WEEK = 10_080

/** Creates `usage_facet_week` and fills it with the whole weeks of day facets already stored. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table usage_facet_week (app_id text not null, minute integer not null, source integer not null, facet integer not null, value integer not null, code integer not null, count integer not null, primary key (app_id, minute, source, facet, value, code)) without rowid`.execute(db)
  await sql`create index usage_facet_week_minute_idx on usage_facet_week (minute)`.execute(db)
  const marks = await sql<{rolled_before: number | null}>`select rolled_before from usage_levels where level = 'hour'`.execute(db)
  const daysFrom = marks.rows[0]?.rolled_before ?? null
  if (daysFrom === null) return
  const weeksFrom = Math.floor(Number(daysFrom) / WEEK) * WEEK
  await sql
    .raw(
      `insert into usage_facet_week (app_id, minute, source, facet, value, code, count) select app_id, (minute / ${WEEK}) * ${WEEK}, source, facet, value, code, sum(count) ` +
        `from usage_facet_day where minute < ${weeksFrom} group by 1, 2, 3, 4, 5, 6`,
    )
    .execute(db)
  await sql`update usage_levels set rolled_before = ${weeksFrom} where level = 'day'`.execute(db)
}

/** Drops `usage_facet_week`; the `day` level's mark goes back to unused. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table usage_facet_week`.execute(db)
  await sql`update usage_levels set rolled_before = null where level = 'day'`.execute(db)
}
