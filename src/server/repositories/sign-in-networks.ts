import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** SQL for `sign_in_networks`: keyed hashes of the networks each user signed in from (never addresses). */
export class SignInNetworksRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Whether `networkHash` signed in as `userId` before. */
  async isKnown(userId: string, networkHash: string): Promise<boolean> {
    const row = await this.db.selectFrom('sign_in_networks').select('user_id').where('user_id', '=', userId).where('network_hash', '=', networkHash).executeTakeFirst()
    return row !== undefined
  }

  /**
   * Records a successful sign-in from `networkHash` at `at` (ms) and keeps only the
   * `keep` most recent networks of the user.
   */
  async remember(userId: string, networkHash: string, at: number, keep: number): Promise<void> {
    await this.db
      .insertInto('sign_in_networks')
      .values({user_id: userId, network_hash: networkHash, last_signed_in_at: at})
      .onConflict((oc) => oc.columns(['user_id', 'network_hash']).doUpdateSet({last_signed_in_at: at}))
      .execute()
    const kept = this.db
      .selectFrom('sign_in_networks')
      .select('network_hash')
      .where('user_id', '=', userId)
      .orderBy('last_signed_in_at', 'desc')
      .orderBy('network_hash')
      .limit(keep)
    await this.db.deleteFrom('sign_in_networks').where('user_id', '=', userId).where('network_hash', 'not in', kept).execute()
  }

  /** How many networks are remembered for `userId`. */
  async count(userId: string): Promise<number> {
    const row = await this.db.selectFrom('sign_in_networks').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst()
    return Number(row?.n ?? 0)
  }
}
