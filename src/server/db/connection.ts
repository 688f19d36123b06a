/**
 * Opens the service database: a SQLite file through better-sqlite3 in WAL
 * mode with a busy timeout, wrapped in Kysely, migrated to the latest schema.
 *
 * Two ways: the key service ({@link OpenDatabaseOptions.writerThread}) writes through one
 * connection in a writer thread (`writer-dialect.ts`, `writer-worker.ts`) and reads its hot-path
 * lookups through a read-only connection on the main thread; admin commands and tools use one
 * connection on the calling thread. Either way every transaction starts with `BEGIN IMMEDIATE`,
 * so a writer that meets another process's lock waits up to {@link BUSY_TIMEOUT_MS} instead of
 * failing at once.
 */
import {closeSync, existsSync, mkdirSync, openSync} from 'node:fs'
import {dirname} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {CompiledQuery, Kysely, Migrator, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type MigrationProvider, type Migration, type SqliteDialectConfig, type TransactionSettings} from 'kysely'
import {ApikeyError} from '../../core/errors.js'
import type {Database} from './schema.js'
import {migrations} from './migrations/index.js'
import {BUSY_TIMEOUT_MS, configureConnection} from './writer-protocol.js'
import {beginStatement, rollback, WriterDialect, WriterGate, WriterThread, type WriterStats} from './writer-dialect.js'

export {BUSY_TIMEOUT_MS} from './writer-protocol.js'

/** An open database. */
export interface DatabaseHandle {
  /**
   * Query builder over the whole schema, for reads and writes. Only repositories use it. With a
   * writer thread: its queries wait in the writer's interactive lane.
   */
  db: Kysely<Database>
  /**
   * Like {@link db}, for bulk writes (usage batches, the usage flush, rollups, retention): with a
   * writer thread they wait behind interactive writes, in a bounded queue (a write beyond the bound
   * fails at once with `WriterQueueFullError`). Without one: {@link db} itself.
   */
  bulkDb: Kysely<Database>
  /**
   * Read-only query builder for hot-path point lookups (keys, sessions, verifier tokens, the audit
   * log's newest entries): with a writer thread, a connection of this thread with `query_only=ON`
   * that never waits for the writer (WAL readers see the last commit). Without one: {@link db}.
   * Never for scans: they would block this thread.
   */
  readDb: Kysely<Database>
  /** Absolute or relative path of the SQLite file as opened. */
  path: string
  /** SQLite `journal_mode` in effect (`wal` for files). */
  journalMode: string
  /** The writer's queue counters, or undefined without a writer thread. */
  writerStats(): WriterStats | undefined
  /**
   * Calls `listener` once if the writer thread fails or stops before {@link close} (every write
   * then fails with that error). Without a writer thread: never.
   */
  onWriterFailure(listener: (error: Error) => void): void
  /**
   * Closes the database (idempotent): with a writer thread, new writes are refused, the writes
   * already waiting run to their end, then the connections close and the thread ends.
   */
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
  /**
   * Write through a writer thread and read hot-path lookups through a read-only connection of
   * this thread (see {@link DatabaseHandle}); `bulkQueueLimit` bounds the bulk writes waiting.
   * For the key service. Default: one connection on this thread.
   */
  writerThread?: {bulkQueueLimit: number}
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
  const opened = options.writerThread !== undefined && path !== ':memory:' ? await openWithWriterThread(path, options.mustExist === true, options.writerThread.bulkQueueLimit) : openOnThisThread(path, options.mustExist === true)
  try {
    if (options.beforeMigrations !== undefined) await options.beforeMigrations(opened.db)
    await migrateToLatest(opened.db)
    opened.openReader()
  } catch (error) {
    await opened.close()
    throw error
  }
  return opened
}

type Opened = DatabaseHandle & {openReader(): void}

/** One connection on this thread (admin commands, tools). */
function openOnThisThread(path: string, mustExist: boolean): Opened {
  let sqlite: BetterSqlite3.Database
  try {
    sqlite = new BetterSqlite3(path, {fileMustExist: mustExist})
  } catch (error) {
    if (mustExist && /does not exist/i.test((error as Error).message)) throw noDatabaseError(path)
    throw error
  }
  let journalMode: string
  try {
    journalMode = configureConnection(sqlite)
  } catch (error) {
    sqlite.close()
    throw error
  }
  const db = new Kysely<Database>({dialect: new ImmediateSqliteDialect({database: withStatementCache(sqlite)})})
  let closed = false
  return {
    db,
    bulkDb: db,
    readDb: db,
    path,
    journalMode,
    writerStats: () => undefined,
    onWriterFailure: () => undefined,
    openReader: () => undefined,
    close: async () => {
      if (closed) return
      closed = true
      await db.destroy()
      if (sqlite.open) sqlite.close()
    },
  }
}

/** The key service's way: a writer thread, and a read-only connection on this thread opened after the migrations. */
async function openWithWriterThread(path: string, mustExist: boolean, bulkQueueLimit: number): Promise<Opened> {
  let thread: WriterThread
  try {
    thread = await WriterThread.start({path, fileMustExist: mustExist})
  } catch (error) {
    if (mustExist && /does not exist/i.test((error as Error).message)) throw noDatabaseError(path)
    throw error
  }
  const gate = new WriterGate(bulkQueueLimit)
  const db = new Kysely<Database>({dialect: new WriterDialect(thread, gate, 'interactive')})
  const bulkDb = new Kysely<Database>({dialect: new WriterDialect(thread, gate, 'bulk')})
  let reader: BetterSqlite3.Database | undefined
  let readDb: Kysely<Database> = db
  let closing: Promise<void> | undefined
  const handle: Opened = {
    db,
    bulkDb,
    get readDb() {
      return readDb
    },
    path,
    journalMode: thread.journalMode,
    writerStats: () => gate.stats(),
    onWriterFailure: (listener) => thread.onFailure(listener),
    openReader: () => {
      const sqlite = new BetterSqlite3(path, {fileMustExist: true})
      try {
        sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
        sqlite.pragma('query_only = ON')
      } catch (error) {
        sqlite.close()
        throw error
      }
      reader = sqlite
      readDb = new Kysely<Database>({dialect: new ImmediateSqliteDialect({database: withStatementCache(sqlite)})})
    },
    close: () => {
      closing ??= (async () => {
        await gate.close()
        if (readDb !== db) await readDb.destroy()
        if (reader?.open === true) reader.close()
        await db.destroy()
        await bulkDb.destroy()
        // The writer's connection closes last, so that it checkpoints the WAL.
        await thread.close()
      })()
      return closing
    },
  }
  return handle
}

/** Kysely's SQLite dialect with transactions that start with `BEGIN IMMEDIATE` (see the module comment). */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings)
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings)
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  /**
   * `BEGIN IMMEDIATE` waits for another connection's write lock up to {@link BUSY_TIMEOUT_MS}
   * without blocking this thread: the connection's busy timeout is off for the `BEGIN`, which is
   * retried on `SQLITE_BUSY` after short sleeps. (A synchronous busy wait would also stop this
   * thread from driving a transaction of the service's writer thread in the same process — the
   * test harness runs admin commands there — which then holds the lock until the timeout.)
   * @throws the last `SQLITE_BUSY` error once the timeout has passed.
   */
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings = {}): Promise<void> {
    const begin = CompiledQuery.raw(beginStatement(settings))
    if (settings.accessMode === 'read only') {
      await connection.executeQuery(begin)
      return
    }
    await connection.executeQuery(CompiledQuery.raw('pragma busy_timeout = 0'))
    try {
      const deadline = Date.now() + BUSY_TIMEOUT_MS
      for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
        try {
          await connection.executeQuery(begin)
          return
        } catch (error) {
          if ((error as {code?: unknown}).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error
          await new Promise((resolve) => setTimeout(resolve, wait))
        }
      }
    } finally {
      await connection.executeQuery(CompiledQuery.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`))
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await rollback(connection)
  }
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
