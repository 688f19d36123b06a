import type {Kysely, Selectable} from 'kysely'
import type {Database, VerifierTokensTable} from '../db/schema.js'
import type {Verifier} from '../model.js'

function toVerifier(row: Selectable<VerifierTokensTable>): Verifier {
  return {id: row.id, name: row.name, start: row.start, createdAt: row.created_at, revokedAt: row.revoked_at}
}

/** SQL for `verifier_tokens` (SHA-256 of the token and a display start; never the token). */
export class VerifiersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts a verifier token. @throws the SQLite unique violation when the name (or hash) is taken. */
  async insert(input: {id: string; name: string; tokenHash: string; start: string; createdAt: number}): Promise<Verifier> {
    await this.db
      .insertInto('verifier_tokens')
      .values({id: input.id, name: input.name, token_hash: input.tokenHash, start: input.start, created_at: input.createdAt, revoked_at: null})
      .execute()
    return {id: input.id, name: input.name, start: input.start, createdAt: input.createdAt, revokedAt: null}
  }

  /** The verifier whose token hashes to `tokenHash` (hex SHA-256), or undefined. */
  async findByTokenHash(tokenHash: string): Promise<Verifier | undefined> {
    const row = await this.db.selectFrom('verifier_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
    return row && toVerifier(row)
  }

  /** The verifier with this id or name, or undefined. */
  async findByIdOrName(idOrName: string): Promise<Verifier | undefined> {
    const row = await this.db.selectFrom('verifier_tokens').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst()
    return row && toVerifier(row)
  }

  /** Marks a verifier revoked at `at` (ms) unless it already is. @returns whether a row changed. */
  async revoke(id: string, at: number): Promise<boolean> {
    const result = await this.db.updateTable('verifier_tokens').set({revoked_at: at}).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Every verifier, by name. */
  async list(): Promise<Verifier[]> {
    return (await this.db.selectFrom('verifier_tokens').selectAll().orderBy('name').execute()).map(toVerifier)
  }
}
