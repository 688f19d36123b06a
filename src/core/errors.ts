/**
 * Errors shared by the CLI and the key service.
 *
 * One place maps failures to process exit codes and to problem
 * details (RFC 9457) on the wire. Everything user-facing says what failed, why,
 * and what to run next.
 */

/** Process exit codes of the `apikey` CLI. */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** A failure not covered by a more specific code (network, server error, conflict…). */
  Failure: 1,
  /** Bad usage: a missing or invalid flag or argument. */
  Usage: 2,
  /** The user cancelled a prompt or a confirmation. */
  Cancelled: 3,
  /** Not signed in, or the session token / credentials were rejected. */
  Auth: 4,
  /** Refused as unsafe (for example the target `.env` is tracked by git). */
  Unsafe: 5,
} as const

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * Exit statuses of `apikey run -- CMD` besides the child's own: the shell's
 * conventions (POSIX `sh`), so scripts treat `apikey run` like the command it runs.
 */
export const ChildExitCode = {
  /** The command was found but could not be executed (permission denied, not executable). */
  CannotExecute: 126,
  /** The command was not found. */
  NotFound: 127,
  /** Added to the signal number when the child was ended by a signal (SIGTERM 15 → 143). */
  SignalBase: 128,
} as const

/** Whether `error` is an {@link ApikeyError} that means "not signed in or credentials rejected" (exit {@link ExitCode.Auth}). */
export function isAuthFailure(error: unknown): boolean {
  return error instanceof ApikeyError && error.exitCode === ExitCode.Auth
}

/**
 * Machine-readable error codes. Stable: they appear in `--json` output and as
 * the `code` extension member of problem details.
 */
export type ErrorCode =
  | 'usage'
  | 'cancelled'
  | 'not_signed_in'
  | 'invalid_credentials'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'validation'
  | 'rate_limited'
  | 'unsafe'
  | 'malformed_key'
  | 'key_not_found'
  | 'key_revoked'
  | 'key_expired'
  | 'network'
  | 'timeout'
  | 'server_error'
  | 'keychain_unavailable'
  | 'keychain_error'
  | 'project_file'
  | 'io'
  | 'internal'

/** Construction options of {@link ApikeyError}. */
export interface ApikeyErrorOptions {
  /** Stable machine-readable code. */
  code: ErrorCode
  /** Process exit code; defaults from the code (see {@link exitCodeFor}). */
  exitCode?: ExitCodeValue
  /** What to do next, ideally a command to run (one line each). */
  suggestions?: string[]
  /** Extra structured detail for `--json` output (never secrets). */
  details?: Record<string, unknown>
  /** Underlying error, kept for `--debug`. */
  cause?: unknown
}

/** Default exit code for each error code. */
export function exitCodeFor(code: ErrorCode): ExitCodeValue {
  switch (code) {
    case 'usage':
    case 'validation':
      return ExitCode.Usage
    case 'cancelled':
      return ExitCode.Cancelled
    case 'not_signed_in':
    case 'invalid_credentials':
    case 'unauthenticated':
      return ExitCode.Auth
    case 'unsafe':
      return ExitCode.Unsafe
    default:
      return ExitCode.Failure
  }
}

/**
 * The one error type the CLI renders. `message` says what failed and why;
 * `suggestions` say what to run.
 */
export class ApikeyError extends Error {
  readonly code: ErrorCode
  readonly exitCode: ExitCodeValue
  readonly suggestions: string[]
  readonly details: Record<string, unknown>

  constructor(message: string, options: ApikeyErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'ApikeyError'
    this.code = options.code
    this.exitCode = options.exitCode ?? exitCodeFor(options.code)
    this.suggestions = options.suggestions ?? []
    this.details = options.details ?? {}
  }

  /** The stable `--json` shape of this error. */
  toJSON(): {error: {code: ErrorCode; message: string; exitCode: number; suggestions: string[]; details: Record<string, unknown>}} {
    return {
      error: {code: this.code, message: this.message, exitCode: this.exitCode, suggestions: this.suggestions, details: this.details},
    }
  }
}

/** Shorthand for a usage error (exit 2) naming the flag and the rule. */
export function usageError(message: string, suggestions: string[] = [], details: Record<string, unknown> = {}): ApikeyError {
  return new ApikeyError(message, {code: 'usage', suggestions, details})
}

/**
 * Problem details object (RFC 9457) as served by the key service, with our
 * extension members. `code` is always present; `suggestions` lists commands.
 */
export interface ProblemDetails {
  type: string
  title: string
  status: number
  detail?: string
  instance?: string
  code: ErrorCode
  suggestions?: string[]
  [extension: string]: unknown
}
