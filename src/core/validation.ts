/**
 * Input rules shared by the CLI (exit 2 before any network call) and the
 * service (400 problem details).
 */

/** Pragmatic email rule (WHATWG `input[type=email]`), applied to points of contact. */
export const EMAIL_PATTERN = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/

/** Is `value` a plausible email address for a point of contact? */
export function isValidEmail(value: string): boolean {
  return value.length <= 254 && EMAIL_PATTERN.test(value)
}

/** Team slugs follow the same rule as app slugs. */
export {SLUG_PATTERN as TEAM_SLUG_PATTERN, SLUG_RULE as TEAM_SLUG_RULE, isValidSlug as isValidTeamSlug} from './key-format.js'

/** Usernames: 2–64 of `a-z 0-9 . _ -`, starting with a letter or digit. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/
/** Human-readable statement of {@link USERNAME_PATTERN}. */
export const USERNAME_RULE = '2–64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit'

/** Minimum password length for local accounts, in characters. */
export const MIN_PASSWORD_LENGTH = 8

/** App display names: 1–100 printable characters. */
export function isValidAppName(value: string): boolean {
  return value.trim().length > 0 && value.length <= 100 && !/[\u0000-\u001f\u007f]/.test(value)
}
