/**
 * Terminal facts the CLI decides on: whether we may prompt, whether to use
 * colour and tables (the conventions of GitHub CLI's iostreams).
 */

/** Environment variables as a plain record (a copy of `process.env` in production). */
export type Env = Record<string, string | undefined>

/** What the CLI knows about its standard streams. */
export interface IoFacts {
  /** stdin is a TTY. */
  stdinIsTTY: boolean
  /** stdout is a TTY. */
  stdoutIsTTY: boolean
  /** stderr is a TTY. */
  stderrIsTTY: boolean
  /** `CI` (or a known CI variable) is truthy. */
  ci: boolean
  /** May we ask questions? Only when stdin and stdout are TTYs and CI is not truthy. */
  canPrompt: boolean
  /** Colour on stderr/stdout: TTY and `NO_COLOR` unset (https://no-color.org). */
  color: boolean
}

/**
 * Is an environment variable "truthy" in the CI sense: set, non-empty, and not
 * `0` or `false` (case-insensitive).
 */
export function isTruthy(value: string | undefined): boolean {
  if (value === undefined) return false
  const v = value.trim().toLowerCase()
  return v !== '' && v !== '0' && v !== 'false' && v !== 'no' && v !== 'off'
}

/** Computes {@link IoFacts} from the environment and the TTY-ness of the streams. */
export function ioFacts(env: Env, tty: {stdin: boolean; stdout: boolean; stderr: boolean}): IoFacts {
  const ci = isTruthy(env.CI) || isTruthy(env.CONTINUOUS_INTEGRATION) || isTruthy(env.BUILD_NUMBER) || isTruthy(env.GITHUB_ACTIONS) || isTruthy(env.GITLAB_CI)
  const color = tty.stderr && env.NO_COLOR === undefined && env.TERM !== 'dumb'
  return {
    stdinIsTTY: tty.stdin,
    stdoutIsTTY: tty.stdout,
    stderrIsTTY: tty.stderr,
    ci,
    canPrompt: tty.stdin && tty.stdout && !ci,
    color,
  }
}
