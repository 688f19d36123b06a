/**
 * Pieces shared by the lifecycle commands (`keys`, `apps`, `tokens`, `audit`):
 * a signed-in API client, the app a command is about, and strict parsing of
 * duration flags. No prompting: these commands never sign in on their
 * own; they say what to run.
 */
import {ApikeyError, isAuthFailure, usageError} from '../core/errors.js'
import {formatDuration, parseDuration, parseInstant} from '../core/duration.js'
import {isValidSlug, SLUG_RULE} from '../core/key-format.js'
import {MAX_RPM} from '../core/wire.js'
import type {ApiClient} from '../lib/api/client.js'
import type {Deps} from '../lib/deps.js'
import {currentSession, notSignedIn} from './session.js'
import {noServerError, resolveServer, type ResolvedServer} from './server-url.js'
import {refuseSecret, secretKind} from './secret-args.js'

/** A client with the developer's session, and the server it talks to. */
export interface SignedInApi {
  api: ApiClient
  server: ResolvedServer
}

/**
 * Resolves the server (`--server` → `APIKEY_SERVER` → `apikey.json` → last
 * login) and the session token (`APIKEY_TOKEN` → keychain → file).
 * @throws ApikeyError `usage` (exit 2) without a server; `not_signed_in` (exit 4) without a session.
 */
export async function signedInApi(deps: Deps, input: {server?: string; timeoutMs: number}): Promise<SignedInApi> {
  const server = resolveServer(input.server, deps.env, await deps.project(), await deps.config())
  if (server === undefined) throw noServerError()
  const session = await currentSession(deps, server)
  if (session === undefined) throw notSignedIn(server.url)
  const api = await deps.api({server: server.url, token: session.token, timeoutMs: input.timeoutMs})
  return {api: session.tokenSource === 'env' ? blameEnvToken(api, server.url) : api, server}
}

/** Client calls that do not send the session token. */
const SESSIONLESS_CALLS = new Set<PropertyKey>(['meta', 'login', 'whoamiKey'])

/**
 * The client, whose session calls turn a rejected token (exit 4) into an error
 * saying that the token came from `APIKEY_TOKEN`, with the ways out:
 * `unset APIKEY_TOKEN` (then the stored session is used) or `apikey login`.
 */
function blameEnvToken(api: ApiClient, serverUrl: string): ApiClient {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || SESSIONLESS_CALLS.has(prop)) return value
      return (...args: unknown[]) => {
        const out: unknown = value.apply(target, args)
        if (!(out instanceof Promise)) return out
        return out.catch((error: unknown) => {
          throw isAuthFailure(error) ? envTokenRejected(error as ApikeyError, serverUrl) : error
        })
      }
    },
  })
}

/** The error for a session token from `APIKEY_TOKEN` that the service rejected. */
export function envTokenRejected(error: ApikeyError, serverUrl: string): ApikeyError {
  return new ApikeyError(`the session token in APIKEY_TOKEN was rejected by ${serverUrl}: ${error.message}`, {
    code: error.code,
    exitCode: error.exitCode,
    suggestions: ['unset APIKEY_TOKEN (to use the session stored by apikey login)', `or sign in: apikey login --server ${serverUrl}`],
    details: {...error.details, tokenSource: 'APIKEY_TOKEN'},
    cause: error,
  })
}

/**
 * The app a command is about: `--app`, else `apikey.json`'s `app`.
 * @throws ApikeyError `usage` (exit 2) naming `--app` when neither is set or the slug is invalid.
 */
export async function resolveApp(deps: Deps, flag: string | undefined): Promise<string> {
  refuseSecret(flag, 'app slug', '--app')
  const app = flag ?? (await deps.project())?.project.app
  if (flag === undefined) refuseSecret(app, 'app slug', 'apikey.json "app"')
  if (app === undefined) throw usageError('no app given and no apikey.json here', ['pass --app SLUG', 'or run inside a project set up with apikey init'], {flag: '--app'})
  if (!isValidSlug(app)) throw usageError(`--app "${app}" is not a valid app slug: ${SLUG_RULE}`, [], {flag: '--app'})
  return app
}

/**
 * Parses a duration flag (`30d`, `24h`, `0`) into ms.
 * @param flag - the flag's name for messages, e.g. `--grace`.
 * @param options.allowZero - whether `0` is meaningful (a grace of 0 = at once); default false.
 * @throws ApikeyError `usage` (exit 2) naming the flag and the rule (unit, negative, fraction, over the 10-year maximum).
 */
export function durationFlag(flag: string, text: string, options: {allowZero?: boolean} = {}): number {
  let ms: number
  try {
    ms = parseDuration(text)
  } catch (error) {
    // Only offer 0 where 0 is accepted.
    const message = options.allowZero === true ? (error as Error).message : (error as Error).message.replace(/, or 0$/, '')
    throw usageError(`${flag}: ${message}`, [`e.g. ${flag} ${flag === '--grace' ? '24h' : '30d'}`], {flag})
  }
  if (ms === 0 && options.allowZero !== true) throw usageError(`${flag}: must be longer than 0 (a whole number and a unit s, m, h, d or w, e.g. 30d)`, [], {flag})
  return ms
}

/**
 * Parses a `--since`-style flag: a duration back from now (`7d`) or an ISO
 * 8601 instant with an offset (`2027-06-26T00:00:00Z`).
 * @returns ms since epoch.
 * @throws ApikeyError `usage` (exit 2) naming the flag and both accepted forms: for text that is neither, a
 *   duration over 10 years (saying so), or an instant in the future.
 */
export function sinceFlag(flag: string, text: string, now: number): number {
  const forms = 'a duration back from now (a whole number and a unit s, m, h, d or w, e.g. 7d, 24h) or an ISO 8601 instant with an offset (e.g. 2027-06-26T00:00:00Z or 2027-06-26T00:00:00+02:00)'
  const t = text.trim()
  if (/^\d+[a-zA-Z]?$/.test(t) || /^-\d/.test(t)) {
    let ms: number
    try {
      ms = parseDuration(t)
    } catch (error) {
      // The duration's own reason (e.g. longer than the maximum of 10 years) when it is one of ours.
      const reason = /longer than the maximum/.test((error as Error).message) ? (error as Error).message : `"${text}" is not a valid duration`
      throw usageError(`${flag}: ${reason}; give ${forms}`, [`e.g. ${flag} 7d`], {flag})
    }
    if (ms === 0) throw usageError(`${flag}: must be longer than 0; give ${forms}`, [`e.g. ${flag} 7d`], {flag})
    return now - ms
  }
  let at: number
  try {
    at = parseInstant(t)
  } catch (error) {
    throw usageError(`${flag}: ${(error as Error).message}; give ${forms}`, [`e.g. ${flag} 7d or ${flag} 2027-06-26T00:00:00+02:00`], {flag})
  }
  if (at > now) throw usageError(`${flag}: ${t} is in the future (now is ${new Date(now).toISOString()}); give a past instant or a duration back from now`, [`e.g. ${flag} 7d`], {flag})
  return at
}

/** The `--rpm` / `--clear` flags of `apikey keys limit` and `apikey apps limit`, as typed. */
export interface LimitFlags {
  /** `--rpm` as typed (parsed here, so that every mistake gets the same message). */
  rpm?: string
  /** `--clear`: remove the override. */
  clear: boolean
}

/**
 * Reads `--rpm N` / `--clear` into the `rpm` of a limit request: a whole number
 * of requests per minute from 1 to {@link MAX_RPM}, or null for `--clear`.
 * Exactly one of the two is required; nothing is guessed.
 * @param target - what the limit is for, in the messages: `key` (its own limit) or `app` (the app-wide limit).
 * @param subject - the key id or app slug as given (already checked not to be a secret), for the suggested commands.
 * @throws ApikeyError `usage` (exit 2) naming `--rpm` (and `--clear`) and the rule, before any request.
 */
export function rpmChange(flags: LimitFlags, target: 'key' | 'app', subject: string): number | null {
  const example = `apikey ${target === 'key' ? 'keys' : 'apps'} limit ${subject}`
  const what = target === 'key' ? "the key's own limit" : 'the app-wide limit of every key without its own'
  const fallback = target === 'key' ? "the app-wide limit or the environment's default applies again" : "keys without their own limit get their environment's default again"
  const range = `a whole number of requests per minute from 1 to ${MAX_RPM}`
  if (flags.rpm !== undefined && flags.clear) {
    throw usageError('--rpm and --clear cannot be used together: --rpm sets a limit, --clear removes it', [`${example} --rpm 600`, `${example} --clear`], {flag: '--rpm'})
  }
  if (flags.clear) return null
  if (flags.rpm === undefined) {
    throw usageError(`pass --rpm N to set ${what} (N: ${range}), or --clear to remove it (${fallback})`, [`${example} --rpm 600`, `${example} --clear`], {flag: '--rpm'})
  }
  const text = flags.rpm.trim()
  const n = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN
  if (Number.isSafeInteger(n) && n >= 1 && n <= MAX_RPM) return n
  // Never echo a pasted secret (or a long paste) back.
  const shown = secretKind(text) === undefined && text.length <= 32 ? `"${flags.rpm}"` : 'a value that is not a number (not shown)'
  const hints: string[] = [`e.g. ${example} --rpm 600`]
  if (n === 0) hints.push(`to remove ${target === 'key' ? "the key's own limit" : 'the app-wide limit'}: ${example} --clear`)
  if (n === 0 && target === 'key') hints.push(`to stop the key from working: apikey keys revoke ${subject}`)
  const why = Number.isSafeInteger(n) && n > MAX_RPM ? `at most ${MAX_RPM} requests per minute` : range
  throw usageError(`--rpm: expected ${why}, got ${shown}`, hints, {flag: '--rpm'})
}

/** Usage error for a destructive command without a terminal and without `--yes`. */
export function needsYes(what: string): Error {
  return usageError(`${what} needs confirmation: no interactive terminal (or CI is set), so pass --yes`, [`re-run with --yes`], {flag: '--yes'})
}

/**
 * Maps the service's field names in a 400 `validation` problem back to the
 * flags the user typed: `graceMs: …` → `--grace: …`,
 * `expiresAt: …` → `--expires-in: …`, `invalid body: metadata.branch …` →
 * `build metadata "branch" …`. Other errors pass through unchanged.
 *
 * @param fields - service field → flag, e.g. `{graceMs: '--grace'}`; `metadata.*`
 *   fields without an entry are named as build metadata.
 */
export async function withFlagNames<T>(work: Promise<T>, fields: Record<string, string>): Promise<T> {
  try {
    return await work
  } catch (error) {
    throw renameFields(error, fields)
  }
}

/** The error of {@link withFlagNames}, for callers that catch themselves. */
export function renameFields(error: unknown, fields: Record<string, string>): unknown {
  if (!(error instanceof ApikeyError) || error.code !== 'validation') return error
  const extensions = (error.details['extensions'] ?? {}) as Record<string, unknown>
  const field = typeof extensions['field'] === 'string' ? extensions['field'] : undefined
  let message = error.message.replace(/^invalid (?:body|querystring|params|query): /, '')
  if (field === 'graceMs' && typeof extensions['maxGraceMs'] === 'number' && fields['graceMs'] !== undefined) {
    message = `${fields['graceMs']}: at most ${formatDuration(extensions['maxGraceMs'])} (this service's maximum), or 0 to end the old key at once`
  }
  // The limit routes take `rpm: null` to remove an override; on the command line that is --clear.
  if (field === 'rpm' && fields['rpm'] !== undefined) message = message.replace(/,? or null to remove the override/, ', or --clear to remove the override')
  const names = Object.keys(fields).sort((a, b) => b.length - a.length)
  for (const name of names) {
    message = message.replace(new RegExp(`(^|[\\s(;,])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\\s:;,.)]|$)`, 'g'), `$1${fields[name]}`)
  }
  message = message.replace(/(^|[\s(;,])metadata\.([A-Za-z]+)/g, '$1build metadata "$2"')
  const flag = field === undefined ? undefined : (fields[field] ?? (field.startsWith('metadata.') ? 'build metadata' : undefined))
  return new ApikeyError(message, {
    code: error.code,
    exitCode: error.exitCode,
    suggestions: error.suggestions,
    details: {...error.details, ...(flag === undefined ? {} : {flag})},
    cause: error,
  })
}

/**
 * Adds the command that lists the valid ids to a "no such key" or "no such
 * token" error (`key_not_found`, `not_found`): `apikey keys list --app APP` or
 * `apikey tokens list --app APP`, with the app of `apikey.json` when there is
 * one. Other errors pass through unchanged.
 * @param what - which ids the command took: `keys` or `tokens`.
 * @throws the error of `work`, with the list command added to its suggestions.
 */
export async function withListCommand<T>(deps: Deps, what: 'keys' | 'tokens', work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (!(error instanceof ApikeyError) || (error.code !== 'key_not_found' && error.code !== 'not_found')) throw error
    let app: string | undefined
    try {
      app = (await deps.project())?.project.app
    } catch {
      // An unreadable apikey.json: the placeholder below still names the command.
    }
    const list = `apikey ${what} list --app ${app !== undefined && isValidSlug(app) ? app : 'APP'}`
    throw new ApikeyError(error.message, {
      code: error.code,
      exitCode: error.exitCode,
      suggestions: [...error.suggestions.filter((s) => s !== list), `see the ${what === 'keys' ? 'key' : 'token'} ids: ${list}`],
      details: error.details,
      cause: error,
    })
  }
}
