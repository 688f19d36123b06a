/**
 * Safe reading and writing of one variable in a `.env` file.
 *
 * Writes are locked against concurrent writers, atomic (an exclusive temp file
 * in the same directory, fsync, rename over the target), keep the existing
 * file's mode and owner/group, create new files with mode 0600 regardless of
 * the umask, and are read back and compared after the rename.
 */
import {lstat, readFile, realpath, stat} from 'node:fs/promises'
import path from 'node:path'

import lockfile from 'proper-lockfile'

import {ApikeyError} from '../../core/errors.js'
import {AtomicWriteError, writeFileAtomic} from '../fs/atomic-write.js'
import {type DotenvChange, readVariable, setVariable} from './edit.js'

/** Mode of a `.env` file we create: read/write for the owner only. */
export const NEW_DOTENV_MODE = 0o600

/** Options of {@link writeDotenvVariable}. */
export interface WriteDotenvOptions {
  /**
   * How long to keep retrying while another process holds the lock, in ms
   * (default 10 000). The lock is `<file>.lock` (a directory, proper-lockfile).
   */
  lockWaitMs?: number
  /** A lock older than this is considered abandoned by a crashed writer, in ms (default 10 000, minimum 2 000). */
  lockStaleMs?: number
}

/** Result of {@link writeDotenvVariable}. */
export interface WriteDotenvResult {
  /** Absolute path of the file written (symbolic links resolved). */
  path: string
  /** Whether the file did not exist before. */
  created: boolean
  /** What changed; `unchanged` means nothing was written. */
  change: DotenvChange
  /** Permission bits of the file after the call (e.g. `0o600`). */
  mode: number
  /** 1-based line number of the variable's line. */
  line: number
  /** Problems that did not stop the write (e.g. the owner could not be kept); one sentence each. */
  warnings: string[]
}

/** Is `error` a Node.js system error with this `code`? */
function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code
}

/** An `io` ApikeyError about `file`, keeping the system error as cause. */
function ioError(message: string, file: string, cause: unknown, suggestions: string[] = []): ApikeyError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  return new ApikeyError(message, {code: 'io', cause, suggestions, details: {path: file, ...(code ? {errno: code} : {})}})
}

/**
 * Decodes `.env` bytes as UTF-8 (what dotenv reads), keeping a BOM as U+FEFF.
 *
 * @throws ApikeyError `io` for UTF-16 text, NUL bytes or invalid UTF-8
 */
export function decodeDotenv(bytes: Uint8Array, file: string): string {
  const utf16 = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  if (utf16 || bytes.includes(0)) {
    throw new ApikeyError(
      `Cannot edit ${file}: it is ${utf16 ? 'UTF-16 encoded' : 'not a text file (it contains NUL bytes)'}, but dotenv reads .env files as UTF-8.`,
      {code: 'io', details: {path: file}, suggestions: [`Convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8 ${file} > ${file}.utf8 && mv ${file}.utf8 ${file}`]},
    )
  }
  try {
    return new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes)
  } catch (error) {
    throw ioError(`Cannot edit ${file}: it is not valid UTF-8, which is what dotenv reads.`, file, error, [`Convert ${file} to UTF-8 and run the command again.`])
  }
}

/** Reads the file; `undefined` when it does not exist. */
async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined
    throw ioError(`Cannot read ${file}: ${(error as Error).message}.`, file, error)
  }
}

/** Resolves a symbolic link so the link itself is kept and its target is edited. */
async function resolveTarget(file: string): Promise<string> {
  const absolute = path.resolve(file)
  try {
    const info = await lstat(absolute)
    if (info.isSymbolicLink()) return await realpath(absolute)
    if (!info.isFile()) throw new ApikeyError(`Cannot write ${absolute}: it is not a regular file.`, {code: 'io', details: {path: absolute}})
    return absolute
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return absolute
    if (error instanceof ApikeyError) throw error
    throw ioError(`Cannot access ${absolute}: ${(error as Error).message}.`, absolute, error)
  }
}

/**
 * Reads one variable from a `.env` file as the `dotenv` package would.
 *
 * @param file - path of the `.env` file (relative to the process cwd or absolute)
 * @param name - variable name, case-sensitive
 * @returns the value, or `undefined` when the file or the variable does not exist
 * @throws ApikeyError `io` when the file exists but cannot be read or decoded as UTF-8
 */
export async function readDotenvVariable(file: string, name: string): Promise<string | undefined> {
  const absolute = path.resolve(file)
  const bytes = await readIfExists(absolute)
  if (bytes === undefined) return undefined
  return readVariable(decodeDotenv(bytes, absolute), name)
}

/**
 * Sets `name` to `value` in the `.env` file at `file`, creating the file when
 * missing.
 *
 * Steps: take the lock `<file>.lock` (proper-lockfile, retried for up to
 * `lockWaitMs`), read and edit with {@link setVariable} (which verifies the
 * edit with `dotenv.parse`), write a temp file in the same directory
 * (random name, created exclusively with mode 0600, then chmod 0600 or the
 * existing file's mode, chown to the existing owner/group when they differ,
 * fsync), rename it over the target, fsync the directory, read the file
 * again and compare the value, release the lock. A symbolic link is kept and
 * its target is written. Nothing is written when the value is already set.
 *
 * @param file - path of the `.env` file; its directory must exist
 * @param name - variable name (POSIX shell name)
 * @param value - the exact value (no line breaks or control characters)
 * @returns where and what was written; `mode` is the permission bits (e.g. `0o600`)
 * @throws ApikeyError `usage` (exit 2) for a name or value that cannot be
 *   written; `unsafe` (exit 5) when the edit would change other variables;
 *   `conflict` when the lock stays held by another writer; `io` for file system
 *   failures, undecodable files, or a read-back that does not match
 */
export async function writeDotenvVariable(
  file: string,
  name: string,
  value: string,
  opts: WriteDotenvOptions = {},
): Promise<WriteDotenvResult> {
  const target = await resolveTarget(file)
  const dir = path.dirname(target)
  const warnings: string[] = []
  const waitMs = opts.lockWaitMs ?? 10_000
  const staleMs = Math.max(2_000, opts.lockStaleMs ?? 10_000)

  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), {code: 'ENOTDIR'})
  } catch (error) {
    throw ioError(`Cannot write ${target}: the directory ${dir} does not exist or is not a directory.`, target, error, [
      `Create it first (mkdir -p ${dir}) or pass the path of an existing project directory.`,
    ])
  }

  let compromised: Error | undefined
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: staleMs,
      update: Math.floor(staleMs / 2),
      retries: {retries: Math.max(1, Math.ceil(waitMs / 50)), factor: 1, minTimeout: 25, maxTimeout: 75, randomize: true},
      onCompromised: (error) => {
        compromised = error
      },
    })
  } catch (error) {
    if (isErrno(error, 'ELOCKED')) {
      throw new ApikeyError(`Cannot write ${target}: another process is writing it (the lock ${target}.lock is held).`, {
        code: 'conflict',
        cause: error,
        details: {path: target},
        suggestions: ['Wait for the other apikey command to finish and run this one again.', `If none is running, remove the stale lock: rmdir ${target}.lock`],
      })
    }
    throw ioError(`Cannot lock ${target}: ${(error as Error).message}.`, target, error, [`Check that the directory ${dir} exists and is writable.`])
  }

  try {
    const bytes = await readIfExists(target)
    const created = bytes === undefined
    const before = created ? '' : decodeDotenv(bytes, target)
    const edit = setVariable(before, name, value)
    const existing = created ? undefined : await stat(target)
    const mode = existing ? existing.mode & 0o7777 : NEW_DOTENV_MODE

    if (edit.change !== 'unchanged') {
      if (existing && existing.nlink > 1) {
        warnings.push(`${target} had ${existing.nlink} hard links; it was replaced atomically, so its other names keep the previous contents.`)
      }
      try {
        await writeFileAtomic(target, edit.text, {
          mode,
          prepare: async (handle) => {
            if (existing && (existing.uid !== process.getuid?.() || existing.gid !== process.getgid?.())) {
              try {
                await handle.chown(existing.uid, existing.gid)
              } catch (error) {
                warnings.push(
                  `Could not keep the owner/group of ${target} (uid ${existing.uid}, gid ${existing.gid}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; the file now belongs to the current user.`,
                )
              }
            }
          },
          beforeRename: () => {
            if (compromised) throw compromised
          },
        })
      } catch (error) {
        if (error instanceof AtomicWriteError && error.stage === 'create') {
          throw ioError(`Cannot create a temporary file in ${dir}: ${error.message}.`, target, error.cause, [`Check that you may write to ${dir}.`])
        }
        const cause = error instanceof AtomicWriteError ? error.cause : error
        throw ioError(`Cannot write ${target}: ${(cause as Error).message}.`, target, cause, [`Check free space and permissions in ${dir}.`])
      }
    }
    // Read back while still holding the lock, so a concurrent writer of the
    // same variable cannot make this check fail.
    const readBack = await readDotenvVariable(target, name)
    if (readBack !== value) {
      throw new ApikeyError(`Wrote ${target}, but reading it back did not return the value written for ${name}; another program may have changed the file at the same time.`, {
        code: 'io',
        details: {path: target, variable: name},
        suggestions: [`Check ${target} and run the command again.`],
      })
    }
    return {path: target, created, change: edit.change, mode, line: edit.line, warnings}
  } finally {
    await release().catch(() => undefined)
  }
}
