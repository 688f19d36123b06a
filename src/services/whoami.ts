/**
 * `apikey whoami`: which app and team own a key. The offline part (prefix,
 * app, env, checksum) always runs and never touches the network; the owner
 * lookup asks the key service with the key itself as credential.
 */
import {ApikeyError, ExitCode} from '../core/errors.js'
import {parseKey, type KeyProblem} from '../core/key-format.js'
import {replacementCommand} from '../core/replacement-command.js'
import type {AppView, KeyView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {locateKey, type KeySourceName, type KeySourceReport} from './key-sources.js'
import {noServerError, resolveServer, type ServerSource} from './server-url.js'

/** Input of {@link whoami}. */
export interface WhoamiInput {
  /** Key from the argument or `--key`. */
  key?: string
  /** Skip the owner lookup. */
  offline: boolean
  /** `--server`. */
  server?: string
  /** Overall deadline, ms. */
  timeoutMs: number
  /** `--dotenv-file` override. */
  envFile?: string
  /** `--var` override. */
  variable?: string
}

/** Result of {@link whoami}; the `--json` output of `apikey whoami`. */
export interface WhoamiResult {
  /** What the key says about itself, offline. */
  key: {start: string; prefix: string; app: string; env: string; checksumValid: true}
  /** Where the key came from. */
  source: {name: KeySourceName; location: string}
  /** Every place looked at (when the key was not given on the command line). */
  sources: KeySourceReport[]
  /** The owner lookup: `skipped` with --offline, `ok`, or `failed` with the error. */
  lookup:
    | {state: 'skipped'}
    | {state: 'ok'; server: {url: string; source: ServerSource}; app: AppView; apiKey: KeyView}
    | {state: 'failed'; server?: {url: string; source: ServerSource}; error: {code: string; message: string; suggestions: string[]}}
  warnings: string[]
}

/** Days before expiry from which whoami warns. */
export const EXPIRY_WARNING_DAYS = 14

/**
 * Is the looked-up key rejected by the service (revoked or expired)? `apikey whoami`
 * then exits 1 so scripts notice; the answer still describes the key.
 */
export function isRejected(result: WhoamiResult): boolean {
  return result.lookup.state === 'ok' && result.lookup.apiKey.status !== 'active'
}

/**
 * Runs whoami.
 * @throws ApikeyError `not_found` (exit 4) when no key is found anywhere;
 *   `malformed_key` (exit 1) naming the wrong parts — before any network call.
 */
export async function whoami(deps: Deps, input: WhoamiInput): Promise<WhoamiResult> {
  const project = await deps.project()
  const config = await deps.config()
  const server = resolveServer(input.server, deps.env, project, config)
  const location = await locateKey(deps, {
    ...(input.key === undefined ? {} : {argument: input.key}),
    ...(project === undefined ? {} : {project}),
    ...(input.envFile === undefined ? {} : {envFile: input.envFile}),
    ...(input.variable === undefined ? {} : {variable: input.variable}),
    ...(server === undefined ? {} : {serverHost: server.host}),
    firstOnly: input.key !== undefined,
  })
  if (location.chosen === undefined) {
    // "could not look" is not "not there": never suggest issuing another key then.
    const unreadable = location.sources.find((s) => s.state === 'unavailable')
    if (unreadable !== undefined) {
      throw new ApikeyError(`no API key found elsewhere, and ${unreadable.location} could not be read: ${unreadable.reason}`, {
        code: unreadable.source === 'keychain' ? 'keychain_unavailable' : 'io',
        suggestions: [
          unreadable.source === 'keychain' ? 'unlock the keychain (or start its daemon) and run this again' : `fix ${unreadable.location} and run this again`,
          'or pass the key: apikey whoami KEY',
        ],
        details: {sources: location.sources},
      })
    }
    throw new ApikeyError('no API key found: not given, not in the environment, not in .env, not in the keychain', {
      code: 'not_found',
      exitCode: ExitCode.Auth,
      suggestions: ['apikey init   (get your own key for this project)', 'apikey whoami KEY   (check a key you have)'],
      details: {sources: location.sources},
    })
  }
  const {key, source, location: where} = location.chosen
  const parsed = parseKey(key)
  if (!parsed.valid) throw malformedKeyError(parsed.problems, where)
  const result: WhoamiResult = {
    key: {start: parsed.start!, prefix: parsed.prefix!, app: parsed.app!, env: parsed.env!, checksumValid: true},
    source: {name: source, location: where},
    sources: location.sources,
    lookup: {state: 'skipped'},
    warnings: [...location.warnings],
  }
  if (input.offline) return result
  if (server === undefined) {
    const error = noServerError() as ApikeyError
    result.lookup = {state: 'failed', error: {code: error.code, message: error.message, suggestions: error.suggestions}}
    return result
  }
  const serverInfo = {url: server.url, source: server.source}
  try {
    const api = await deps.api({server: server.url, timeoutMs: input.timeoutMs})
    const answer = await api.whoamiKey(key)
    result.lookup = {state: 'ok', server: serverInfo, app: answer.app, apiKey: answer.key}
    const k = answer.key
    const fix = remedy(k)
    // A replaced key is not fixed by a new key: the replacement already exists.
    const replaced = k.rotation ? `it was replaced by ${k.rotation.replacedBy} ${deps.time(k.rotation.rotatedAt, 'stderr', 'at')}: use the new key (apikey whoami shows the key stored in this project)` : undefined
    if (k.status === 'expired' && k.rotation) {
      result.warnings.push(`this key stopped working ${deps.time(k.rotation.graceEndsAt, 'stderr', 'at')}: ${replaced}`)
    } else if (k.status === 'revoked') result.warnings.push(`this key was revoked${k.revokedAt ? ` ${deps.time(k.revokedAt, 'stderr', 'at')}` : ''}${k.revokedBy ? ` by ${k.revokedBy}` : ''}; ${replaced ?? fix}`)
    else if (k.status === 'expired') result.warnings.push(`this key expired ${deps.time(k.expiresAt ?? 0, 'stderr', 'at')}; ${fix}`)
    else {
      if (k.rotation) {
        result.warnings.push(`this key was rotated ${deps.time(k.rotation.rotatedAt, 'stderr', 'at')} (replaced by ${k.rotation.replacedBy}); its grace period ends ${deps.time(k.rotation.graceEndsAt, 'stderr', 'at')}, then it stops working: use the new key`)
      }
      if (k.expiresAt !== null && k.expiresAt - deps.now() < EXPIRY_WARNING_DAYS * 86_400_000) {
        result.warnings.push(`this key expires ${deps.time(k.expiresAt, 'stderr', 'at')} (in less than ${EXPIRY_WARNING_DAYS} days); ${fix}`)
      }
    }
  } catch (error) {
    const e = error instanceof ApikeyError ? error : new ApikeyError((error as Error).message, {code: 'internal', cause: error})
    const message = e.code === 'key_not_found' || e.code === 'not_found' ? `${server.url} does not know this key (${parsed.start}): it was not issued by this service, or it was deleted` : e.message
    result.lookup = {state: 'failed', server: serverInfo, error: {code: e.code, message, suggestions: e.suggestions}}
  }
  return result
}

/**
 * What to do about a key that is revoked, expired or expiring:
 * a ci key is issued per build by `apikey ci key`, so the build is re-run; a
 * dev key is replaced with `apikey init --new-key`; a service key that still
 * works is rotated, one that ended (revoked or expired: the service refuses to
 * rotate those) is replaced by a new key of the same app and environment.
 */
export function remedy(key: Pick<KeyView, 'kind' | 'id' | 'app' | 'env' | 'status'>): string {
  const command = replacementCommand(key)
  if (key.kind === 'ci') return `ci keys are issued per build: re-run the CI job (its ${command} step issues a fresh key)`
  if (key.kind !== 'dev' && (key.status === 'revoked' || key.status === 'expired')) return `issue a new key: ${command}`
  return `run: ${command}`
}

/** The error for a key that fails the offline checks, naming each wrong part. */
export function malformedKeyError(problems: KeyProblem[], where: string): ApikeyError {
  const parts = [...new Set(problems.map((p) => p.part))]
  return new ApikeyError(`the key from ${where} is not valid (${parts.join(', ')}): ${problems.map((p) => p.message).join('; ')}`, {
    code: 'malformed_key',
    suggestions: ['copy the key again without edits, or get a new one: apikey init'],
    details: {problems},
  })
}
