/**
 * Logging policy: pino through Fastify's logger. Never a key, session,
 * provisioning or verifier token, or password in a log line: request logs carry method, path (query string
 * dropped, key- and token-shaped text replaced) and status only; no headers,
 * no bodies; pino `redact` removes the Authorization header and credential
 * fields should any code log them anyway.
 */
import {KEY_ENVIRONMENTS, KEY_SCAN_PATTERN} from '../core/key-format.js'
import {findSecret} from '../core/secrets.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX} from '../core/wire.js'

/** Replacement text for redacted values. */
export const REDACTED = '[REDACTED]'

/** Session, provisioning and verifier tokens (prefixes from core), also truncated ones. */
const TOKEN_PATTERN = new RegExp(`(?:${[SESSION_TOKEN_PREFIX, PROVISIONING_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX].join('|')})[0-9A-Za-z]{8,}`, 'g')
const BEARER_PATTERN = /(Bearer\s+)\S+/gi

/** Replaces API keys, session tokens (`aks_`), provisioning tokens (`akp_`), verifier tokens (`akv_`) and bearer credentials in `text` with {@link REDACTED}. */
export function redactSecrets(text: string): string {
  return text.replace(KEY_SCAN_PATTERN, REDACTED).replace(TOKEN_PATTERN, REDACTED).replace(BEARER_PATTERN, `$1${REDACTED}`)
}

/**
 * Key-shaped text even when glued to other characters (a pasted key with a stray letter or escape in
 * front of it): prefix, app slug, environment and at least 20 characters of secret.
 */
const LOOSE_KEY_PATTERN = new RegExp(`[a-z]{2,8}_[a-z0-9-]{3,32}_(?:${KEY_ENVIRONMENTS.join('|')})_[0-9A-Za-z]{20,}`)

/**
 * The path of a URL without its query string, safe to log or answer with: each path segment that
 * holds something key- or token-shaped (raw or percent-decoded, even glued to other text, in another
 * case, or split by encoded whitespace — the free-text guard's findSecret) or that
 * cannot be percent-decoded at all is replaced by {@link REDACTED} as a whole.
 */
export function safePath(url: string): string {
  const path = url.split('?')[0] ?? ''
  return path
    .split('/')
    .map((segment) => {
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        return REDACTED
      }
      return [segment, decoded].some((text) => LOOSE_KEY_PATTERN.test(text) || redactSecrets(text) !== text || findSecret(text) !== undefined) ? REDACTED : segment
    })
    .join('/')
}

/** pino `redact` paths: credential-bearing fields wherever a careless log call might put them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'req.body',
  'res.body',
  'body',
  'password',
  'token',
  'key',
  '*.password',
  '*.token',
  '*.key',
  '*.authorization',
]

/** pino serializers for Fastify's request/response log lines (no headers, no bodies). */
export const serializers = {
  req(request: {method: string; url: string; ip: string}): {method: string; url: string; remoteAddress: string} {
    return {method: request.method, url: safePath(request.url), remoteAddress: request.ip}
  },
  res(reply: {statusCode: number}): {statusCode: number} {
    return {statusCode: reply.statusCode}
  },
}
