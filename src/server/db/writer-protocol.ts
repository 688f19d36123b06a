/**
 * What the main thread and the database writer thread (`writer-worker.ts`) say to each other,
 * and the connection settings every read-write connection of the service database gets.
 */
import type BetterSqlite3 from 'better-sqlite3'

/** How long a connection waits for a lock held by another connection, in ms (SQLite's busy timeout). */
export const BUSY_TIMEOUT_MS = 5_000

/**
 * How much lower than the rest of the service the writer thread runs (Linux `nice` steps, applied
 * to this thread alone): when the CPU is short, the event loop answering verifications and sign-ins
 * gets it first, and bulk writes (usage batches, rollups) wait — their queue is bounded and answers
 * 503 with Retry-After when full, and a batch is acknowledged only after its commit.
 */
export const WRITER_NICENESS = 10

/** What the writer thread is started with (its `workerData`). */
export interface WriterOptions {
  /** The SQLite file. */
  path: string
  /** Refuse a missing file instead of creating it. */
  fileMustExist: boolean
}

/** A message to the writer thread: run one statement, or close the connection (the thread then ends). */
export type WriterRequest = {type: 'query'; id: number; sql: string; parameters: readonly unknown[]} | {type: 'close'; id: number}

/** A plain-data error from the writer thread: SQLite's `code` (e.g. `SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`) is kept. */
export interface WriterErrorData {
  message: string
  name: string
  code: string | undefined
}

/** A message from the writer thread. */
export type WriterReply =
  | {type: 'ready'; journalMode: string}
  | {type: 'failed'; error: WriterErrorData}
  | {type: 'result'; id: number; rows: unknown[]; changes?: number; lastInsertRowid?: number}
  | {type: 'error'; id: number; error: WriterErrorData}

/**
 * Sets up a read-write connection of the service database: `busy_timeout` ({@link BUSY_TIMEOUT_MS}),
 * `journal_mode=WAL`, `foreign_keys=ON`, `synchronous=NORMAL`.
 * @returns the journal mode in effect (`wal` for files, `memory` for `:memory:`).
 * @throws the SQLite error of a pragma (the caller closes the connection).
 */
export function configureConnection(sqlite: BetterSqlite3.Database): string {
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  const journalMode = String(sqlite.pragma('journal_mode = WAL', {simple: true}))
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('synchronous = NORMAL')
  return journalMode
}

/**
 * The error a caller sees for a {@link WriterErrorData}: an Error with the same message, name
 * (`SqliteError` for SQLite's errors) and `code`, so checks such as `isUniqueViolation` work as
 * on a connection of the main thread.
 */
export function writerError(data: WriterErrorData): Error & {code?: string} {
  const error = new Error(data.message) as Error & {code?: string}
  error.name = data.name
  if (data.code !== undefined) error.code = data.code
  return error
}
