/**
 * Repositories: the only place with SQL. Each takes a Kysely handle (the
 * database or a transaction) and returns domain types from `model.ts`.
 */
import {sql, type Kysely} from 'kysely'
import type {Database} from '../db/schema.js'
export {isWriterQueueFull, WriterQueueFullError} from '../db/writer-dialect.js'
import {AppsRepository} from './apps.js'
import {AuditRepository} from './audit.js'
import {KeysRepository} from './keys.js'
import {LimitsRepository} from './limits.js'
import {MetaRepository} from './meta.js'
import {SessionsRepository} from './sessions.js'
import {SignInNetworksRepository} from './sign-in-networks.js'
import {TeamsRepository} from './teams.js'
import {TokensRepository} from './tokens.js'
import {UsageRepository} from './usage.js'
import {UsersRepository} from './users.js'
import {VerifiersRepository} from './verifiers.js'

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
  verifiers: VerifiersRepository
  limits: LimitsRepository
  usage: UsageRepository
  signInNetworks: SignInNetworksRepository
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
    verifiers: new VerifiersRepository(db),
    limits: new LimitsRepository(db),
    usage: new UsageRepository(db),
    signInNetworks: new SignInNetworksRepository(db),
  }
}

/**
 * Runs `work` in one SQLite transaction with repositories bound to it. It starts with
 * `BEGIN IMMEDIATE`: the write lock is taken first, so when another process holds it the
 * transaction waits up to the busy timeout (`BUSY_TIMEOUT_MS`) instead of failing with
 * `SQLITE_BUSY` on its first write. Rolls back when `work` throws, and rethrows.
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (repos: Repositories) => Promise<T>): Promise<T> {
  return db.transaction().execute((trx) => work(repositories(trx)))
}

/**
 * Runs read-only `work` on one consistent snapshot (a deferred `BEGIN`: no write lock is taken,
 * writers of other connections are not held up). `work` must not write.
 */
export async function inReadTransaction<T>(db: Kysely<Database>, work: (repos: Repositories) => Promise<T>): Promise<T> {
  return db
    .transaction()
    .setAccessMode('read only')
    .execute((trx) => work(repositories(trx)))
}

/**
 * Like {@link inTransaction}, but the commit is durable against power loss, not only
 * against a crash of the process: the connection runs with `PRAGMA synchronous=FULL`
 * for this transaction (the WAL is synced at commit), then back to `NORMAL`.
 * Use for writes acknowledged to another system (usage batches).
 */
export async function inDurableTransaction<T>(db: Kysely<Database>, work: (repos: Repositories) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`pragma synchronous = FULL`.execute(conn)
    try {
      return await conn.transaction().execute((trx) => work(repositories(trx)))
    } finally {
      await sql`pragma synchronous = NORMAL`.execute(conn)
    }
  })
}

/** Is `error` a SQLite UNIQUE / PRIMARY KEY constraint violation? */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as {code?: unknown} | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
