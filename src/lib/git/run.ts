/**
 * Runs git as a child process: no shell, a fixed set of safe options, an
 * environment without variables that would point git at another repository,
 * and a timeout.
 */
import {spawn} from 'node:child_process'

/** Default time limit of one git call, in ms. */
export const DEFAULT_GIT_TIMEOUT_MS = 10_000

/**
 * Environment variables that change which repository, work tree, index or
 * pathspec rules git uses. They are removed so the answer is about the file
 * we ask about (a hook or an IDE may have set them for another repository).
 */
export const GIT_LOCATION_VARIABLES = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
  'GIT_PREFIX',
  'GIT_LITERAL_PATHSPECS',
  'GIT_GLOB_PATHSPECS',
  'GIT_NOGLOB_PATHSPECS',
  'GIT_ICASE_PATHSPECS',
] as const

/** Options of {@link runGit}. */
export interface RunGitOptions {
  /** Working directory of the git process (absolute). */
  cwd: string
  /** Base environment (default: `process.env`); {@link GIT_LOCATION_VARIABLES} are removed from it. */
  env?: NodeJS.ProcessEnv
  /** Time limit in ms (default {@link DEFAULT_GIT_TIMEOUT_MS}). */
  timeoutMs?: number
  /** Bytes written to git's standard input, which is then closed. */
  input?: Buffer | string
  /** The git executable (default `git` from PATH). */
  gitPath?: string
  /**
   * Pass `--literal-pathspecs` so `*`, `?`, `[` and `:` in file names are not
   * patterns (default true). `git check-ignore` rejects it and already takes
   * its paths literally, so it runs with `false`.
   */
  literalPathspecs?: boolean
}

/** Outcome of one git call. */
export interface GitRunResult {
  /** Exit status; `null` when git was killed (see `timedOut`). */
  status: number | null
  /** Standard output as UTF-8 text. */
  stdout: string
  /** Standard error as UTF-8 text, trimmed. */
  stderr: string
  /** Whether the call hit the time limit and was killed. */
  timedOut: boolean
}

/** Git could not be started (not installed, or cwd missing). */
export class GitSpawnError extends Error {
  constructor(
    message: string,
    readonly errno: string | undefined,
  ) {
    super(message)
    this.name = 'GitSpawnError'
  }
}

/** The environment given to git: `base` without {@link GIT_LOCATION_VARIABLES}, no terminal prompts, C messages. */
export function gitEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...base}
  for (const name of GIT_LOCATION_VARIABLES) delete env[name]
  env.GIT_TERMINAL_PROMPT = '0'
  env.LC_ALL = 'C'
  env.LANGUAGE = 'C'
  return env
}

/**
 * Runs `git -c core.quotepath=off [--literal-pathspecs] <args…>` with execFile
 * semantics (no shell) and a timeout. A non-zero exit status is returned,
 * not thrown.
 *
 * @throws GitSpawnError when git cannot be started (ENOENT: not installed or cwd missing)
 */
export function runGit(args: string[], options: RunGitOptions): Promise<GitRunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    const child = spawn(options.gitPath ?? 'git', ['-c', 'core.quotepath=off', ...(options.literalPathspecs === false ? [] : ['--literal-pathspecs']), ...args], {
      cwd: options.cwd,
      env: gitEnvironment(options.env),
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let settled = false
    const finish = (status: number | null, timedOut: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8').trim(), timedOut})
    }
    const timer = setTimeout(() => {
      // Answer now: a grandchild may keep the pipes open after git is killed.
      child.kill('SIGKILL')
      child.stdout.destroy()
      child.stderr.destroy()
      finish(null, true)
    }, timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.stdin.on('error', () => undefined) // git may exit before reading its input
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(new GitSpawnError(`Cannot run git: ${error.message}`, error.code))
    })
    child.on('close', (status) => finish(status, false))
    child.stdin.end(options.input ?? '')
  })
}
