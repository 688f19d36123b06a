/**
 * The plaintext fallback for developer session tokens: `credentials.json` in
 * the CLI's config directory, mode 0600 in a 0700 directory, written
 * atomically (`writeFileAtomic`: exclusive 0600 temp file in the same directory, fsync, rename)
 * under a lock against concurrent writers.
 *
 * Format (version 1):
 * ```json
 * {"version": 1, "tokens": {"keys.example.com": {"token": "aks_…", "savedAt": 1767225600000}}}
 * ```
 * Keys are server hosts as in `serverHost()`; `savedAt` is ms since epoch (UTC).
 */
import {chmod, mkdir, readFile, stat, unlink} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import lockfile from 'proper-lockfile'
import {ApikeyError} from '../../core/errors.js'
import {AtomicWriteError, writeFileAtomic} from '../fs/atomic-write.js'

/** File name of the fallback store inside the config directory. */
export const CREDENTIALS_FILE_NAME = 'credentials.json'

/** One stored session token. */
export interface FileTokenEntry {
  token: string
  /** When it was saved, ms since epoch (UTC). */
  savedAt: number
}

/** Parsed contents of the credentials file. */
export interface CredentialsFileContents {
  /** Tokens by server host. */
  tokens: Record<string, FileTokenEntry>
}

/** What {@link readCredentialsFile} found. */
export interface CredentialsFileRead extends CredentialsFileContents {
  /** The file exists. */
  exists: boolean
  /** Permission bits (e.g. `0o600`), when the file exists. */
  mode?: number
}

/** Path of the credentials file in `configDir`. */
export function credentialsPath(configDir: string): string {
  return join(configDir, CREDENTIALS_FILE_NAME)
}

function corrupt(path: string, why: string): ApikeyError {
  return new ApikeyError(`the credentials file ${path} is corrupt: ${why}`, {
    code: 'io',
    suggestions: [`delete ${path} and sign in again: apikey login --server URL`],
    details: {path},
  })
}

function ioError(path: string, action: string, error: unknown): ApikeyError {
  const code = (error as NodeJS.ErrnoException).code
  return new ApikeyError(`could not ${action} the credentials file ${path}: ${code ?? (error as Error).message}`, {
    code: 'io',
    suggestions: [`check the permissions of ${dirname(path)} (it should be yours, mode 0700)`],
    details: {path, ...(code ? {errno: code} : {})},
    cause: error,
  })
}

/** Parses the text of a credentials file. @throws ApikeyError `io` naming `path` when it is not a valid version-1 file. */
export function parseCredentialsFile(text: string, path: string): CredentialsFileContents {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw corrupt(path, `not valid JSON (${(error as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw corrupt(path, 'not a JSON object')
  const obj = value as Record<string, unknown>
  if (obj.version !== 1) throw corrupt(path, `unknown version ${JSON.stringify(obj.version)} (expected 1)`)
  const tokens = obj.tokens
  if (tokens === null || typeof tokens !== 'object' || Array.isArray(tokens)) throw corrupt(path, '"tokens" is not an object')
  const out: Record<string, FileTokenEntry> = {}
  for (const [host, entry] of Object.entries(tokens as Record<string, unknown>)) {
    const e = entry as Record<string, unknown> | null
    if (e === null || typeof e !== 'object' || typeof e.token !== 'string' || e.token.trim() === '') throw corrupt(path, `the entry for "${host}" has no token`)
    out[host] = {token: e.token, savedAt: typeof e.savedAt === 'number' ? e.savedAt : 0}
  }
  return {tokens: out}
}

/**
 * Reads the credentials file; a missing file is an empty store.
 * @throws ApikeyError `io` naming the file when it cannot be read or is corrupt.
 */
export async function readCredentialsFile(path: string): Promise<CredentialsFileRead> {
  let text: string
  let mode: number
  try {
    const [content, info] = await Promise.all([readFile(path, 'utf8'), stat(path)])
    text = content
    mode = info.mode & 0o777
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {exists: false, tokens: {}}
    throw ioError(path, 'read', error)
  }
  return {exists: true, mode, ...parseCredentialsFile(text, path)}
}

async function writeAtomic(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, {mode: 0o600})
  } catch (error) {
    if (error instanceof AtomicWriteError) throw ioError(error.path, error.stage, error.cause)
    throw ioError(path, 'write', error)
  }
}

/**
 * Read-modify-write of the credentials file under a lock (`<file>.lock`).
 * `mutate` changes `contents.tokens` in place; when no token remains the file
 * is deleted. Creates the directory with mode 0700 (and tightens an existing
 * one to 0700 — it holds secrets).
 * @returns the contents as written.
 * @throws ApikeyError `io` naming the file when it is corrupt or cannot be written.
 */
export async function updateCredentialsFile(path: string, mutate: (contents: CredentialsFileContents) => void): Promise<CredentialsFileContents> {
  const dir = dirname(path)
  try {
    await mkdir(dir, {recursive: true, mode: 0o700})
    if (process.platform !== 'win32') await chmod(dir, 0o700)
  } catch (error) {
    throw ioError(path, 'create the directory of', error)
  }
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(path, {realpath: false, stale: 10_000, retries: {retries: 30, minTimeout: 20, maxTimeout: 250}})
  } catch (error) {
    throw new ApikeyError(`could not lock the credentials file ${path}: another apikey process is writing it (${(error as Error).message})`, {
      code: 'io',
      suggestions: ['retry in a moment', `if no apikey process is running, delete ${path}.lock`],
      details: {path},
    })
  }
  try {
    const current = await readCredentialsFile(path)
    const contents: CredentialsFileContents = {tokens: {...current.tokens}}
    mutate(contents)
    if (Object.keys(contents.tokens).length === 0) {
      if (current.exists) await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw ioError(path, 'delete', error)
      })
    } else {
      await writeAtomic(path, `${JSON.stringify({version: 1, tokens: contents.tokens}, null, 2)}\n`)
    }
    return contents
  } finally {
    await release().catch(() => {})
  }
}
