/**
 * Runs `apikey ARGS…` for tests: in the test worker by default
 * (test/helpers/in-process.ts: the built package through the same oclif
 * dispatch and composition root, output captured, no Node.js start-up per
 * run), or as the real binary (bin/run.js over dist/) in a subprocess, the way
 * users and CI do — for exit codes through the real process, signals, the
 * `run -- CMD` child, `server start` and the fast path's wrapper.
 * Needs `npm run build` first (`npm test` does it).
 */
import {spawn} from 'node:child_process'
import {tempDir} from './temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {needsSubprocess, runInProcess} from './in-process.js'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/** Result of one CLI run. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON when `--json` was given. */
  json: any
}

/** Options of {@link runCli}. */
export interface RunOptions {
  cwd: string
  env: Record<string, string | undefined>
  /** Written to stdin, then stdin is closed. Default: stdin closed at once. */
  input?: string
  /** Subprocess only: kill after this many ms (default 60 s). */
  killAfterMs?: number
  /**
   * `auto` (default): in process unless the command needs a subprocess
   * ({@link needsSubprocess}); `subprocess`: always the real binary.
   */
  mode?: 'auto' | 'subprocess'
}

/** A clean environment for the CLI: temp HOME/XDG dirs, no CI variables, no keychain by default. */
export async function cliEnv(extra: Record<string, string | undefined> = {}): Promise<Record<string, string | undefined>> {
  const home = await tempDir('apikey-home-')
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    // A D-Bus address that does not exist: the keychain is unavailable unless a test opts in.
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-dbus')}`,
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    ...extra,
  }
}

/** Runs `apikey ARGS…` and collects exit code, stdout and stderr (and the `--json` output parsed). */
export async function runCli(args: string[], options: RunOptions): Promise<CliRun> {
  if ((options.mode ?? 'auto') === 'subprocess' || needsSubprocess(args) !== undefined) return runBinary(args, options)
  const r = await runInProcess(args, {cwd: options.cwd, env: options.env, ...(options.input === undefined ? {} : {input: options.input})})
  return {...r, json: args.includes('--json') ? parseJson(r.stdout) : undefined}
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Runs the real binary `node bin/run.js ARGS…` in a subprocess. */
export function runBinary(args: string[], options: RunOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined)) as Record<string, string>
    const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code: code ?? (signal ? 128 : 1), stdout, stderr, json: args.includes('--json') ? parseJson(stdout) : undefined})
    })
    child.stdin.end(options.input ?? '')
  })
}
