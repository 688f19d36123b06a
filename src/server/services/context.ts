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
  db: Kysely<Database>
  clock: Clock
  /** Random base62 strings (ids, tokens, key secrets). */
  random: RandomBase62
  settings: ServerSettings
  /** HMAC key for API key lookup hashes. */
  pepper: Buffer
}
