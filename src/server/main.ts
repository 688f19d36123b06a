/**
 * Starts the key service: opens (and migrates) the database, loads or creates
 * the pepper, builds the app and listens. The only place that calls `listen`.
 */
import {dirname, resolve} from 'node:path'
import type {DestinationStream} from 'pino'
import {buildApp, type LogLevel} from './app.js'
import type {Clock} from './clock.js'
import {openDatabase} from './db/connection.js'
import {lockDatabaseForService} from './db/service-lock.js'
import type {WriterStats} from './db/writer-dialect.js'
import {repositories} from './repositories/index.js'
import type {SignInStats} from './services/auth.js'
import type {MaintenanceResult} from './services/usage.js'
import type {RandomBase62} from './services/crypto.js'
import type {RateLimitStore} from './services/rate-limit.js'
import {LifecycleEvents} from './services/lifecycle.js'
import {loadPepper, missingPepperError, PEPPER_FINGERPRINT, pepperFingerprint, pepperPathFor, readPepper, refuseOtherPepper, storedPepperFingerprint, type Pepper} from './services/pepper.js'
import {resolveServerPaths, resolveSettings, type ServerSettingsInput} from './settings.js'

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Address to listen on; default `127.0.0.1`. */
  host?: string
  /** TCP port; default 4000; 0 picks a free port. */
  port?: number
  /** SQLite file; default `resolveServerPaths({env, homedir}).dbPath` (XDG data dir). */
  dbPath?: string
  /** Environment for defaults: `XDG_DATA_HOME` (paths) and `APIKEY_PEPPER` (when `pepper` is not given). Never read from `process.env` here. */
  env?: Record<string, string | undefined>
  /** Home directory for the default path; default `os.homedir()`. */
  homedir?: string
  /** HMAC pepper (≥ 32 bytes UTF-8), e.g. from `APIKEY_PEPPER`; default: the file `<dbPath>.pepper`, created 0600 on first start. */
  pepper?: string
  /** Writable receiving pino JSON lines; default stderr, written in batches (see `logging.ts`, BufferedLogStream). */
  logStream?: DestinationStream | NodeJS.WritableStream
  /** Write the lines to `logStream` in batches too (at most 100 ms late, errors at once); default false. */
  logBuffering?: boolean
  /** Log level; default `info`. */
  logLevel?: LogLevel
  /** Time source; default the wall clock. */
  clock?: Clock
  /** Randomness; default the OS CSPRNG. */
  random?: RandomBase62
  /** Settings over the defaults (see `settings.ts`). */
  settings?: ServerSettingsInput
  /** Lifecycle emitter to announce key state changes on; default a new one (see {@link RunningServer.events}). */
  events?: LifecycleEvents
  /** How often admin changes of other processes are read, in ms; 0 = only on `pollAdminChanges()` (see `AppDeps.adminChangePollMs`). */
  adminChangePollMs?: number
  /** Where verification token buckets live; default in process (see `AppDeps.rateLimitStore`). */
  rateLimitStore?: RateLimitStore
}

/** A running service. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:4000` (IPv6 hosts in brackets). */
  url: string
  /** Absolute path of the SQLite file. */
  dbPath: string
  /** Directory holding the database and the pepper file. */
  dataDir: string
  /** Where the pepper came from: `option`/env, a file created now, or an existing file. */
  pepperSource: 'option' | 'file-created' | 'file'
  /** Committed key lifecycle changes of this process (subscribe for cache invalidation; see `services/lifecycle.ts`). */
  events: LifecycleEvents
  /**
   * Writes usage counts and `last_used_at` times held in memory now (otherwise every
   * `settings.usageFlushIntervalMs` and on close).
   * @throws the database error when the write fails (the counts are kept for the next flush).
   */
  flushUsage(): Promise<void>
  /**
   * Runs one usage rollup and retention pass now (otherwise every `settings.usageRollupIntervalMs`):
   * closed hours of minutes into hours, rolled days of hours into days, then old rows deleted in
   * bounded batches. Resolves to the work done; a pass already running is waited for first.
   * @throws the database error of a failed transaction (committed work stays; the next pass goes on from there).
   */
  rollupUsage(): Promise<MaintenanceResult>
  /**
   * Reads changes made by `apikey server …` admin commands (another process) from the audit log now and
   * emits them on {@link RunningServer.events} (otherwise every second). Resolves to how many were emitted.
   */
  pollAdminChanges(): Promise<number>
  /** Counters of the sign-in path: password hashing per lane, with peaks (see `services/hash-gate.ts`). */
  signInStats(): SignInStats
  /** Counters of the database writer's queue: waiting now per lane, the bulk peak, bulk writes refused (see `db/writer-dialect.ts`). */
  writerStats(): WriterStats
  /** Stops listening (in-flight requests finish), writes usage held in memory, then closes the database. Idempotent. */
  close(): Promise<void>
}

export {PEPPER_FINGERPRINT} from './services/pepper.js'

/**
 * Starts the key service: takes the database's service lock (one service per SQLite file, see
 * `db/service-lock.ts`), opens the database with its writer thread and read connection, builds
 * the app and listens.
 * @throws ApikeyError `conflict` when another running service holds this database;
 *   `validation` when the pepper is too short or differs from
 *   the one this database was started with (keys would stop verifying);
 *   `io` when the pepper file cannot be created; Error when the database cannot
 *   be opened or migrated, or the address is in use. Nothing is left open on failure.
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const pathsInput = {...(options.env === undefined ? {} : {env: options.env}), ...(options.homedir === undefined ? {} : {homedir: options.homedir})}
  const dbPath = resolve(options.dbPath ?? resolveServerPaths(pathsInput).dbPath)
  const dataDir = dirname(dbPath)
  const supplied = options.pepper ?? nonEmpty(options.env?.APIKEY_PEPPER)
  const pepperPath = pepperPathFor(dbPath)
  let found: Pepper | undefined
  // Invalid settings are refused before anything is opened.
  const writeQueueLimit = resolveSettings(options.settings).writeQueueLimit
  const lock = lockDatabaseForService(dbPath)
  // The pepper is checked against the database before anything is written to it (migrations
  // included), and a new pepper file is made only for a database that never had one.
  const handle = await openDatabase(dbPath, {
    writerThread: {bulkQueueLimit: writeQueueLimit},
    beforeMigrations: async (db) => {
      const stored = await storedPepperFingerprint(db)
      found = await readPepper(pepperPath, supplied)
      if (found === undefined) {
        if (stored !== undefined) throw missingPepperError(pepperPath)
        found = await loadPepper(pepperPath)
      }
      refuseOtherPepper(stored, found)
    },
  }).catch((error: unknown) => {
    lock.release()
    throw error
  })
  try {
    const pepper = found!
    const fingerprint = pepperFingerprint(pepper.key)
    refuseOtherPepper(await repositories(handle.db).meta.setIfAbsent(PEPPER_FINGERPRINT, fingerprint), pepper)
    const events = options.events ?? new LifecycleEvents()
    const app = await buildApp({
      db: handle.db,
      readDb: handle.readDb,
      bulkDb: handle.bulkDb,
      events,
      pepper: pepper.key,
      ...(options.clock === undefined ? {} : {clock: options.clock}),
      ...(options.random === undefined ? {} : {random: options.random}),
      ...(options.rateLimitStore === undefined ? {} : {rateLimitStore: options.rateLimitStore}),
      ...(options.adminChangePollMs === undefined ? {} : {adminChangePollMs: options.adminChangePollMs}),
      ...(options.settings === undefined ? {} : {settings: options.settings}),
      ...(options.logStream === undefined ? {} : {logStream: options.logStream as DestinationStream}),
      ...(options.logLevel === undefined ? {} : {logLevel: options.logLevel}),
      ...(options.logBuffering === undefined ? {} : {logBuffering: options.logBuffering}),
    })
    handle.onWriterFailure((error) => app.log.fatal({err: error}, 'the database writer stopped: every write now fails (answered 503) until the service is restarted'))
    for (const warning of pepper.warnings) app.log.warn(warning)
    if (pepper.source === 'file-created') app.log.info({path: pepper.path}, 'created a new pepper file')
    let address: ReturnType<typeof app.server.address>
    try {
      await app.listen({host: options.host ?? '127.0.0.1', port: options.port ?? 4000})
      address = app.server.address()
      if (address === null || typeof address === 'string') throw new Error('the server did not report a TCP address')
    } catch (error) {
      await app.close()
      throw error
    }
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    let closing: Promise<void> | undefined
    return {
      url: `http://${host}:${address.port}`,
      dbPath,
      dataDir,
      pepperSource: pepper.source,
      events,
      flushUsage: () => app.flushUsage(),
      rollupUsage: () => app.rollupUsage(),
      pollAdminChanges: () => app.pollAdminChanges(),
      signInStats: () => app.signInStats(),
      writerStats: () => handle.writerStats() ?? {interactiveWaiting: 0, bulkWaiting: 0, bulkWaitingPeak: 0, bulkRefused: 0},
      close: () => {
        // Stop accepting and finish in-flight requests, write usage held in memory, let the
        // writes already queued commit, close the database, and only then let another service in.
        closing ??= app
          .close()
          .then(() => handle.close())
          .finally(() => lock.release())
        return closing
      },
    }
  } catch (error) {
    await handle.close()
    lock.release()
    throw error
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
