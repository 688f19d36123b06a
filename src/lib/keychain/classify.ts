/**
 * Turns failures of the OS keychain into {@link ApikeyError}s that tell
 * "store unavailable" (`keychain_unavailable`: no D-Bus, no Secret Service,
 * locked, timed out, native module missing) apart from other
 * keychain failures (`keychain_error`). "Not found" is never an error: reads
 * return `null`.
 *
 * Messages are single-line, carry no stack trace, and never contain a secret:
 * every secret in play is replaced by `[redacted]`.
 */
import {ApikeyError} from '../../core/errors.js'

/** Why the keychain cannot be used on this machine right now. */
export type UnavailableReason =
  /** `@napi-rs/keyring` is not installed or its native binary does not load (unsupported platform, missing optional dependency). */
  | 'not-installed'
  /** No D-Bus session bus (unset or dead `DBUS_SESSION_BUS_ADDRESS`). */
  | 'no-dbus'
  /** D-Bus is there but nothing provides the Secret Service (`org.freedesktop.secrets`). */
  | 'no-secret-service'
  /** The keyring is locked and could not be unlocked (prompt dismissed or impossible). */
  | 'locked'
  /** The Secret Service has no default keyring (collection) to write to. */
  | 'no-keyring'
  /** The platform refused access (macOS "user interaction is not allowed", kernel keyring AccessDenied…). */
  | 'access-denied'
  /** No answer within the time box. */
  | 'timeout'
  /** The keychain helper process could not run. */
  | 'helper-failed'
  /** The platform reported it cannot access its storage, for another reason. */
  | 'no-access'

/** Context for {@link classifyKeychainError}. */
export interface ClassifyContext {
  /** What we tried, for the message: e.g. `read the session token from`. Default `use`. */
  action?: string
  /** Display name of the store, e.g. `Secret Service`. Default `OS keychain`. */
  storeName?: string
  /** Secrets that must not appear in the message (values shorter than 3 characters are not searched). */
  secrets?: readonly string[]
  /** Time box of the call in ms, for timeout messages. */
  timeoutMs?: number
}

/** Raw failure shape reported by the keychain helper (the binding's error message and napi code). */
export interface RawKeychainFailure {
  message: string
  code?: string
}

const DOTENV_ALTERNATIVE = 'or keep the API key in the gitignored .env instead: apikey init --store dotenv'

/**
 * Replaces every secret in `text` by `[redacted]`, and collapses the text to
 * one line of at most 300 characters.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 3) out = out.split(secret).join('[redacted]')
  out = out.replace(/\s*\n\s*/g, ' ').trim()
  return out.length > 300 ? `${out.slice(0, 297)}...` : out
}

/**
 * Which {@link UnavailableReason} a binding error message means, or
 * `undefined` when it is not an availability problem (then it is a
 * `keychain_error`). Recognises the messages of keyring-rs 3.x / 4.x
 * (`Platform failure: DBus error: …`, `Couldn't access platform storage: …`).
 */
export function unavailableReasonOf(message: string): UnavailableReason | undefined {
  const m = message.toLowerCase()
  if (m.includes('cannot find native binding') || m.includes('failed to load native binding') || m.includes('cannot find module')) return 'not-installed'
  if (m.includes('prompt was dismissed') || m.includes('is locked') || m.includes('unlock')) return 'locked'
  if (m.includes('serviceunknown') || m.includes('org.freedesktop.secrets') || m.includes('was not provided by any .service files')) return 'no-secret-service'
  if (
    m.includes('dbus_session_bus_address') ||
    m.includes('autolaunch') ||
    m.includes('failed to connect to socket') ||
    m.includes('connection refused') ||
    m.includes('noserver') ||
    m.includes('dbus.error.disconnected') ||
    m.includes('dbus.error.noreply') ||
    m.includes('dbus.error.timedout') ||
    (m.includes('dbus') && (m.includes('connect') || m.includes('no such file')))
  )
    return 'no-dbus'
  if (m.includes('secret service: no result found')) return 'no-keyring'
  if (m.includes('accessdenied') || m.includes('access denied') || m.includes('user interaction is not allowed') || m.includes('permission denied')) return 'access-denied'
  if (m.includes("couldn't access platform") || m.includes('no storage access')) return 'no-access'
  return undefined
}

const WHY: Record<UnavailableReason, string> = {
  'not-installed': 'the native keychain module (@napi-rs/keyring) is not available on this platform or was not installed',
  'no-dbus': 'no D-Bus session bus is reachable (DBUS_SESSION_BUS_ADDRESS is unset or points nowhere)',
  'no-secret-service': 'no Secret Service (gnome-keyring, KWallet, KeePassXC) is running on the D-Bus session bus',
  locked: 'the keyring is locked and could not be unlocked (no password prompt could be shown, or it was dismissed)',
  'no-keyring': 'the Secret Service has no default keyring to store secrets in',
  'access-denied': 'the platform denied access to the keychain',
  timeout: 'it did not answer in time (a locked keyring waiting for a password, or a D-Bus service that does not respond)',
  'helper-failed': 'the keychain helper process failed',
  'no-access': 'the platform cannot access its secure storage',
}

function suggestionsFor(reason: UnavailableReason): string[] {
  switch (reason) {
    case 'not-installed':
      return ['reinstall apikey on a supported platform without --omit=optional (npm install -g apikey)', DOTENV_ALTERNATIVE]
    case 'no-dbus':
    case 'no-secret-service':
      return ['run inside a desktop session, or start a Secret Service (for example: gnome-keyring-daemon --start --components=secrets)', DOTENV_ALTERNATIVE]
    case 'locked':
    case 'no-keyring':
      return ['unlock (or create) your login keyring, for example by signing in to the desktop session, then retry', DOTENV_ALTERNATIVE]
    case 'timeout':
      return ['unlock the keyring if it is waiting for a password, or allow more time: APIKEY_KEYCHAIN_TIMEOUT_MS=10000', DOTENV_ALTERNATIVE]
    default:
      return [DOTENV_ALTERNATIVE]
  }
}

/**
 * The `keychain_unavailable` error for `reason`.
 * @param detail - the underlying message (already redacted), shown in parentheses.
 */
export function unavailableError(reason: UnavailableReason, context: ClassifyContext = {}, detail?: string): ApikeyError {
  const store = context.storeName ?? 'OS keychain'
  const action = context.action ?? 'use'
  const why = reason === 'timeout' && context.timeoutMs !== undefined ? `it did not answer within ${context.timeoutMs} ms (a locked keyring waiting for a password, or a D-Bus service that does not respond)` : WHY[reason]
  const message = `could not ${action} the OS keychain (${store}): ${why}${detail ? ` (${detail})` : ''}`
  return new ApikeyError(message, {
    code: 'keychain_unavailable',
    suggestions: suggestionsFor(reason),
    details: {reason, store, ...(context.timeoutMs !== undefined && reason === 'timeout' ? {timeoutMs: context.timeoutMs} : {})},
  })
}

/**
 * Classifies any keychain failure into an {@link ApikeyError}:
 * `keychain_unavailable` (with `details.reason`, an {@link UnavailableReason})
 * when the store cannot be used, else `keychain_error`. An `ApikeyError` is
 * returned unchanged. The message names the store and the action, is redacted
 * with `context.secrets`, and has no stack trace; the redacted original message
 * is kept as `cause` for `--debug`.
 */
export function classifyKeychainError(error: unknown, context: ClassifyContext = {}): ApikeyError {
  if (error instanceof ApikeyError) return error
  const raw = typeof error === 'object' && error !== null && 'message' in error ? String((error as RawKeychainFailure).message) : String(error)
  const detail = redactSecrets(raw, context.secrets)
  const cause = new Error(detail)
  const reason = unavailableReasonOf(raw)
  if (reason !== undefined) {
    const unavailable = unavailableError(reason, context, detail)
    return new ApikeyError(unavailable.message, {code: unavailable.code, suggestions: unavailable.suggestions, details: unavailable.details, cause})
  }
  const store = context.storeName ?? 'OS keychain'
  return new ApikeyError(`could not ${context.action ?? 'use'} the OS keychain (${store}): ${detail}`, {
    code: 'keychain_error',
    suggestions: [DOTENV_ALTERNATIVE],
    details: {store},
    cause,
  })
}

/**
 * Reasons meaning "there is no keychain on this machine" (as opposed to one
 * that exists but cannot be read right now: locked, timed out, access denied).
 * Lookups skip an absent keychain quietly; an unreadable one must be
 * reported.
 */
export const ABSENT_KEYCHAIN_REASONS: readonly UnavailableReason[] = ['not-installed', 'no-dbus', 'no-secret-service', 'no-keyring']

/** Is `error` a `keychain_unavailable` error whose reason is in {@link ABSENT_KEYCHAIN_REASONS}? */
export function isKeychainAbsent(error: unknown): error is ApikeyError {
  return isKeychainUnavailable(error) && (ABSENT_KEYCHAIN_REASONS as readonly unknown[]).includes(error.details.reason)
}

/** Is `error` a `keychain_unavailable` {@link ApikeyError}? */
export function isKeychainUnavailable(error: unknown): error is ApikeyError {
  return error instanceof ApikeyError && error.code === 'keychain_unavailable'
}
