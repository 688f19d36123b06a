/**
 * The one way the CLI replaces a file it owns (`config.json`, `apikey.json`,
 * the credentials file, `.env`): readers see the old content or the new one,
 * never a partial write, and a crash leaves the target untouched.
 *
 * Steps: create a temp file next to the target exclusively (`O_EXCL`, random
 * name `.<name>.<hex>.apikey-tmp`, mode 0600 whatever the umask), let the caller
 * adjust it (mode, owner), write, fsync, rename over the target, fsync the
 * directory (best effort). The temp file is removed on any failure. Other
 * programs' leftovers are never touched: a name collision picks another name.
 *
 * Own code rather than `write-file-atomic`: secrets are written here, so the
 * temp file must be created exclusively with mode 0600 before any byte is
 * written, and the `.env` writer must check its lock between fsync and rename.
 */
import {randomBytes} from 'node:crypto'
import {constants as fsConstants} from 'node:fs'
import {open, rename, unlink, type FileHandle} from 'node:fs/promises'
import path from 'node:path'

/** Mode of the temp file until the caller changes it: read/write for the owner only. */
const TEMP_MODE = 0o600

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the written file (default 0o600), set on the temp file before writing. */
  mode?: number
  /** Called with the open temp file before the content is written (e.g. to chown it). */
  prepare?: (handle: FileHandle) => Promise<void>
  /** Called after the content is durable and before the rename; throwing aborts the write. */
  beforeRename?: () => void
}

/** Where {@link writeFileAtomic} failed: creating the temp file, or writing/renaming it. */
export class AtomicWriteError extends Error {
  /** The errno code of the cause (`EACCES`, `ENOSPC`, …), when it has one. */
  readonly code: string | undefined

  /**
   * @param stage `create` when no temp file could be made in the directory; `write` for any later step.
   * @param path the temp file (`create`) or the target (`write`).
   */
  constructor(
    readonly stage: 'create' | 'write',
    readonly path: string,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), {cause})
    this.name = 'AtomicWriteError'
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code
  }
}

/**
 * Replaces `target` with `text` (UTF-8) atomically; see the module comment for the steps.
 * The directory must exist.
 * @throws AtomicWriteError naming the stage that failed (the cause is kept as `cause`).
 */
export async function writeFileAtomic(target: string, text: string, options: AtomicWriteOptions = {}): Promise<void> {
  const {tempPath, handle} = await createTemp(target)
  let renamed = false
  try {
    try {
      await handle.chmod(options.mode ?? TEMP_MODE)
      await options.prepare?.(handle)
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    options.beforeRename?.()
    await rename(tempPath, target)
    renamed = true
  } catch (error) {
    throw new AtomicWriteError('write', target, error)
  } finally {
    if (!renamed) await unlink(tempPath).catch(() => undefined)
  }
  await syncDirectory(path.dirname(target))
}

/** Creates a temp file next to `target` exclusively (mode 0600) under a random name; retries on the rare collision. */
async function createTemp(target: string): Promise<{tempPath: string; handle: FileHandle}> {
  const dir = path.dirname(target)
  const base = path.basename(target)
  for (let attempt = 0; ; attempt++) {
    const tempPath = path.join(dir, `.${base}.${randomBytes(8).toString('hex')}.apikey-tmp`)
    try {
      const handle = await open(tempPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, TEMP_MODE)
      return {tempPath, handle}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue
      throw new AtomicWriteError('create', tempPath, error)
    }
  }
}

/** fsync a directory so a rename inside it is durable; best effort (not supported everywhere). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Some platforms and file systems cannot fsync a directory; the rename is still atomic.
  }
}
