/**
 * The one error envelope of the key service: problem details (RFC 9457),
 * `Content-Type: application/problem+json`, with our `code` (see
 * {@link ErrorCode}), optional `suggestions` (commands to run) and extension
 * members. Services throw {@link ApikeyError}; this module turns it into a
 * {@link ProblemDetails} body and a status from the one table below.
 */
import {ApikeyError, type ErrorCode, type ProblemDetails} from '../core/errors.js'
import {KEY_PROBLEMS, problemTypeUri} from '../core/problem-types.js'

/** Media type of problem details (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** HTTP status and title for every error code the service can answer with. */
export const PROBLEM_STATUS: Readonly<Record<ErrorCode, {status: number; title: string}>> = {
  usage: {status: 400, title: 'Bad request'},
  validation: {status: 400, title: 'Invalid request'},
  malformed_key: {status: 400, title: KEY_PROBLEMS.malformed_key.title},
  invalid_credentials: {status: 401, title: 'Invalid username or password'},
  unauthenticated: {status: 401, title: 'Not authenticated'},
  not_signed_in: {status: 401, title: 'Not signed in'},
  forbidden: {status: 403, title: 'Forbidden'},
  not_found: {status: 404, title: 'Not found'},
  key_not_found: {status: 404, title: KEY_PROBLEMS.key_not_found.title},
  conflict: {status: 409, title: 'Conflict'},
  key_revoked: {status: 410, title: KEY_PROBLEMS.key_revoked.title},
  key_expired: {status: 410, title: KEY_PROBLEMS.key_expired.title},
  rate_limited: {status: 429, title: KEY_PROBLEMS.rate_limited.title},
  unsafe: {status: 400, title: 'Refused as unsafe'},
  cancelled: {status: 400, title: 'Cancelled'},
  project_file: {status: 400, title: 'Bad request'},
  keychain_unavailable: {status: 500, title: 'Internal server error'},
  keychain_error: {status: 500, title: 'Internal server error'},
  io: {status: 500, title: 'Internal server error'},
  network: {status: 502, title: 'Bad gateway'},
  timeout: {status: 504, title: 'Gateway timeout'},
  server_error: {status: 500, title: 'Internal server error'},
  internal: {status: 500, title: 'Internal server error'},
}

/**
 * The problem `type` URI of a code: a tag URI (RFC 4151), stable and not meant
 * to be dereferenced (RFC 9457 §3.1.1 allows non-resolvable type URIs).
 */
export function problemType(code: ErrorCode): string {
  return problemTypeUri(code)
}

/** Members a problem body may not take from `details` (they are set by the envelope). */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'suggestions'])

/**
 * Builds the problem details body for an error.
 * `details` of an {@link ApikeyError} become extension members (never secrets).
 * @param instance URI of this occurrence (we use `urn:uuid:<request id>`).
 */
export function toProblem(error: ApikeyError, instance?: string): ProblemDetails {
  const {status, title} = PROBLEM_STATUS[error.code]
  const problem: ProblemDetails = {type: problemType(error.code), title, status, detail: error.message, code: error.code}
  if (instance !== undefined) problem.instance = instance
  if (error.suggestions.length > 0) problem.suggestions = [...error.suggestions]
  for (const [name, value] of Object.entries(error.details)) {
    if (!RESERVED.has(name) && value !== undefined) problem[name] = value
  }
  return problem
}

/** Shorthand: a 400 `validation` problem naming the field and the rule it breaks. */
export function validationError(field: string, rule: string): ApikeyError {
  return new ApikeyError(`${field}: ${rule}`, {code: 'validation', details: {field, errors: [{field, message: rule}]}})
}

/** Shorthand: a 401 `unauthenticated` problem suggesting `apikey login`. */
export function unauthenticated(detail: string): ApikeyError {
  return new ApikeyError(detail, {code: 'unauthenticated', suggestions: ['apikey login']})
}

/**
 * A temporary failure of the service (database or rate-limit store): problem
 * details with status 503 (code `server_error`) and `Retry-After` (seconds), so
 * callers such as the verifier library treat it as "verification unavailable"
 * and never as a verdict.
 */
export class UnavailableError extends ApikeyError {
  /** HTTP status of this problem (503). */
  readonly status = 503
  /** Seconds a caller should wait before retrying (the `Retry-After` header). */
  readonly retryAfterSeconds: number

  constructor(detail: string, options: {cause?: unknown; retryAfterSeconds?: number; details?: Record<string, unknown>} = {}) {
    super(detail, {code: 'server_error', cause: options.cause, details: {...options.details}})
    this.name = 'UnavailableError'
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1
  }
}
