/**
 * Keeping secrets out of error messages and `--debug` output: a key or token
 * never appears in a log line, an error body or a URL.
 *
 * Rule: no character of a secret is shown. A key keeps only its public parts
 * (`ak_weather-app_dev_***`), a token only its kind prefix (`aks_***`), any
 * other credential (a bearer value, a password) becomes `***`.
 */
import {findSecret, scrubSecrets} from '../../core/secrets.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX} from '../../core/wire.js'

/** The marker that replaces a secret. */
export const REDACTED = '***'

/** What one masked secret looks like: a key's public parts or a token's kind prefix (from core), then {@link REDACTED}. */
const MASKED_ONE_SECRET = new RegExp(`^[a-z]{2,8}_[a-z0-9-]+_[a-z]+_\\*\\*\\*$|^(?:${[SESSION_TOKEN_PREFIX, PROVISIONING_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX].join('|')})\\*\\*\\*$`)

/**
 * Masks a secret without showing any character of it: an API key becomes its
 * public parts and `***` (`ak_weather-app_dev_***`), a token its kind prefix
 * and `***` (`aks_***`), anything else `***`.
 *
 * @example maskSecret('ak_weather-app_dev_4fT9…Xy12ab') === 'ak_weather-app_dev_***'
 */
export function maskSecret(value: string): string {
  const trimmed = value.trim()
  if (findSecret(trimmed) === undefined) return REDACTED
  const masked = scrubSecrets(trimmed)
  // Only a value that is one secret keeps its public parts; anything around it could be secret too.
  return MASKED_ONE_SECRET.test(masked) ? masked : REDACTED
}

/** Names of query parameters whose values are always redacted by {@link redactUrl}. */
const SECRET_QUERY_PARAM = /^(?:token|access_token|refresh_token|id_token|key|api_key|apikey|api-key|password|passwd|secret|client_secret|sig|signature|code)$/i

/**
 * A URL fit for messages and logs: credentials removed, secret-looking query
 * parameters masked.
 *
 * - `user:password@` → `user:***@` (the user name helps when debugging a proxy);
 * - a user name without a password → `***@` (it may be a token, as some proxies
 *   and Git hosts use);
 * - values of `token`, `key`, `password`, `secret`, `sig`… query parameters → `***`.
 *
 * Input that does not parse as a URL is returned with any `//userinfo@`
 * replaced by `//***@`.
 *
 * @param url - absolute URL as a string or `URL`.
 * @returns the redacted URL as a string (never throws).
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL
  try {
    parsed = new URL(typeof url === 'string' ? url : url.href)
  } catch {
    return String(url).replace(/\/\/[^/@\s]*@/g, `//${REDACTED}@`)
  }
  if (parsed.password) {
    parsed.password = REDACTED
  } else if (parsed.username) {
    parsed.username = REDACTED
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_QUERY_PARAM.test(name)) parsed.searchParams.set(name, REDACTED)
    else {
      const value = parsed.searchParams.get(name) ?? ''
      const scrubbed = scrubText(value)
      if (scrubbed !== value) parsed.searchParams.set(name, scrubbed)
    }
  }
  // Keys and tokens never belong in a path, but if one got there it is not shown either.
  const path = scrubText(decodeURIComponentSafe(parsed.pathname))
  if (path !== decodeURIComponentSafe(parsed.pathname)) parsed.pathname = path
  return parsed.href
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Field names whose string values are secrets in request and response bodies. */
const SECRET_FIELD = /^(?:password|passphrase|passwd|token|key|secret|apikey|api_key|authorization|cookie|set-cookie|proxy-authorization)$|(?:password|secret|token)$/i
/** Field names whose values are always a bare `***` (a password has no public part). */
const PASSWORD_FIELD = /(?:password|passphrase|passwd)$/i

/**
 * Does `value` (an id or slug about to go in a URL path) look like a secret:
 * anything the free-text guard finds ({@link findSecret}), or a value starting
 * with a token prefix (`aks_`, `akp_`, `akv_`)?
 */
export function looksLikeSecret(value: string): boolean {
  return findSecret(value) !== undefined || new RegExp(`^\\s*(?:${SESSION_TOKEN_PREFIX}|${PROVISIONING_TOKEN_PREFIX}|${VERIFIER_TOKEN_PREFIX})`).test(value)
}

/**
 * Replaces every secret in free text: each of `knownSecrets` (exact
 * occurrences), anything the free-text guard finds (keys and tokens:
 * {@link scrubSecrets}), and the credentials of `Bearer`/`Basic`
 * authorization values.
 *
 * @param text - any text (a message, a debug line, a response snippet).
 * @param knownSecrets - secrets in play (the session token, the key); empty
 *   strings are ignored.
 * @param hidden - secrets replaced by a bare `***` without any hint (passwords);
 *   values shorter than 4 characters are skipped (they would mangle ordinary text).
 */
export function scrubText(text: string, knownSecrets: readonly (string | undefined)[] = [], hidden: readonly string[] = []): string {
  let out = text
  for (const secret of [...hidden].filter((h) => h.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED)
  // Longest first, so a secret containing another is replaced whole.
  const secrets = knownSecrets.filter((s): s is string => typeof s === 'string' && s.length > 0).sort((a, b) => b.length - a.length)
  for (const secret of secrets) out = out.split(secret).join(maskSecret(secret))
  out = scrubSecrets(out)
  // Credentials after an auth scheme, unless already masked above.
  out = out.replace(/\b(Bearer|Basic)\s+(?![^\s"',;]*\*\*\*)([^\s"',;]+)/gi, (_m, scheme: string, cred: string) => `${scheme} ${maskSecret(cred)}`)
  return out
}

/**
 * A deep copy of a JSON value with secrets masked: string values of fields
 * named like `password`, `token`, `key`, `secret`, `authorization` (or ending in
 * `password`/`secret`/`token`) — passwords as a bare `***`, never with a hint — plus any string that {@link scrubText} would
 * change. Objects under such names (e.g. a `key` object describing a key) are
 * walked, not dropped.
 */
export function redactJson(value: unknown, knownSecrets: readonly (string | undefined)[] = []): unknown {
  if (typeof value === 'string') return scrubText(value, knownSecrets)
  if (Array.isArray(value)) return value.map((v) => redactJson(v, knownSecrets))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v === 'string' && PASSWORD_FIELD.test(name)) out[name] = REDACTED
      else out[name] = typeof v === 'string' && SECRET_FIELD.test(name) ? maskSecret(v) : redactJson(v, knownSecrets)
    }
    return out
  }
  return value
}

/**
 * Masks the credentials of an `Authorization` (or `Proxy-Authorization`)
 * header value, keeping the scheme: `Bearer aks_***` (see {@link maskSecret}).
 */
export function redactAuthorization(value: string): string {
  const m = /^(\S+)\s+(.*)$/s.exec(value)
  return m ? `${m[1]} ${maskSecret(m[2] ?? '')}` : maskSecret(value)
}
