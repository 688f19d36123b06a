/**
 * Runs the real `apikey` binary (bin/run.js over dist/) as a subprocess, the
 * way users and CI do. Needs `npm run build` first (`npm test` does it).
 */
import {spawn} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

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
  /** Kill after this many ms (default 60 s). */
  killAfterMs?: number
}

/** A clean environment for the CLI: temp HOME/XDG dirs, no CI variables, no keychain by default. */
export async function cliEnv(extra: Record<string, string | undefined> = {}): Promise<Record<string, string | undefined>> {
  const home = await mkdtemp(join(tmpdir(), 'apikey-home-'))
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

/** Runs `apikey ARGS…` and collects exit code, stdout and stderr. */
export function runCli(args: string[], options: RunOptions): Promise<CliRun> {
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
      let json: unknown
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout)
        } catch {
          json = undefined
        }
      }
      resolve({code: code ?? (signal ? 128 : 1), stdout, stderr, json})
    })
    child.stdin.end(options.input ?? '')
  })
}
