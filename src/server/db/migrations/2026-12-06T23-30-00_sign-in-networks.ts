/**
 * Networks each user has signed in from. Frozen once shipped.
 *
 * - `sign_in_networks`: one row per (user, network) that signed in successfully
 *   as that user: `network_hash` is a keyed hash (HMAC-SHA256 under a key
 *   derived from the server pepper) of the user id and the client network
 *   (IPv4 /24, IPv6 /48), never the address itself; `last_signed_in_at` in ms.
 *   Sign-in throttling lets these networks past the per-username ceiling. The
 *   service keeps a bounded number of rows per user (the most recent).
 */
import {sql, type Kysely} from 'kysely'

/** Creates `sign_in_networks`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sign_in_networks')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('network_hash', 'text', (c) => c.notNull())
    .addColumn('last_signed_in_at', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('sign_in_networks_pk', ['user_id', 'network_hash'])
    .modifyEnd(sql`without rowid`)
    .execute()
}

/** Drops `sign_in_networks`. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sign_in_networks').execute()
}
