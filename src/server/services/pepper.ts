/**
 * The server pepper: the HMAC key for API key lookup hashes. Either supplied
 * (env `APIKEY_PEPPER`, passed in by the composition root) or generated once
 * (32 bytes from the OS CSPRNG) into `<db path>.pepper`, mode 0600, created
 * exclusively and atomically (write temp file, then `link`, which fails if the
 * target exists) so concurrent first starts agree on one pepper.
 */
import {createHmac, randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import type {Kysely} from 'kysely'
import {ApikeyError} from '../../core/errors.js'
import type {Database} from '../db/schema.js'
import {repositories} from '../repositories/index.js'

/** Size of a generated pepper, in bytes. */
export const PEPPER_BYTES = 32
/** Minimum length of a supplied pepper, in bytes (UTF-8). */
export const MIN_SUPPLIED_PEPPER_BYTES = 32

/** Where the pepper came from. */
export type PepperSource = 'option' | 'file-created' | 'file'

/** A loaded pepper. */
export interface Pepper {
  /** HMAC key bytes. */
  key: Buffer
  source: PepperSource
  /** File the pepper lives in (undefined when supplied). */
  path?: string
  /** Warnings to log (e.g. the file is readable by others). */
  warnings: string[]
}

/** Name under which the pepper fingerprint is kept in `server_meta`. */
export const PEPPER_FINGERPRINT = 'pepper_fingerprint'

/** The pepper file beside a database: `<dbPath>.pepper`. */
export function pepperPathFor(dbPath: string): string {
  return `${dbPath}.pepper`
}

/**
 * Loads the pepper: `supplied` when given (its UTF-8 bytes, at least 32),
 * else the file at `path`, creating it (0600, hex-encoded 32 random bytes)
 * when missing.
 * @throws ApikeyError `validation` when a supplied pepper is shorter than 32
 *   bytes or the file holds fewer than 32 bytes; `io` when the file cannot be
 *   read or created.
 */
export async function loadPepper(path: string, supplied?: string): Promise<Pepper> {
  if (supplied !== undefined) {
    const key = Buffer.from(supplied, 'utf8')
    if (key.length < MIN_SUPPLIED_PEPPER_BYTES) {
      throw new ApikeyError(`APIKEY_PEPPER is ${key.length} bytes long; it must be at least ${MIN_SUPPLIED_PEPPER_BYTES}`, {
        code: 'validation',
        suggestions: ['openssl rand -hex 32'],
      })
    }
    return {key, source: 'option', warnings: []}
  }
  const created = await createExclusive(path)
  const warnings: string[] = []
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
    const mode = (await fs.stat(path)).mode & 0o777
    if ((mode & 0o077) !== 0) warnings.push(`pepper file ${path} has mode ${mode.toString(8)}; run chmod 600 on it`)
  } catch (error) {
    throw new ApikeyError(`cannot read the pepper file ${path}: ${(error as Error).message}`, {code: 'io', cause: error})
  }
  const hex = text.trim()
  const key = /^[0-9a-f]+$/i.test(hex) && hex.length % 2 === 0 ? Buffer.from(hex, 'hex') : Buffer.from(hex, 'utf8')
  if (key.length < MIN_SUPPLIED_PEPPER_BYTES) {
    throw new ApikeyError(`the pepper file ${path} holds ${key.length} bytes; it must hold at least ${MIN_SUPPLIED_PEPPER_BYTES} (64 hex characters)`, {code: 'validation'})
  }
  return {key, source: created ? 'file-created' : 'file', path, warnings}
}

/** Creates the pepper file atomically if missing; true when this call created it. */
async function createExclusive(path: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await fs.open(temp, 'wx', 0o600).catch((error: unknown) => {
    throw new ApikeyError(`cannot create the pepper file beside ${path}: ${(error as Error).message}`, {code: 'io', cause: error})
  })
  try {
    await handle.writeFile(`${randomBytes(PEPPER_BYTES).toString('hex')}\n`, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await fs.link(temp, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new ApikeyError(`cannot create the pepper file ${path}: ${(error as Error).message}`, {code: 'io', cause: error})
  } finally {
    await fs.unlink(temp).catch(() => undefined)
  }
}

/** A fingerprint of the pepper (HMAC of a fixed label), safe to store: it does not reveal the pepper. */
export function pepperFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('apikey pepper fingerprint v1', 'utf8').digest('hex').slice(0, 32)
}

/**
 * The pepper without creating anything: `supplied` when given, else the file at `path` when
 * it exists.
 * @returns undefined when neither is there.
 * @throws ApikeyError as {@link loadPepper} for a pepper that is too short or unreadable.
 */
export async function readPepper(path: string, supplied?: string): Promise<Pepper | undefined> {
  if (supplied === undefined) {
    const exists = await fs.stat(path).then(
      () => true,
      (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error)),
    )
    if (!exists) return undefined
  }
  return loadPepper(path, supplied)
}

/** Where a pepper came from, in words: `APIKEY_PEPPER` or its file. */
function pepperOrigin(pepper: Pepper): string {
  return pepper.source === 'option' ? 'given in APIKEY_PEPPER' : `in ${pepper.path ?? 'the pepper file'}`
}

/**
 * The pepper fingerprint this database keeps, read before any migration (undefined for a
 * database that has none yet: never started).
 */
export function storedPepperFingerprint(db: Kysely<Database>): Promise<string | undefined> {
  return repositories(db).meta.getBeforeMigrations(PEPPER_FINGERPRINT)
}

/**
 * Refuses a pepper that is not the one the database was started with (every issued key
 * would stop verifying, and new hashes would not match old ones). Writes nothing.
 * @param stored the fingerprint kept in the database, undefined when it has none.
 * @throws ApikeyError `validation` when the fingerprints differ.
 */
export function refuseOtherPepper(stored: string | undefined, pepper: Pepper): void {
  if (stored === undefined || stored === pepperFingerprint(pepper.key)) return
  throw new ApikeyError(
    `the pepper ${pepperOrigin(pepper)} is not the one this database was created with; every issued key would stop verifying. Nothing was written. Restore the original pepper.`,
    {code: 'validation', suggestions: ['use the pepper the service was first started with: APIKEY_PEPPER, or the <database>.pepper file beside the database']},
  )
}

/**
 * The error for a database started with a pepper that is nowhere to be found now (neither
 * `APIKEY_PEPPER` nor the pepper file): a new one would make every issued key stop verifying.
 */
export function missingPepperError(path: string): ApikeyError {
  return new ApikeyError(`this database was started with a pepper, and neither APIKEY_PEPPER nor ${path} holds it; no new pepper was made (every issued key would stop verifying). Nothing was written.`, {
    code: 'validation',
    suggestions: [`set APIKEY_PEPPER to the original pepper, or restore ${path}`],
  })
}
