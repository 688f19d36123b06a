/**
 * The database writer of a running key service: a worker thread (node:worker_threads) that owns
 * the service's one read-write SQLite connection and runs the SQL the main thread sends it, one
 * statement at a time, in arrival order. SQLite's work — commits and their fsync, busy waits on a
 * lock held by another process, WAL checkpoints, big inserts — happens here, never on the event
 * loop that answers verifications. The main thread side is `writer-dialect.ts`; the messages are
 * {@link WriterRequest} and {@link WriterReply}.
 */
import {readlinkSync} from 'node:fs'
import {getPriority, setPriority} from 'node:os'
import {parentPort, workerData} from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'
import {configureConnection, WRITER_NICENESS, type WriterOptions, type WriterReply, type WriterRequest} from './writer-protocol.js'

const port = parentPort
if (port === null) throw new Error('writer-worker.js runs only as a worker thread (new Worker(...))')
const options = workerData as WriterOptions

lowerOwnPriority()

let sqlite: BetterSqlite3.Database
try {
  sqlite = new BetterSqlite3(options.path, {fileMustExist: options.fileMustExist})
  const journalMode = configureConnection(sqlite)
  port.postMessage({type: 'ready', journalMode} satisfies WriterReply)
} catch (error) {
  port.postMessage({type: 'failed', error: serializeError(error)} satisfies WriterReply)
  process.exit(0)
}

/** Prepared statements per SQL text (the service runs the same few statements all the time). */
const statements = new Map<string, BetterSqlite3.Statement>()
const STATEMENT_CACHE_SIZE = 256

function prepare(sql: string): BetterSqlite3.Statement {
  const cached = statements.get(sql)
  if (cached !== undefined) return cached
  const statement = sqlite.prepare(sql)
  if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear()
  statements.set(sql, statement)
  return statement
}

port.on('message', (request: WriterRequest) => {
  if (request.type === 'close') {
    try {
      statements.clear()
      // Closing the last connection checkpoints the WAL into the database file.
      if (sqlite.open) sqlite.close()
      port.postMessage({type: 'result', id: request.id, rows: []} satisfies WriterReply)
    } catch (error) {
      port.postMessage({type: 'error', id: request.id, error: serializeError(error)} satisfies WriterReply)
    }
    port.close()
    return
  }
  let reply: WriterReply
  try {
    const statement = prepare(request.sql)
    if (statement.reader) {
      reply = {type: 'result', id: request.id, rows: statement.all(request.parameters) as unknown[]}
    } else {
      const {changes, lastInsertRowid} = statement.run(request.parameters)
      reply = {type: 'result', id: request.id, rows: [], changes, lastInsertRowid: typeof lastInsertRowid === 'bigint' ? Number(lastInsertRowid) : lastInsertRowid}
    }
  } catch (error) {
    reply = {type: 'error', id: request.id, error: serializeError(error)}
  }
  port.postMessage(reply)
})

/** An error as plain data (message, name and SQLite's `code`, e.g. `SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`). */
function serializeError(error: unknown): {message: string; name: string; code: string | undefined} {
  if (error instanceof Error) {
    const code = (error as {code?: unknown}).code
    return {message: error.message, name: error.name, code: typeof code === 'string' ? code : undefined}
  }
  return {message: String(error), name: 'Error', code: undefined}
}

/**
 * Lowers this thread's scheduling priority by {@link WRITER_NICENESS} below the process's (Linux:
 * `/proc/thread-self` names the thread, and `setpriority` on a thread id affects that thread only).
 * Elsewhere, or where the system refuses, the thread keeps the process's priority: nothing else
 * depends on it.
 */
function lowerOwnPriority(): void {
  if (process.platform !== 'linux') return
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority() + WRITER_NICENESS))
  } catch {
    // Keep the process's priority.
  }
}
