/**
 * Vitest global setup: the test run gets its own temporary directory (TMPDIR for
 * every test worker, so `os.tmpdir()` points into it), and at the end of the run
 * everything still in it is listed and fails the run: every test removes the
 * directories it made. The run's directory itself is removed either way.
 * Runs of other checkouts on the same machine do not disturb the check.
 */
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export default function setup(): () => void {
  const runDir = mkdtempSync(join(tmpdir(), 'apikey-test-run-'))
  const previous = process.env.TMPDIR
  process.env.TMPDIR = runDir
  return () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    const left = readdirSync(runDir)
    rmSync(runDir, {recursive: true, force: true})
    if (left.length > 0) {
      // An error in a global teardown is printed but does not change the exit status by itself.
      process.exitCode = 1
      throw new Error(`the tests left ${left.length} temporary director${left.length === 1 ? 'y' : 'ies'} behind (make them with test/helpers/temp.ts, or remove them): ${left.sort().join(', ')}`)
    }
  }
}
