/**
 * Per-verifier key scope. Frozen once shipped.
 *
 * - `verifier_tokens.allowed_envs`: the key environments a verifier accepts, as a
 *   JSON array of environment names (e.g. `["prod"]`), or null for every
 *   environment. Existing verifiers keep null: they accept every key, as before.
 *   A key of another environment gets the verdict FORBIDDEN from that verifier.
 *   The check constraint keeps the column null or a non-empty JSON array.
 */
import {sql, type Kysely} from 'kysely'

/** Adds the nullable column `verifier_tokens.allowed_envs`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('verifier_tokens')
    .addColumn('allowed_envs', 'text', (c) =>
      c.check(sql`allowed_envs is null or (json_valid(allowed_envs) and json_type(allowed_envs) = 'array' and json_array_length(allowed_envs) > 0)`),
    )
    .execute()
}

/** Drops what `up` added (SQLite ≥ 3.35 drops columns). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('verifier_tokens').dropColumn('allowed_envs').execute()
}
