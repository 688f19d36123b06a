/**
 * What every service needs, built once in `buildApp`: the database, the clock,
 * randomness, settings and the pepper. Nothing here reads globals.
 */
import type {Kysely} from 'kysely'
import type {Clock} from '../clock.js'
import type {Database} from '../db/schema.js'
import type {ServerSettings} from '../settings.js'
import type {RandomBase62} from './crypto.js'

/** Shared dependencies of the services. */
export interface ServiceContext {
  /** The database, for reads and writes (with a writer thread: its interactive lane; see `db/connection.ts`). */
  db: Kysely<Database>
  /**
   * The database for bulk writes — usage batches, the usage flush, rollups, retention: they wait
   * behind interactive writes in a bounded queue and fail at once with `WriterQueueFullError` when
   * it is full (see `db/writer-dialect.ts`).
   */
  bulkDb: Kysely<Database>
  /**
   * Read-only handle for the hot path's point lookups (key by hash, session, verifier token, the
   * audit log's newest entries): it never waits for the writer. Never for scans or reports.
   */
  readDb: Kysely<Database>
  clock: Clock
  /** Random base62 strings (ids, tokens, key secrets). */
  random: RandomBase62
  settings: ServerSettings
  /** HMAC key for API key lookup hashes. */
  pepper: Buffer
}
