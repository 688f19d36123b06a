/**
 * Temporary directories of the tests. Every directory made through {@link tempDir}
 * (or {@link tempDirSync}) is removed after the test file that made it
 * (test/setup/temp-cleanup.ts registers the hook for every file), and the whole run
 * is checked for directories left behind by any other means
 * (test/setup/leftovers.ts).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const made = new Set<string>()

/** A new directory `<tmpdir>/<prefix>XXXXXX`, removed after this test file. */
export async function tempDir(prefix = 'apikey-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  made.add(dir)
  return dir
}

/** As {@link tempDir}, synchronously. */
export function tempDirSync(prefix = 'apikey-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.add(dir)
  return dir
}

/** Removes every directory made so far in this test file (already removed ones are fine). */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made]
  made.clear()
  await Promise.all(dirs.map((dir) => rm(dir, {recursive: true, force: true, maxRetries: 3})))
}

/** As {@link removeTempDirs}, synchronously (for `process.on('exit')`). */
export function removeTempDirsSync(): void {
  for (const dir of made) rmSync(dir, {recursive: true, force: true})
  made.clear()
}
