/**
 * What `bin/run.js` runs: the start-up fast path (src/fast-path.ts), else
 * oclif with the CLI's commands and, where needed, the key service plugin.
 * The build bundles this module with oclif and every command into
 * `dist/cli/main.cjs` (scripts/bundle.mjs), so that a start reads one file.
 * Nothing is imported up front: oclif, the fast path and each command are
 * evaluated only when a run needs them.
 */
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import type {Config} from '@oclif/core'

/** oclif itself (evaluated on first use). */
export async function oclif(): Promise<typeof import('@oclif/core')> {
  return import('@oclif/core')
}

/** oclif load options of the CLI in `packageDir` with the key service plugin where installed (src/lib/plugins.ts). */
export async function cliLoadOptions(packageDir: string): Promise<Config | Config['options']> {
  const plugins = await import('./lib/plugins.js')
  return plugins.cliLoadOptions(packageDir)
}

/** What the in-process test runner (test/helpers/in-process.ts) needs besides oclif: `runWithProcessIo` (src/lib/deps.ts) and `fastPath` (src/fast-path.ts). */
export async function inProcessParts(): Promise<{runWithProcessIo: typeof import('./lib/deps.js').runWithProcessIo; fastPath: typeof import('./fast-path.js').fastPath}> {
  const [deps, fast] = await Promise.all([import('./lib/deps.js'), import('./fast-path.js')])
  return {runWithProcessIo: deps.runWithProcessIo, fastPath: fast.fastPath}
}

/**
 * Runs `apikey` with `argv` (the words after `apikey`) for the CLI whose
 * package directory is `packageDir`; sets `process.exitCode`.
 * @param env the process environment (`APIKEY_NO_FAST_PATH` set: always oclif).
 */
export async function main(argv: string[], packageDir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (env['APIKEY_NO_FAST_PATH'] === undefined && (argv[0] === 'whoami' || argv[0] === '--version' || argv[0] === '-v')) {
    const fast = await import('./fast-path.js')
    if (await fast.fastPath(argv, pathToFileURL(join(packageDir, 'package.json')))) return
  }
  const [{execute}, loadOptions] = await Promise.all([oclif(), cliLoadOptions(packageDir)])
  await execute({args: argv, loadOptions})
}
