/**
 * Repositories: the only place with SQL. Each takes a Kysely handle (the
 * database or a transaction) and returns domain types from `model.ts`.
 */
import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'
import {AppsRepository} from './apps.js'
import {AuditRepository} from './audit.js'
import {KeysRepository} from './keys.js'
import {MetaRepository} from './meta.js'
import {SessionsRepository} from './sessions.js'
import {TeamsRepository} from './teams.js'
import {TokensRepository} from './tokens.js'
import {UsersRepository} from './users.js'

/** Every repository over one handle. */
export interface Repositories {
  users: UsersRepository
  teams: TeamsRepository
  apps: AppsRepository
  keys: KeysRepository
  sessions: SessionsRepository
  audit: AuditRepository
  meta: MetaRepository
  tokens: TokensRepository
}

/** Builds the repositories over `db` (the database or a transaction). */
export function repositories(db: Kysely<Database>): Repositories {
  return {
    users: new UsersRepository(db),
    teams: new TeamsRepository(db),
    apps: new AppsRepository(db),
    keys: new KeysRepository(db),
    sessions: new SessionsRepository(db),
    audit: new AuditRepository(db),
    meta: new MetaRepository(db),
    tokens: new TokensRepository(db),
  }
}

/**
 * Runs `work` in one SQLite transaction with repositories bound to it.
 * Rolls back when `work` throws, and rethrows.
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (repos: Repositories) => Promise<T>): Promise<T> {
  return db.transaction().execute((trx) => work(repositories(trx)))
}

/** Is `error` a SQLite UNIQUE / PRIMARY KEY constraint violation? */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as {code?: unknown} | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
