import type {Kysely, Selectable} from 'kysely'
import {KEY_ENVIRONMENTS, type KeyEnvironment} from '../../core/key-format.js'
import type {Database, VerifierTokensTable} from '../db/schema.js'
import type {Verifier} from '../model.js'

/**
 * The scope stored in `verifier_tokens.allowed_envs` (a JSON array, or null for every
 * environment), in {@link KEY_ENVIRONMENTS} order. Names this version does not know are
 * dropped, so a scope can only narrow: a column naming no known environment accepts none.
 */
export function parseAllowedEnvs(stored: string | null): readonly KeyEnvironment[] | null {
  if (stored === null) return null
  const parsed: unknown = JSON.parse(stored)
  if (!Array.isArray(parsed)) throw new Error(`verifier_tokens.allowed_envs is not a JSON array: ${stored}`)
  return Object.freeze(KEY_ENVIRONMENTS.filter((env) => (parsed as unknown[]).includes(env)))
}

function toVerifier(row: Selectable<VerifierTokensTable>): Verifier {
  return {id: row.id, name: row.name, start: row.start, createdAt: row.created_at, revokedAt: row.revoked_at, allowedEnvs: parseAllowedEnvs(row.allowed_envs)}
}

/** SQL for `verifier_tokens` (SHA-256 of the token and a display start; never the token). */
export class VerifiersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts a verifier token.
   * @param input.allowedEnvs the key environments it accepts (non-empty), or null for every environment.
   * @throws the SQLite unique violation when the name (or hash) is taken.
   */
  async insert(input: {id: string; name: string; tokenHash: string; start: string; createdAt: number; allowedEnvs: readonly KeyEnvironment[] | null}): Promise<Verifier> {
    const allowedEnvs = input.allowedEnvs === null ? null : Object.freeze(KEY_ENVIRONMENTS.filter((env) => input.allowedEnvs?.includes(env)))
    await this.db
      .insertInto('verifier_tokens')
      .values({
        id: input.id,
        name: input.name,
        token_hash: input.tokenHash,
        start: input.start,
        created_at: input.createdAt,
        revoked_at: null,
        allowed_envs: allowedEnvs === null ? null : JSON.stringify(allowedEnvs),
      })
      .execute()
    return {id: input.id, name: input.name, start: input.start, createdAt: input.createdAt, revokedAt: null, allowedEnvs}
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
