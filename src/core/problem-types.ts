/**
 * Problem types (RFC 9457) that callers of a protected API meet, shared by the verifier library's
 * answers, the key service and the nginx example (examples/nginx/nginx.conf), so that one type
 * always has one title. Type URIs are tag URIs (RFC 4151): stable, not meant to be dereferenced
 * (RFC 9457 §3.1.1 allows that).
 */

/** Prefix of every problem type URI of apikey; the code follows it. */
export const PROBLEM_TYPE_PREFIX = 'tag:apikey,2025:problem:'

/** The problem type URI of a code, e.g. `tag:apikey,2025:problem:key_revoked`. */
export function problemTypeUri(code: string): string {
  return `${PROBLEM_TYPE_PREFIX}${code}`
}

/** Problems of a rejected API key: code, HTTP status and the one title of its type. */
export const KEY_PROBLEMS = {
  missing_key: {status: 401, title: 'Missing API key'},
  malformed_key: {status: 401, title: 'Malformed API key'},
  key_not_found: {status: 401, title: 'API key not found'},
  key_expired: {status: 401, title: 'API key expired'},
  key_revoked: {status: 401, title: 'API key revoked'},
  /** A genuine key of an environment this API does not accept. */
  key_not_allowed: {status: 403, title: 'API key not allowed here'},
  rate_limited: {status: 429, title: 'Too many requests'},
  verification_unavailable: {status: 503, title: 'Verification unavailable'},
} as const satisfies Record<string, {status: number; title: string}>

/** A code of {@link KEY_PROBLEMS}. */
export type KeyProblemCode = keyof typeof KEY_PROBLEMS
