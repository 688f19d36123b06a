/**
 * Runs `apikey ARGS…` inside the test worker instead of as a subprocess: the
 * same built package (dist/, oclif.manifest.json), the same oclif dispatch
 * (`run(argv, config)`: help, topics, the command_not_found hook, flag
 * parsing) and the same composition root (the command's Deps are built from
 * the {@link ProcessIo} given through `runWithProcessIo`), with stdin text,
 * environment, working directory and TTY facts chosen by the test and
 * stdout, stderr and the exit code captured. The oclif Config is loaded once
 * per test worker. It saves a Node.js and oclif start-up per run.
 *
 * What stays a subprocess (see {@link needsSubprocess}; `runCli` picks it):
 * - `apikey run -- CMD`: the child inherits the real file descriptors 0–2
 *   (its output cannot be captured here) and SIGINT/SIGTERM/SIGHUP are
 *   forwarded through process-wide signal handlers;
 * - `apikey server start`: runs until a signal, and its flags with an
 *   environment fallback (`--docs-url`/`APIKEY_DOCS_URL`) are read by oclif's
 *   parser from `process.env`;
 * - exit codes of the real binary, signals, pseudo-terminal sessions
 *   (test/helpers/pty.ts) and the start-up fast path's wrapper (bin/run.js):
 *   run those with `mode: 'subprocess'`.
 * The fast path itself (src/fast-path.ts) runs here too, with the same
 * condition bin/run.js applies.
 *
 * Process-global state and how it is kept apart: output that bypasses Deps
 * (oclif's help and version text and its error printer use `console`) is
 * routed by patching `process.stdout.write`/`process.stderr.write` once per
 * worker: a write made inside a run goes to that run's capture, any other
 * write to the real stream. Exit codes never touch `process.exitCode`. No run
 * changes `process.env` or the working directory (commands read both from
 * Deps; git and the keychain helper get the run's environment explicitly, and
 * the CI provider is decided from it, not from ci-info's import-time view).
 */
import {AsyncLocalStorage} from 'node:async_hooks'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath, pathToFileURL} from 'node:url'
import type {Config} from '@oclif/core'
import type {OutputStream, ProcessIo} from '../../src/lib/deps.js'

/** The package root: package.json, dist/, oclif.manifest.json. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Options of {@link runInProcess}. */
export interface InProcessOptions {
  cwd: string
  /** The whole environment of the run (`undefined` values are unset). */
  env: Record<string, string | undefined>
  /** Standard input text, then end of input. Default: empty. */
  input?: string
  /** TTY facts of the standard streams; default: none is a terminal (as with pipes). */
  tty?: {stdin?: boolean; stdout?: boolean; stderr?: boolean; columns?: number}
}

/** What one in-process run printed and its exit status. */
export interface InProcessResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Commands that cannot run in process, with the reason (see the module
 * documentation). `args` as typed after `apikey`.
 * @returns the reason, or undefined when the run may be in process.
 */
export function needsSubprocess(args: string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'))
  if (words[0] === 'run') return 'run: the child inherits the real stdio; signals are forwarded process-wide'
  if (words[0] === 'server' && words[1] === 'start') return 'server start: runs until a signal; flag environment fallbacks are read from process.env'
  return undefined
}

interface Capture {
  stdout: string
  stderr: string
  code: number | undefined
}

interface Loaded {
  config: Config
  run: typeof import('@oclif/core').run
  runWithProcessIo: <T>(io: ProcessIo, fn: () => T) => T
  fastPath: (argv: string[], packageJsonUrl: URL, io: ProcessIo) => Promise<boolean>
}

const runs = new AsyncLocalStorage<Capture>()
let loading: Promise<Loaded> | undefined

/** Loads the built CLI once per worker: the bundle bin/run.js runs (dist/cli/main.cjs), so oclif and the commands are the same module instances the binary uses. */
function load(): Promise<Loaded> {
  loading ??= (async () => {
    routeStandardStreams()
    const {loadBundle} = (await import(pathToFileURL(join(PACKAGE_ROOT, 'dist/load-bundle.js')).href)) as {loadBundle: (name: 'main') => unknown}
    const cli = loadBundle('main') as {
      oclif: () => Promise<typeof import('@oclif/core')>
      cliLoadOptions: (dir: string) => Promise<Config | Config['options']>
      inProcessParts: () => Promise<Pick<Loaded, 'runWithProcessIo' | 'fastPath'>>
    }
    const oclif = await cli.oclif()
    // As bin/run.js: the CLI with the key service plugin of this checkout (packages/server).
    const options = await cli.cliLoadOptions(PACKAGE_ROOT)
    const config = options instanceof oclif.Config ? options : await oclif.Config.load(options)
    const {runWithProcessIo, fastPath} = await cli.inProcessParts()
    return {config, run: oclif.run, runWithProcessIo, fastPath}
  })()
  return loading
}

/** Sends writes made inside a run to its capture; every other write goes to the real stream, unchanged. */
function routeStandardStreams(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name]
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const capture = runs.getStore()
      if (capture === undefined) return original(chunk, ...rest)
      capture[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined
      if (callback !== undefined) process.nextTick(callback)
      return true
    }) as typeof stream.write
  }
}

/**
 * Runs `apikey ARGS…` in this worker (see the module documentation for what
 * may not). Needs `npm run build` first, like the binary.
 * @returns exit code (0 unless the run set one), stdout and stderr text.
 */
export async function runInProcess(args: string[], options: InProcessOptions): Promise<InProcessResult> {
  const reason = needsSubprocess(args)
  if (reason !== undefined) throw new Error(`cannot run in process: ${reason}`)
  const loaded = await load()
  const capture: Capture = {stdout: '', stderr: '', code: undefined}
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined))
  const tty = options.tty ?? {}
  const stream = (name: 'stdout' | 'stderr'): OutputStream => ({
    write: (text) => void (capture[name] += text),
    isTTY: tty[name] === true,
    columns: tty[name] === true ? (tty.columns ?? 80) : undefined,
  })
  const stdin = Object.assign(Readable.from(options.input === undefined || options.input === '' ? [] : [Buffer.from(options.input)]), {isTTY: tty.stdin === true ? true : undefined})
  const io: ProcessIo = {
    env,
    cwd: options.cwd,
    stdin,
    stdout: stream('stdout'),
    stderr: stream('stderr'),
    setExitCode: (code) => void (capture.code = code),
    onSignal: () => {
      throw new Error('signal handling needs a subprocess: run this with mode "subprocess"')
    },
  }
  await runs.run(capture, () =>
    loaded.runWithProcessIo(io, async () => {
      try {
        // The same choice as bin/run.js.
        const fast = env.APIKEY_NO_FAST_PATH === undefined && (args[0] === 'whoami' || args[0] === '--version' || args[0] === '-v')
        if (fast && (await loaded.fastPath(args, pathToFileURL(join(PACKAGE_ROOT, 'package.json')), io))) return
        await loaded.run(args, loaded.config)
      } catch (error) {
        // What oclif's error handler does before it exits the process.
        const e = error as Error & {oclif?: {exit?: number}; skipOclifErrorHandling?: boolean}
        if (e.name !== 'ExitError' && e.skipOclifErrorHandling !== true) capture.stderr += `${e.stack ?? e.message}\n`
        capture.code = e.oclif?.exit ?? 1
      }
    }),
  )
  return {code: capture.code ?? 0, stdout: capture.stdout, stderr: capture.stderr}
}
