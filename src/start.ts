/**
 * What `bin/run.js` runs when the start-up fast path (src/fast-path.ts) does
 * not apply: oclif with the CLI's commands and the key service plugin.
 * The build bundles this module with oclif and every command into
 * `dist/cli/main.cjs` (scripts/bundle.mjs), so that a start reads one file.
 * Nothing is imported up front: oclif, the fast path and each command are
 * evaluated only when a run needs them.
 */
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
 * Runs `apikey` with `argv` (the words after `apikey`) through oclif for the
 * CLI whose package directory is `packageDir`; sets `process.exitCode`.
 * (`bin/run.js` tries the fast path, bundled apart in `dist/cli/fast.cjs`, first.)
 */
export async function main(argv: string[], packageDir: string): Promise<void> {
  const [{execute}, loadOptions] = await Promise.all([oclif(), cliLoadOptions(packageDir)])
  await execute({args: argv, loadOptions})
}
