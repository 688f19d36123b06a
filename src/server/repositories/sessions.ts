import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'
import type {Session} from '../model.js'

/** SQL for `sessions`. Stores the token's SHA-256, never the token. */
export class SessionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts a session. */
  async insert(input: {id: string; tokenHash: string; userId: string; createdAt: number; expiresAt: number}): Promise<Session> {
    await this.db
      .insertInto('sessions')
      .values({id: input.id, token_hash: input.tokenHash, user_id: input.userId, created_at: input.createdAt, expires_at: input.expiresAt})
      .execute()
    return {id: input.id, userId: input.userId, createdAt: input.createdAt, expiresAt: input.expiresAt, revokedAt: null}
  }

  /** The session whose token hashes to `tokenHash` (hex), or undefined. */
  async findByTokenHash(tokenHash: string): Promise<Session | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
    return row && {id: row.id, userId: row.user_id, createdAt: row.created_at, expiresAt: row.expires_at, revokedAt: row.revoked_at}
  }

  /** Marks a session revoked at `at` (ms); no-op when already revoked. */
  async revoke(id: string, at: number): Promise<void> {
    await this.db.updateTable('sessions').set({revoked_at: at}).where('id', '=', id).where('revoked_at', 'is', null).execute()
  }
}
