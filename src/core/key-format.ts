/**
 * The API key format:
 *
 *     <prefix>_<app>_<env>_<secret><check>
 *     ak_weather-app_dev_4fT9…(30 base62)…Xy12ab
 *
 * - prefix: the service's key prefix, 2–8 lowercase ASCII letters (default `ak`);
 * - app: the app's slug (see {@link SLUG_RULE});
 * - env: one of {@link KEY_ENVIRONMENTS};
 * - secret: 30 base62 characters from a CSPRNG (~178.6 bits);
 * - check: CRC32 (IEEE 802.3, as zlib) of every character before it, in base62,
 *   left-padded with `0` to 6 characters.
 *
 * Parsing is offline and pure. A key whose checksum fails must be rejected
 * before any lookup.
 */
import {randomBytes} from 'node:crypto'
import {crc32} from 'node:zlib'

/** Base62 alphabet in ASCII order: digits, upper case, lower case. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** Length of the random part, in characters. */
export const SECRET_LENGTH = 30
/** Length of the checksum, in characters. */
export const CHECKSUM_LENGTH = 6
/** Default key prefix. */
export const DEFAULT_KEY_PREFIX = 'ak'
/** Environments a key can be issued for. */
export const KEY_ENVIRONMENTS = ['dev', 'test', 'stage', 'prod', 'ci'] as const
/** One of {@link KEY_ENVIRONMENTS}. */
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number]

/** Rule for the key prefix: 2–8 lowercase letters. */
export const PREFIX_PATTERN = /^[a-z]{2,8}$/
/** Rule for app slugs: 3–32 of `a-z 0-9 -`, starts and ends alphanumeric, no `--`. */
export const SLUG_PATTERN = /^(?!.*--)[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/
/** Human-readable statement of {@link SLUG_PATTERN}, for error messages. */
export const SLUG_RULE = '3–32 characters of a-z, 0-9 and -, starting and ending with a letter or digit, without "--"'

/**
 * A regular expression that finds keys of this format in text (for scanners;
 * also shipped as a gitleaks rule in docs/key-format.md). It matches the shape only;
 * confirm a match with {@link parseKey}.
 */
export const KEY_SCAN_PATTERN = /\b[a-z]{2,8}_[a-z0-9][a-z0-9-]{1,30}[a-z0-9]_(?:dev|test|stage|prod|ci)_[0-9A-Za-z]{36}\b/g

/** Is `value` a valid app slug? */
export function isValidSlug(value: string): boolean {
  return SLUG_PATTERN.test(value)
}

/** Is `value` one of the key environments? */
export function isKeyEnvironment(value: string): value is KeyEnvironment {
  return (KEY_ENVIRONMENTS as readonly string[]).includes(value)
}

/** Encodes a non-negative safe integer in base62, left-padded with `0` to `width`. */
export function toBase62(value: number, width: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`toBase62: not a non-negative safe integer: ${value}`)
  let out = ''
  let n = value
  do {
    out = BASE62_ALPHABET[n % 62] + out
    n = Math.floor(n / 62)
  } while (n > 0)
  return out.padStart(width, '0')
}

/** The 6-character base62 CRC32 checksum of `body` (everything before the checksum). */
export function checksumOf(body: string): string {
  return toBase62(crc32(body), CHECKSUM_LENGTH)
}

/**
 * `length` characters drawn uniformly from the base62 alphabet using the OS
 * CSPRNG (rejection sampling, no modulo bias).
 */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    const bytes = randomBytes(length * 2)
    for (const byte of bytes) {
      // 248 = 62 * 4: accept 0..247 so each symbol is equally likely.
      if (byte < 248) out += BASE62_ALPHABET[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}

/** The parts of a key. */
export interface KeyParts {
  prefix: string
  app: string
  env: KeyEnvironment
}

/**
 * Builds a new key.
 * @throws RangeError when prefix, app or env break their rules.
 */
export function generateKey(parts: KeyParts, random: (length: number) => string = randomBase62): string {
  if (!PREFIX_PATTERN.test(parts.prefix)) throw new RangeError(`invalid key prefix "${parts.prefix}": must be 2–8 lowercase letters`)
  if (!isValidSlug(parts.app)) throw new RangeError(`invalid app slug "${parts.app}": ${SLUG_RULE}`)
  if (!isKeyEnvironment(parts.env)) throw new RangeError(`invalid environment "${parts.env}": one of ${KEY_ENVIRONMENTS.join(', ')}`)
  const body = `${parts.prefix}_${parts.app}_${parts.env}_${random(SECRET_LENGTH)}`
  return body + checksumOf(body)
}

/** Which part of a key a parse problem is about. */
export type KeyPart = 'format' | 'prefix' | 'app' | 'env' | 'secret' | 'checksum'

/** One reason a key failed to parse. */
export interface KeyProblem {
  part: KeyPart
  message: string
}

/** Result of {@link parseKey}. Fields are filled as far as they could be read. */
export interface ParsedKey {
  /** True only when every part follows its rule and the checksum holds. */
  valid: boolean
  prefix?: string
  app?: string
  env?: string
  /** Whether the checksum matched; undefined when the key could not be split. */
  checksumValid?: boolean
  /** Display start, e.g. `ak_weather-app_dev_4fT9…`: safe to show and log. */
  start?: string
  problems: KeyProblem[]
}

/** Maximum length of any well-formed key: 8 + 1 + 32 + 1 + 5 + 1 + 36. */
export const MAX_KEY_LENGTH = 84

/**
 * Parses a key offline: splits it, checks each part's rule and the checksum.
 * Never throws; never trims (whitespace makes a key invalid).
 * @param expectedPrefix when given, a different prefix is a problem.
 */
export function parseKey(key: string, expectedPrefix?: string): ParsedKey {
  const problems: KeyProblem[] = []
  if (typeof key !== 'string' || key.length === 0) {
    return {valid: false, problems: [{part: 'format', message: 'the key is empty'}]}
  }
  if (key.length > MAX_KEY_LENGTH) {
    return {valid: false, problems: [{part: 'format', message: `the key is ${key.length} characters long; keys are at most ${MAX_KEY_LENGTH}`}]}
  }
  const fields = key.split('_')
  if (fields.length !== 4) {
    return {
      valid: false,
      problems: [{part: 'format', message: `expected 4 parts separated by "_" (<prefix>_<app>_<env>_<secret+checksum>), found ${fields.length}`}],
    }
  }
  const [prefix, app, env, tail] = fields as [string, string, string, string]
  if (!PREFIX_PATTERN.test(prefix)) problems.push({part: 'prefix', message: `prefix "${visible(prefix)}" must be 2–8 lowercase letters`})
  else if (expectedPrefix !== undefined && prefix !== expectedPrefix)
    problems.push({part: 'prefix', message: `prefix "${prefix}" is not this service's prefix "${expectedPrefix}"`})
  if (!isValidSlug(app)) problems.push({part: 'app', message: `app "${visible(app)}" is not a valid slug: ${SLUG_RULE}`})
  if (!isKeyEnvironment(env)) problems.push({part: 'env', message: `environment "${visible(env)}" is not one of ${KEY_ENVIRONMENTS.join(', ')}`})
  const tailOk = tail.length === SECRET_LENGTH + CHECKSUM_LENGTH && /^[0-9A-Za-z]+$/.test(tail)
  if (!tailOk) {
    problems.push({
      part: 'secret',
      message: `the last part must be ${SECRET_LENGTH + CHECKSUM_LENGTH} base62 characters (secret + checksum), found ${tail.length} characters${/^[0-9A-Za-z]*$/.test(tail) ? '' : ' including characters outside 0-9A-Za-z'}`,
    })
  }
  const body = key.slice(0, key.length - CHECKSUM_LENGTH)
  const checksumValid = tailOk ? checksumOf(body) === tail.slice(SECRET_LENGTH) : undefined
  if (checksumValid === false) problems.push({part: 'checksum', message: 'the checksum does not match: the key was mistyped, truncated or edited'})
  const start = tailOk ? `${prefix}_${app}_${env}_${tail.slice(0, 4)}…` : undefined
  return {
    valid: problems.length === 0,
    prefix,
    app,
    env,
    ...(checksumValid === undefined ? {} : {checksumValid}),
    ...(start === undefined ? {} : {start}),
    problems,
  }
}

/** A short, printable rendering of a fragment for error messages (control characters escaped, length capped). */
function visible(fragment: string): string {
  const escaped = JSON.stringify(fragment).slice(1, -1)
  return escaped.length > 40 ? `${escaped.slice(0, 40)}…` : escaped
}

/** Display start of a valid key: prefix, app, env and the first 4 secret characters. */
export function displayStart(key: string): string {
  const parsed = parseKey(key)
  if (parsed.start === undefined) throw new RangeError('displayStart: not a well-formed key')
  return parsed.start
}
