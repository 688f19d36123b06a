/**
 * Opens the service database: a SQLite file through better-sqlite3 in WAL
 * mode with a busy timeout, wrapped in Kysely, migrated to the latest schema.
 */
import {closeSync, existsSync, mkdirSync, openSync} from 'node:fs'
import {dirname} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {Kysely, Migrator, SqliteDialect, type MigrationProvider, type Migration} from 'kysely'
import {ApikeyError} from '../../core/errors.js'
import type {Database} from './schema.js'
import {migrations} from './migrations/index.js'

/** How long a writer waits for a lock held by another connection, in ms. */
export const BUSY_TIMEOUT_MS = 5_000

/** An open database. */
export interface DatabaseHandle {
  /** Query builder over the whole schema. Only repositories use it. */
  db: Kysely<Database>
  /** Absolute or relative path of the SQLite file as opened. */
  path: string
  /** SQLite `journal_mode` in effect (`wal` for files). */
  journalMode: string
  /** Closes the connection (idempotent). */
  close(): Promise<void>
}

/** The static migration provider (see `migrations/index.ts`). */
export const staticMigrationProvider: MigrationProvider = {
  getMigrations: async (): Promise<Record<string, Migration>> => ({...migrations}),
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * Refuse when the file does not exist instead of creating it (and its directory): every
   * command but `server start` works on an existing database and never creates one.
   * Default false.
   */
  mustExist?: boolean
  /**
   * Runs on the open database before any migration (so before anything is written);
   * throwing refuses the open (the database is closed, the error rethrown).
   */
  beforeMigrations?: (db: Kysely<Database>) => Promise<void>
}

/**
 * Opens the SQLite file at `path` — creating it (0600, in a 0700 directory) when missing,
 * unless `options.mustExist` — sets `journal_mode=WAL`, `busy_timeout`, `foreign_keys=ON` and
 * `synchronous=NORMAL`, runs `options.beforeMigrations`, and applies pending migrations.
 * @throws ApikeyError `not_found` when `mustExist` and there is no file at `path` (nothing is
 *   created); whatever `beforeMigrations` throws; Error when the file cannot be opened or a
 *   migration fails (the database is closed before throwing).
 */
export async function openDatabase(path: string, options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (options.mustExist === true) {
    if (path === ':memory:' || !existsSync(path)) throw noDatabaseError(path)
  } else {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    // A new database file is created 0600 (SQLite gives its -wal and -shm files the same mode):
    // it holds key hashes, sessions and the audit log. An existing file keeps its mode.
    if (path !== ':memory:') {
      try {
        closeSync(openSync(path, 'wx', 0o600))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
  }
  let sqlite: BetterSqlite3.Database
  try {
    sqlite = new BetterSqlite3(path, {fileMustExist: options.mustExist === true})
  } catch (error) {
    if (options.mustExist === true && /does not exist/i.test((error as Error).message)) throw noDatabaseError(path)
    throw error
  }
  let journalMode: string
  try {
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    journalMode = String(sqlite.pragma('journal_mode = WAL', {simple: true}))
    sqlite.pragma('foreign_keys = ON')
    sqlite.pragma('synchronous = NORMAL')
  } catch (error) {
    sqlite.close()
    throw error
  }
  const db = new Kysely<Database>({dialect: new SqliteDialect({database: withStatementCache(sqlite)})})
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await db.destroy()
    if (sqlite.open) sqlite.close()
  }
  try {
    if (options.beforeMigrations !== undefined) await options.beforeMigrations(db)
    await migrateToLatest(db)
  } catch (error) {
    await close()
    throw error
  }
  return {db, path, journalMode, close}
}

/** The error for a database file that is not there (see {@link OpenDatabaseOptions.mustExist}). */
export function noDatabaseError(path: string): ApikeyError {
  return new ApikeyError(`there is no key service database at ${path}; nothing was created`, {
    code: 'not_found',
    suggestions: ['pass the database of the key service: --db PATH (as given to apikey server start --db)', 'or create it by starting the service once: apikey server start'],
    details: {dbPath: path},
  })
}

/**
 * Applies every pending migration from {@link staticMigrationProvider}.
 * @throws Error naming the failed migration.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({db, provider: staticMigrationProvider})
  const {error, results} = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error !== undefined) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`, {cause: error})
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Most prepared statements {@link withStatementCache} keeps (the cache starts over when full). */
export const STATEMENT_CACHE_SIZE = 256

/**
 * The connection as Kysely's SQLite driver sees it, with prepared statements reused per SQL
 * text: the driver prepares every query it runs, and preparing costs more than running an
 * indexed lookup (the verification path runs the same few statements all the time). A
 * statement still busy (an open iterator of a streamed query) is never handed out twice:
 * that call gets a fresh one. SQLite re-prepares a cached statement by itself after a
 * schema change (sqlite3_prepare_v2).
 * @param sqlite an open better-sqlite3 connection; closing the result closes it.
 */
export function withStatementCache(sqlite: BetterSqlite3.Database): {prepare(sql: string): BetterSqlite3.Statement; close(): void} {
  const statements = new Map<string, BetterSqlite3.Statement>()
  return {
    prepare(sql: string): BetterSqlite3.Statement {
      const cached = statements.get(sql)
      if (cached !== undefined && !cached.busy) return cached
      const statement = sqlite.prepare(sql)
      if (cached === undefined) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear()
        statements.set(sql, statement)
      }
      return statement
    },
    close(): void {
      statements.clear()
      sqlite.close()
    },
  }
}
