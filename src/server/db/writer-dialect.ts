/**
 * The main thread's side of the database writer: a Kysely dialect whose queries run in the writer
 * thread (`writer-worker.ts`), so `Kysely<Database>` works as before for every repository while
 * SQLite's work stays off the event loop.
 *
 * - One connection, held by one caller at a time: a single query holds it for one round trip, a
 *   transaction from `BEGIN IMMEDIATE` to its commit. `BEGIN IMMEDIATE` takes the write lock at
 *   the start, so a transaction that meets another process's lock waits on SQLite's busy timeout
 *   (a deferred transaction that read first could only fail at once with `SQLITE_BUSY`).
 * - Two lanes wait for it ({@link WriterGate}): `interactive` (everything a person or a request
 *   waits for: sign-in, issuance, revocation, admin changes) is always served before `bulk`
 *   (usage batches, the usage flush, rollups, retention). At most `bulkLimit` bulk callers wait;
 *   one more is refused at once with {@link WriterQueueFullError}, which `POST /v1/usage`
 *   answers 503 with `Retry-After`.
 */
import {Worker} from 'node:worker_threads'
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import {writerError, type WriterOptions, type WriterReply, type WriterRequest} from './writer-protocol.js'

/** Which queue a caller of the writer waits in (see the module comment). */
export type WriterLane = 'interactive' | 'bulk'

/** The bulk lane is full: the write was not started (nothing of it is stored). `code` is `WRITER_QUEUE_FULL`. */
export class WriterQueueFullError extends Error {
  /** Always `WRITER_QUEUE_FULL`. */
  readonly code = 'WRITER_QUEUE_FULL'
  /**
   * @param waiting bulk writes waiting when this one was refused.
   * @param limit the bound (`settings.writeQueueLimit`).
   */
  constructor(
    readonly waiting: number,
    readonly limit: number,
  ) {
    super(`the database writer is busy: ${waiting} bulk writes are waiting (at most ${limit})`)
    this.name = 'WriterQueueFullError'
  }
}

/** Is `error` a {@link WriterQueueFullError}? */
export function isWriterQueueFull(error: unknown): error is WriterQueueFullError {
  return error instanceof WriterQueueFullError
}

/** Counters of the writer's queue, for logs and benchmarks. */
export interface WriterStats {
  /** Callers waiting in the interactive lane now. */
  interactiveWaiting: number
  /** Callers waiting in the bulk lane now. */
  bulkWaiting: number
  /** Most bulk callers that ever waited at once. */
  bulkWaitingPeak: number
  /** Bulk callers refused because the lane was full, since start. */
  bulkRefused: number
}

/**
 * Who holds the writer's one connection, and who waits for it: interactive callers first, then
 * bulk callers, each in arrival order; at most `bulkLimit` bulk callers wait.
 */
export class WriterGate {
  private held = false
  private closed = false
  private readonly interactive: Array<() => void> = []
  private readonly bulk: Array<() => void> = []
  private idle: Array<() => void> = []
  private peak = 0
  private refused = 0

  /** @param bulkLimit most bulk callers waiting at once (≥ 1). */
  constructor(private readonly bulkLimit: number) {}

  /**
   * Resolves when the caller holds the connection (call {@link release} when done).
   * @throws WriterQueueFullError (bulk lane full); Error when the writer is closed.
   */
  acquire(lane: WriterLane): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the database is closed (the key service is shutting down)'))
    if (!this.held) {
      this.held = true
      return Promise.resolve()
    }
    if (lane === 'bulk') {
      if (this.bulk.length >= this.bulkLimit) {
        this.refused++
        return Promise.reject(new WriterQueueFullError(this.bulk.length, this.bulkLimit))
      }
      return new Promise((resolve) => {
        this.bulk.push(resolve)
        if (this.bulk.length > this.peak) this.peak = this.bulk.length
      })
    }
    return new Promise((resolve) => this.interactive.push(resolve))
  }

  /** Hands the connection to the next waiter, interactive first. */
  release(): void {
    const next = this.interactive.shift() ?? this.bulk.shift()
    if (next !== undefined) {
      next()
      return
    }
    this.held = false
    const idle = this.idle
    this.idle = []
    for (const resolve of idle) resolve()
  }

  /** Refuses new callers from now on; resolves once every caller already waiting has been served. */
  close(): Promise<void> {
    this.closed = true
    if (!this.held) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  /** See {@link WriterStats}. */
  stats(): WriterStats {
    return {interactiveWaiting: this.interactive.length, bulkWaiting: this.bulk.length, bulkWaitingPeak: this.peak, bulkRefused: this.refused}
  }
}

/**
 * Where the compiled writer thread is. From the built package it sits beside this module; when
 * this module runs from its TypeScript source (the test runner), the built copy of the server
 * package is used (`npm run build` first).
 */
export function writerWorkerUrl(): URL {
  if (import.meta.url.endsWith('.ts')) return new URL('../../../packages/server/dist/server/db/writer-worker.js', import.meta.url)
  return new URL('./writer-worker.js', import.meta.url)
}

/** The writer thread: one read-write connection of one SQLite file. */
export class WriterThread {
  private nextId = 1
  private readonly pending = new Map<number, {resolve: (reply: WriterReply) => void; reject: (error: Error) => void}>()
  private failure: Error | undefined
  private closing: Promise<void> | undefined
  private readonly failureListeners: Array<(error: Error) => void> = []

  private constructor(
    private readonly worker: Worker,
    /** SQLite `journal_mode` in effect (`wal` for files). */
    readonly journalMode: string,
  ) {
    worker.on('message', (reply: WriterReply) => {
      if (reply.type !== 'result' && reply.type !== 'error') return
      const waiter = this.pending.get(reply.id)
      if (waiter === undefined) return
      this.pending.delete(reply.id)
      if (reply.type === 'error') waiter.reject(writerError(reply.error))
      else waiter.resolve(reply)
    })
    const fail = (error: Error): void => {
      const first = this.failure === undefined
      this.failure ??= error
      for (const waiter of this.pending.values()) waiter.reject(this.failure)
      this.pending.clear()
      if (first && this.closing === undefined) for (const listener of this.failureListeners) listener(this.failure)
    }
    worker.on('error', (error) => fail(new Error(`the database writer thread failed: ${error.message}`, {cause: error})))
    worker.on('exit', () => fail(new Error('the database writer thread has stopped')))
  }

  /**
   * Starts the thread and opens `options.path` in it (see `configureConnection`).
   * @throws the error of opening the file (e.g. SQLite's "unable to open database file").
   */
  static async start(options: WriterOptions): Promise<WriterThread> {
    const worker = new Worker(writerWorkerUrl(), {workerData: options, name: 'apikey-db-writer'})
    let onMessage: ((reply: WriterReply) => void) | undefined
    let onError: ((error: Error) => void) | undefined
    let onExit: ((code: number) => void) | undefined
    const journalMode = await new Promise<string>((resolve, reject) => {
      onMessage = (reply) => {
        if (reply.type === 'ready') resolve(reply.journalMode)
        else if (reply.type === 'failed') reject(writerError(reply.error))
      }
      onError = reject
      onExit = (code) => reject(new Error(`the database writer thread stopped while opening ${options.path} (exit code ${code})`))
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
    })
      .catch(async (error: unknown) => {
        await worker.terminate()
        throw error
      })
      .finally(() => {
        // Only these listeners: the worker's own (which keep its port referenced) stay.
        if (onMessage !== undefined) worker.off('message', onMessage)
        if (onError !== undefined) worker.off('error', onError)
        if (onExit !== undefined) worker.off('exit', onExit)
      })
    return new WriterThread(worker, journalMode)
  }

  /**
   * Runs one statement in the thread.
   * @throws the SQLite error (same message and `code`), or Error when the thread has stopped.
   */
  async query<R>(sql: string, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    const reply = await this.send({type: 'query', id: this.nextId++, sql, parameters})
    if (reply.type !== 'result') throw new Error('unexpected reply of the database writer')
    return {
      rows: reply.rows as R[],
      ...(reply.changes === undefined ? {} : {numAffectedRows: BigInt(reply.changes)}),
      ...(reply.lastInsertRowid === undefined ? {} : {insertId: BigInt(reply.lastInsertRowid)}),
    }
  }

  /**
   * Calls `listener` once if the thread fails or stops other than through {@link close}; from then
   * on every query fails with that error (nothing more can be written until the service restarts).
   */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener)
  }

  /** Closes the connection (which checkpoints the WAL) and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure === undefined) await this.send({type: 'close', id: this.nextId++}).catch(() => undefined)
      await this.worker.terminate()
    })()
    return this.closing
  }

  private send(request: WriterRequest): Promise<WriterReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, {resolve, reject})
      this.worker.postMessage(request)
    })
  }
}

/** A Kysely dialect over a {@link WriterThread}: the queries of this Kysely instance wait in `lane`. */
export class WriterDialect implements Dialect {
  constructor(
    private readonly thread: WriterThread,
    private readonly gate: WriterGate,
    private readonly lane: WriterLane,
  ) {}

  createAdapter(): DialectAdapter {
    return new SqliteAdapter()
  }

  createDriver(): Driver {
    return new WriterDriver(this.thread, this.gate, this.lane)
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}

class WriterDriver implements Driver {
  private readonly connection: DatabaseConnection

  constructor(
    thread: WriterThread,
    private readonly gate: WriterGate,
    private readonly lane: WriterLane,
  ) {
    this.connection = {
      executeQuery: <R>(compiled: CompiledQuery) => thread.query<R>(compiled.sql, compiled.parameters),
      async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
        const result = await thread.query<R>(compiled.sql, compiled.parameters)
        for (const row of result.rows) yield {rows: [row]}
      },
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.gate.acquire(this.lane)
    return this.connection
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(beginStatement(settings)))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await rollback(connection)
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name}"`))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to "${name}"`))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release "${name}"`))
  }

  async releaseConnection(): Promise<void> {
    this.gate.release()
  }

  /** The thread is closed by the database handle, not by Kysely. */
  async destroy(): Promise<void> {}
}

/**
 * How a transaction starts: `BEGIN IMMEDIATE` (the write lock at once, waiting on the busy timeout
 * for another process's), or a plain deferred `BEGIN` for a transaction declared read-only (a
 * consistent snapshot that takes no write lock).
 */
export function beginStatement(settings: TransactionSettings): string {
  return settings.accessMode === 'read only' ? 'begin' : 'begin immediate'
}

/**
 * Rolls back the open transaction. When SQLite already rolled it back itself (a failed commit:
 * disk full, I/O error), there is nothing to roll back, and the caller keeps the original error.
 */
export async function rollback(connection: DatabaseConnection): Promise<void> {
  try {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  } catch (error) {
    if (!/no transaction is active/i.test((error as Error).message)) throw error
  }
}
