/**
 * Pieces shared by the lifecycle commands (`keys`, `apps`, `tokens`, `audit`):
 * a signed-in API client, the app a command is about, and strict parsing of
 * duration flags (SC-16). No prompting: these commands never sign in on their
 * own; they say what to run.
 */
import {usageError} from '../core/errors.js'
import {parseDuration, parseInstant} from '../core/duration.js'
import {isValidSlug, SLUG_RULE} from '../core/key-format.js'
import type {ApiClient} from '../lib/api/client.js'
import type {Deps} from '../lib/deps.js'
import {currentSession, notSignedIn} from './session.js'
import {noServerError, resolveServer, type ResolvedServer} from './server-url.js'

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
  return {api: await deps.api({server: server.url, token: session.token, timeoutMs: input.timeoutMs}), server}
}

/**
 * The app a command is about: `--app`, else `apikey.json`'s `app`.
 * @throws ApikeyError `usage` (exit 2) naming `--app` when neither is set or the slug is invalid.
 */
export async function resolveApp(deps: Deps, flag: string | undefined): Promise<string> {
  const app = flag ?? (await deps.project())?.project.app
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
    throw usageError(`${flag}: ${(error as Error).message}`, [`e.g. ${flag} ${flag === '--grace' ? '24h' : '30d'}`], {flag})
  }
  if (ms === 0 && options.allowZero !== true) throw usageError(`${flag}: must be longer than 0 (a whole number and a unit s, m, h, d or w, e.g. 30d)`, [], {flag})
  return ms
}

/**
 * Parses a `--since`-style flag: a duration back from now (`7d`) or an ISO
 * 8601 instant with an offset (`2027-06-26T00:00:00Z`).
 * @returns ms since epoch.
 * @throws ApikeyError `usage` (exit 2) naming the flag and both accepted forms.
 */
export function sinceFlag(flag: string, text: string, now: number): number {
  if (/^\d/.test(text.trim()) && !text.includes('T')) return now - durationFlag(flag, text)
  try {
    return parseInstant(text)
  } catch (error) {
    throw usageError(`${flag}: ${(error as Error).message}; or give a duration back from now, e.g. 7d`, [], {flag})
  }
}

/** Usage error for a destructive command without a terminal and without `--yes`. */
export function needsYes(what: string): Error {
  return usageError(`${what} needs confirmation: no interactive terminal (or CI is set), so pass --yes`, [`re-run with --yes`], {flag: '--yes'})
}
