/**
 * One key service per SQLite file. A running service holds an exclusive SQLite lock (a POSIX
 * advisory lock, taken by `BEGIN EXCLUSIVE` with `locking_mode=EXCLUSIVE`) on a small file beside
 * the database, `<database>.lock`, for as long as it runs. The operating system drops the lock
 * when the process ends in any way — `kill -9` included — so a lock is never left behind; the
 * file itself stays and means nothing without a process holding it. A second service on the same
 * database is refused at start. Admin commands (`apikey server users …`, `server verifiers …`) do
 * not take this lock: they work beside a running service.
 */
import {closeSync, mkdirSync, openSync} from 'node:fs'
import {dirname} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {ApikeyError} from '../../core/errors.js'

/** A held service lock. */
export interface ServiceLock {
  /** The lock file (`<database>.lock`). */
  path: string
  /** Releases the lock (idempotent). */
  release(): void
}

/** The lock file of a database: `<dbPath>.lock`. */
export function serviceLockPathFor(dbPath: string): string {
  return `${dbPath}.lock`
}

/**
 * Takes the service lock of `dbPath` (see the module comment), creating the lock file (0600, in a
 * 0700 directory) when missing.
 * @throws ApikeyError `conflict` (exit 1) when another running process holds it — the message says
 *   what to do; the SQLite or file-system error when the lock file cannot be created or opened.
 */
export function lockDatabaseForService(dbPath: string): ServiceLock {
  const path = serviceLockPathFor(dbPath)
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  // timeout 0: another holder is reported at once, not after better-sqlite3's default 5 s wait.
  const sqlite = new BetterSqlite3(path, {timeout: 0})
  try {
    sqlite.pragma('locking_mode = EXCLUSIVE')
    sqlite.exec('begin exclusive')
  } catch (error) {
    sqlite.close()
    if ((error as {code?: unknown}).code === 'SQLITE_BUSY') throw databaseInUseError(dbPath, path)
    throw error
  }
  let released = false
  return {
    path,
    release: () => {
      if (released) return
      released = true
      if (sqlite.open) sqlite.close()
    },
  }
}

/** The refusal of a second service on one database file. */
export function databaseInUseError(dbPath: string, lockPath: string): ApikeyError {
  return new ApikeyError(
    `another key service is already running on the database ${dbPath} (it holds ${lockPath}); one SQLite database file serves one service process, so this one was not started`,
    {
      code: 'conflict',
      suggestions: [
        'stop the other service first (Ctrl+C or SIGTERM), or start this one on its own database: apikey server start --db PATH',
        'several instances of the service need a shared database server: the embedded SQLite database serves one process (PostgreSQL support is planned, not available yet)',
        'admin commands (apikey server users add, apikey server verifiers add|revoke) work beside the running service: no need to stop it for them',
      ],
      details: {dbPath, lockPath},
    },
  )
}
