/**
 * The one guard against secrets in free text, used by every CLI command (for
 * each flag and argument) and by the key service (for each body, query and
 * path field). Pure, no dependencies beyond this folder.
 *
 * Rules, for a field that is not itself meant to carry a secret:
 * - Anything containing text shaped like an API key
 *   (`<prefix>_<app>_<env>_` and at least {@link MIN_SECRET_TAIL} base62
 *   characters with an upper-case letter among them, or at least
 *   {@link MIN_RANDOM_ONLY_TAIL} of any case — a whole, truncated or edited
 *   key, not a word like `deployment1`) or a session (`aks_`),
 *   provisioning (`akp_`) or verifier (`akv_`) token (the prefix and at least 8
 *   base62 characters) is refused. The error names the field and the kind of
 *   secret and shows at most the key's display start (prefix, app, env and 4
 *   characters) or the token's 4-character prefix — never the value.
 * - Bidirectional-override and -isolate characters (U+202A–U+202E,
 *   U+2066–U+2069), zero-width and direction marks (U+200B–U+200F), every other
 *   invisible format character (Unicode Cf, e.g. U+00AD, U+061C, U+2060, U+FEFF),
 *   line and paragraph separators, lone UTF-16 surrogates and control
 *   characters other than tab and line breaks are refused: they make a name
 *   display as something else.
 * - Secrets are found also when disguised: another case, percent-encoded,
 *   invisible characters inside, split by whitespace.
 * - A username (rule `username`) that does not have the shape of a username
 *   ({@link USERNAME_PATTERN}, case-insensitive), or that equals the password
 *   given with it, is treated as a pasted password: refused and never shown.
 * - An id (rule `id`) that is a key's display start (`ak_weather-app_dev_4fT9…`)
 *   or a token's (`akp_4fT9…`) is recognised as such and answered with the
 *   command that lists ids (`apikey keys list`, `apikey tokens list`); it is
 *   not a secret.
 *
 * Every refusal is an {@link ApikeyError} with code `validation` (CLI exit 2,
 * HTTP 400) whose `details` carry `field`, `reason` and, for a secret,
 * `secretKind` — never the value.
 */
import {ApikeyError} from './errors.js'
import {CHECKSUM_LENGTH, KEY_ENVIRONMENTS, SECRET_LENGTH} from './key-format.js'
import {USERNAME_PATTERN, USERNAME_RULE} from './validation.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX} from './wire.js'

/** What kind of secret a value contains. */
export type SecretKind = 'api-key' | 'session-token' | 'provisioning-token' | 'verifier-token'

/** How a field is checked by {@link checkInput}. */
export type InputRule = 'text' | 'id' | 'username'

/** Why {@link checkInput} refused a value (the `reason` detail). */
export type InputRefusal = 'secret' | 'unsafe-character' | 'not-a-username' | 'password-as-username' | 'key-start' | 'token-start'

/** A secret found in text: its kind and a description safe to show (never more than a key's display start). */
export interface FoundSecret {
  kind: SecretKind
  /** E.g. `an API key (ak_weather-app_dev_4fT9…)` or `a provisioning token (akp_…)`. */
  shown: string
}

/** Fewest base62 characters after `<prefix>_<app>_<env>_` for text to count as (part of) an API key; a display start has 4. */
export const MIN_SECRET_TAIL = 12
/** Fewest base62 characters after a token prefix for text to count as (part of) a token; a token's display start has 4. */
export const MIN_TOKEN_TAIL = 8

const ENVS = KEY_ENVIRONMENTS.join('|')
const TOKEN_PREFIXES: ReadonlyArray<readonly [string, SecretKind, string]> = [
  [SESSION_TOKEN_PREFIX, 'session-token', 'a session token'],
  [PROVISIONING_TOKEN_PREFIX, 'provisioning-token', 'a provisioning token'],
  [VERIFIER_TOKEN_PREFIX, 'verifier-token', 'a verifier token'],
]
const TOKEN_ALTERNATION = TOKEN_PREFIXES.map(([prefix]) => prefix).join('|')

/** (Part of) an API key anywhere in text; groups: prefix, app, env, tail. */
const KEY_IN_TEXT = new RegExp(`([a-z]{2,8})_([a-z0-9][a-z0-9-]*[a-z0-9])_(${ENVS})_([0-9A-Za-z]{${MIN_SECRET_TAIL},})`)

/** (Part of) a token anywhere in text, not inside a longer word; group: prefix. */
const TOKEN_IN_TEXT = new RegExp(`(?<![0-9A-Za-z])(${TOKEN_ALTERNATION})[0-9A-Za-z]{${MIN_TOKEN_TAIL},}`)
/** Global forms for {@link scrubSecrets}. */
const KEY_IN_TEXT_G = new RegExp(KEY_IN_TEXT.source, 'g')
const TOKEN_IN_TEXT_G = new RegExp(TOKEN_IN_TEXT.source, 'g')

/** A key's display start as shown by `keys list`: `ak_weather-app_dev_4fT9…` (1–11 characters, optional `…` or `...`). */
const KEY_START = new RegExp(`^([a-z]{2,8})_([a-z0-9][a-z0-9-]*[a-z0-9])_(${ENVS})_([0-9A-Za-z]{1,${MIN_SECRET_TAIL - 1}})(?:…|\\.{3})?$`)
/** A provisioning or verifier token's display start: `akp_4fT9…`. */
const TOKEN_START = new RegExp(`^(${PROVISIONING_TOKEN_PREFIX}|${VERIFIER_TOKEN_PREFIX})[0-9A-Za-z]{0,${MIN_TOKEN_TAIL - 1}}(?:…|\\.{3})?$`)

/**
 * Characters that make text display as something else: bidirectional
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), zero-width
 * characters and direction marks (U+200B–U+200F), lone surrogates, and control
 * characters (C0 other than tab, LF and CR; DEL; C1).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTER = /[\u202A-\u202E\u2066-\u2069\u200B-\u200F\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * The first secret in `text`, or undefined. Finds whole, truncated or edited
 * API keys and session, provisioning and verifier tokens anywhere in the text,
 * also when disguised: written in another case, percent-encoded (`%5F` for
 * `_`), with invisible format characters inside, or split by whitespace (see
 * {@link secretCandidates}).
 */
export function findSecret(text: string): FoundSecret | undefined {
  // Every key and token has an underscore, in any disguise but percent-encoding: most text is done here.
  if (!text.includes('_') && !text.includes('%')) return undefined
  for (const candidate of secretCandidates(text)) {
    const found = findPlainSecret(candidate)
    if (found !== undefined) return found
  }
  return undefined
}

/** {@link findSecret} on the text exactly as given. */
function findPlainSecret(text: string): FoundSecret | undefined {
  for (const key of text.matchAll(KEY_IN_TEXT_G)) {
    const [, prefix, app, env, tail] = key as unknown as [string, string, string, string, string]
    if (looksRandom(tail)) return {kind: 'api-key', shown: `an API key (${prefix}_${app}_${env}_${tail.slice(0, 4)}…)`}
  }
  const token = TOKEN_IN_TEXT.exec(text)
  if (token !== null) {
    const found = TOKEN_PREFIXES.find(([prefix]) => prefix === token[1])
    if (found !== undefined) return {kind: found[1], shown: `${found[2]} (${found[0]}…)`}
  }
  return undefined
}

/**
 * Invisible format characters (Unicode category Cf: soft hyphen, word joiner,
 * byte-order mark, direction marks…), line and paragraph separators, the
 * combining grapheme joiner and the Hangul fillers: removed before looking for
 * a secret, refused in free text by {@link checkInput}.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\u034F\u115F\u1160\u3164\uFFA0]/gu
/** A whitespace-separated word made only of characters a key or token consists of. */
const SECRET_PIECE = /^[0-9A-Za-z_-]+$/
/** How many consecutive words are joined when looking for a key split by whitespace (a key has no spaces; a paste split across lines gives a few pieces). */
const MAX_JOINED_PIECES = 6

/**
 * The forms of `text` in which a secret is looked for: as given; with
 * percent-escapes decoded (up to three times) and invisible characters
 * removed; that in lower case (a key written in capitals still names its
 * prefix, app and env, and its checksum lets anyone recover the case); and
 * runs of up to {@link MAX_JOINED_PIECES} whitespace-separated pieces joined
 * together (a key split by a space or line break).
 */
export function secretCandidates(text: string): string[] {
  const out = new Set<string>([text])
  let decoded = text
  for (let i = 0; i < 3 && /%[0-9A-Fa-f]{2}/.test(decoded); i++) decoded = decoded.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
  const visible = decoded.replace(INVISIBLE, '')
  for (const form of [visible, visible.toLowerCase()]) {
    out.add(form)
    for (const {joined} of joinedPieces(form)) out.add(joined)
  }
  return [...out]
}

/**
 * Every run of 2 to {@link MAX_JOINED_PIECES} consecutive whitespace-separated
 * pieces of `text` made only of {@link SECRET_PIECE} characters, joined without
 * the whitespace; `boundary` is where the last piece begins in `joined`.
 */
function* joinedPieces(text: string): Generator<{joined: string; boundary: number}> {
  const words = text.split(/\s+/).filter((word) => word.length > 0)
  for (let start = 0; start < words.length; start++) {
    if (!SECRET_PIECE.test(words[start]!)) continue
    let joined = words[start]!
    for (let end = start + 1; end < Math.min(words.length, start + MAX_JOINED_PIECES); end++) {
      if (!SECRET_PIECE.test(words[end]!)) break
      const boundary = joined.length
      joined += words[end]!
      yield {joined, boundary}
    }
  }
}

/**
 * Whether the part after `<prefix>_<app>_<env>_` reads as a key's random part
 * rather than a word: {@link MIN_RANDOM_ONLY_TAIL} characters or more, or an
 * upper-case letter among them (a key's 36 base62 characters all lack one with
 * probability (36/62)^36 < 10^-8; a 12-character piece, about 0.15 %). So a name
 * like `ci_weather-app_prod_deployment1` is not taken for a key.
 */
function looksRandom(tail: string): boolean {
  return tail.length >= MIN_RANDOM_ONLY_TAIL || /[A-Z]/.test(tail)
}

/** From this many characters on, the part after the environment is taken for a key's whatever its letters. */
export const MIN_RANDOM_ONLY_TAIL = 20

/**
 * `text` with every secret {@link findSecret} would find (and any
 * lower-case-only piece shaped like one: masking errs on the safe side) replaced by a
 * description that shows no part of the secret: `<prefix>_<app>_<env>_***` for
 * a key, `aks_***` (etc.) for a token. For messages and debug output.
 */
export function scrubSecrets(input: string): string {
  // Invisible characters carry nothing a reader needs and could hide a secret from the patterns.
  const text = input.replace(INVISIBLE, '')
  const scrubbed = text
    .replace(KEY_IN_TEXT_G, (_m, prefix: string, app: string, env: string) => `${prefix}_${app}_${env}_***`)
    .replace(TOKEN_IN_TEXT_G, (_m, prefix: string) => `${prefix}***`)
  // A disguised secret (other case, encoded, split) cannot be cut out piece by piece: withhold the whole text.
  return findSecret(scrubbed) === undefined && !hasSplitSecret(text) ? scrubbed : SECRET_WITHHELD
}

/** Whether a secret in `text` continues past whitespace (so masking the first piece would leave the rest shown). */
function hasSplitSecret(text: string): boolean {
  for (const form of [text, text.toLowerCase()]) {
    for (const {joined, boundary} of joinedPieces(form)) if (secretSpans(joined, boundary)) return true
  }
  return false
}

/**
 * Whether a key or token found in `text` is cut by `boundary` (where two
 * whitespace-separated pieces were joined): its random part starts before the
 * boundary, is shorter there than a whole one ({@link SECRET_LENGTH} +
 * {@link CHECKSUM_LENGTH} for a key, {@link TOKEN_RANDOM_LENGTH} for a token)
 * and continues after it.
 */
function secretSpans(text: string, boundary: number): boolean {
  for (const m of text.matchAll(KEY_IN_TEXT_G)) {
    const tail = m[4] ?? ''
    const tailStart = m.index + m[0].length - tail.length
    if (looksRandom(tail) && tailStart < boundary && boundary - tailStart < SECRET_LENGTH + CHECKSUM_LENGTH && m.index + m[0].length > boundary) return true
  }
  for (const m of text.matchAll(TOKEN_IN_TEXT_G)) {
    const randomStart = m.index + (m[1]?.length ?? 0)
    if (randomStart < boundary && boundary - randomStart < TOKEN_RANDOM_LENGTH && m.index + m[0].length > boundary) return true
  }
  return false
}

/** Length of the random part of a session, provisioning or verifier token (base62 characters after its prefix). */
export const TOKEN_RANDOM_LENGTH = 40

/** What {@link scrubSecrets} answers for text holding a disguised secret. */
export const SECRET_WITHHELD = '[withheld: contains what looks like a key or token]'

/** Does `text` contain a character that {@link checkInput} refuses (bidi control, zero-width, lone surrogate, control)? */
export function hasUnsafeCharacter(text: string): boolean {
  return UNSAFE_CHARACTER.test(text) || new RegExp(INVISIBLE.source, 'u').test(text)
}

/** Options of {@link checkInput}. */
export interface CheckInputOptions {
  /** `text` (default), `id` (also recognises display starts) or `username`. */
  rule?: InputRule
  /** For `username`: the password given with it; a username equal to it is refused. */
  password?: string
  /** What the field expects, for the message, e.g. `a key id (key_…)`. */
  expected?: string
}

/**
 * Checks one free-text value before it is used, sent or stored.
 *
 * @param value - the value as given (not trimmed).
 * @param field - how the caller named the field: a flag (`--name`), an argument
 *   (`KEY_ID`) or a body/query member (`name`, `query.app`). Shown in the message.
 * @returns nothing when the value may be used.
 * @throws ApikeyError code `validation` (CLI exit 2, HTTP 400) naming the field
 *   and why — never containing the value.
 */
export function checkInput(value: string, field: string, options: CheckInputOptions = {}): void {
  const rule = options.rule ?? 'text'
  const secret = findSecret(value)
  if (secret !== undefined) throw secretRefusal(field, secret, options.expected)
  if (rule === 'username') {
    if (options.password !== undefined && options.password.length > 0 && value === options.password) {
      throw refusal(field, 'password-as-username', `${field} is the same as the password; a username is never a password — it was not used and is not shown`, [
        'give your username (e.g. ann) and type the password when asked',
      ])
    }
    if (!USERNAME_PATTERN.test(value.toLowerCase())) {
      throw refusal(field, 'not-a-username', `${field} does not look like a username (${USERNAME_RULE}); it is not shown in case it is a password`, [
        'give your username (e.g. ann) and type the password when asked',
      ])
    }
    return
  }
  if (hasUnsafeCharacter(value)) {
    throw refusal(
      field,
      'unsafe-character',
      `${field} contains an invisible or direction-changing character (a bidirectional control U+202A–U+202E or U+2066–U+2069, a zero-width character U+200B–U+200F, another invisible format character such as U+00AD, U+061C, U+2060 or U+FEFF, a line or paragraph separator, a lone surrogate or a control character); such text displays as something it is not`,
      ['retype the value without copying it from a formatted document'],
    )
  }
  if (rule === 'id') {
    const keyStart = KEY_START.exec(value.trim())
    if (keyStart !== null) {
      const [, prefix, app, env, tail] = keyStart as unknown as [string, string, string, string, string]
      throw refusal(field, 'key-start', `${field} expects ${options.expected ?? 'an id'}, but ${prefix}_${app}_${env}_${tail.slice(0, 4)}… is a key's display start (what apikey keys list shows as a key's start), not its id`, [
        `apikey keys list --app ${keyStart[2]}   (shows each key's id, key_…, next to its start)`,
      ])
    }
    const tokenStart = TOKEN_START.exec(value.trim())
    if (tokenStart !== null) {
      throw refusal(field, 'token-start', `${field} expects ${options.expected ?? 'an id'}, but ${tokenStart[1]}… is a token's display start, not its id`, [
        tokenStart[1] === PROVISIONING_TOKEN_PREFIX ? 'apikey tokens list   (shows each token\'s id, tok_…, next to its start)' : 'apikey server verifiers list   (shows each verifier\'s name and id)',
      ])
    }
  }
}

/**
 * The refusal for a secret found in `field` (exported for callers that detect secrets themselves).
 * @param expected - what the field expects, e.g. `a key id (key_…)`; named in the message when given.
 */
export function secretRefusal(field: string, secret: FoundSecret, expected?: string): ApikeyError {
  const what = expected === undefined ? `${field} contains what looks like ${secret.shown}` : `${field} expects ${expected}, but the value given looks like ${secret.shown}`
  return new ApikeyError(
    `${what}; it was refused, not sent or stored anywhere, and is not shown here (a key or token goes only where a secret is asked for: never in a name, contact, id or URL)`,
    {
      code: 'validation',
      suggestions: [SECRET_ADVICE[secret.kind], 'if the secret was shared, logged or committed anywhere, replace it (rotate a key, revoke a token)'],
      details: {field, reason: 'secret' satisfies InputRefusal, secretKind: secret.kind},
    },
  )
}

const SECRET_ADVICE: Record<SecretKind, string> = {
  'api-key': 'apikey whoami KEY   (shows a key\'s id, app and team without putting it anywhere)',
  'session-token': 'apikey status   (shows your session; a session token is never an argument)',
  'provisioning-token': 'apikey tokens list   (shows each token\'s id, tok_…, and app)',
  'verifier-token': 'verifier tokens belong in the protected API\'s configuration only (apikey server verifiers list shows names and ids)',
}

function refusal(field: string, reason: InputRefusal, message: string, suggestions: string[]): ApikeyError {
  return new ApikeyError(message, {code: 'validation', suggestions, details: {field, reason}})
}
