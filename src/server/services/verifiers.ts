/**
 * Verifier tokens: bearer tokens `akv_` + 40 base62 (~238 bits) that
 * protected APIs (the verifier library, an nginx `auth_request` gateway) use to
 * call `POST /v1/verify`, `GET /v1/verify/auth-request` and `POST /v1/usage`.
 * Stored as SHA-256 plus a display start. Created and revoked by an admin on the
 * database file (`apikey server verifiers add|revoke`), like local accounts.
 *
 * A verifier may be scoped to key environments (`--env prod`): keys of other
 * environments get the verdict FORBIDDEN from it (see services/verify.ts). The
 * scope is fixed at creation; to change it, add a verifier with the new scope
 * and revoke the old one.
 */
import {ApikeyError} from '../../core/errors.js'
import {isKeyEnvironment, KEY_ENVIRONMENTS, type KeyEnvironment} from '../../core/key-format.js'
import type {Clock} from '../clock.js'
import {systemClock} from '../clock.js'
import {openAdminDatabase} from './admin-db.js'
import type {Verifier} from '../model.js'
import {UnavailableError, validationError} from '../problems.js'
import {inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import {resolveServerPaths} from '../settings.js'
import type {ServiceContext} from './context.js'
import type {LifecycleEvents} from './lifecycle.js'
import {defaultRandom, newId, newVerifierToken, sha256Hex, tokenStart, VERIFIER_TOKEN_PATTERN, type RandomBase62} from './crypto.js'

/** Rule for verifier names: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const VERIFIER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** Human-readable statement of {@link VERIFIER_NAME_PATTERN}. */
export const VERIFIER_NAME_RULE = '1–64 characters of letters, digits, ".", "_" and "-", starting with a letter or digit'

/** Human-readable list of the valid key environments, for error messages. */
export const KEY_ENVIRONMENTS_RULE = KEY_ENVIRONMENTS.join(', ')

/**
 * Validates a verifier's environment scope as given on the command line.
 * @param envs environment names; undefined means every environment.
 * @returns the scope in {@link KEY_ENVIRONMENTS} order without duplicates, or null for every environment.
 * @throws ApikeyError `validation` (exit 2) for an unknown name or an empty list, naming the valid environments.
 */
export function parseVerifierScope(envs: readonly string[] | undefined): KeyEnvironment[] | null {
  if (envs === undefined) return null
  const unknown = envs.filter((env) => !isKeyEnvironment(env))
  if (unknown.length > 0) {
    const names = unknown.map((env) => JSON.stringify(env)).join(', ')
    throw validationError('env', `${names} ${unknown.length === 1 ? 'is not a key environment' : 'are not key environments'}; valid environments: ${KEY_ENVIRONMENTS_RULE}`)
  }
  if (envs.length === 0) throw validationError('env', `name at least one key environment (${KEY_ENVIRONMENTS_RULE}), or leave it out to accept every environment`)
  return KEY_ENVIRONMENTS.filter((env) => envs.includes(env))
}

/** What a verifier accepts, in words: `prod keys only`, `stage and prod keys only`, or `keys of every environment`. */
export function describeVerifierScope(allowedEnvs: readonly KeyEnvironment[] | null): string {
  if (allowedEnvs === null) return 'keys of every environment'
  return `${joinOr(allowedEnvs, 'and')} keys only`
}

/** `a`, `a or b`, `a, b or c` (with `word` for the last join). */
export function joinOr(items: readonly string[], word = 'or'): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`
}

/** Where the database is, as for `apikey server users add`. */
export interface VerifierDbOptions {
  /** SQLite file; default {@link resolveServerPaths}`({env, homedir}).dbPath`. */
  dbPath?: string
  /** Environment for the default path (only `XDG_DATA_HOME` is read). */
  env?: Record<string, string | undefined>
  /** Home directory for the default path; default `os.homedir()`. */
  homedir?: string
  /** Clock for timestamps; default the wall clock. */
  clock?: Clock
}

/** Input of {@link addVerifier}. */
export interface AddVerifierOptions extends VerifierDbOptions {
  /** Unique name ({@link VERIFIER_NAME_RULE}), e.g. `weather-gateway`. */
  name: string
  /**
   * Key environments the verifier accepts (each one of {@link KEY_ENVIRONMENTS}; at least one);
   * default (undefined) every environment. Keys of other environments get FORBIDDEN.
   */
  envs?: readonly string[] | undefined
  /** Randomness for the id and token; default the OS CSPRNG. */
  random?: RandomBase62
}

/** Result of {@link addVerifier}; the stable `--json` shape of `apikey server verifiers add`. */
export interface AddVerifierResult {
  /** Public id, `vrf_` + 20 base62. */
  id: string
  name: string
  /** The token, `akv_` + 40 base62: shown this once, stored only as SHA-256. */
  token: string
  /** Display start, e.g. `akv_4fT9…`. */
  start: string
  /** ms since epoch. */
  createdAt: number
  /** Key environments it accepts, in {@link KEY_ENVIRONMENTS} order; null = every environment. */
  allowedEnvs: KeyEnvironment[] | null
  /** The database file written. */
  dbPath: string
}

/** Input of {@link revokeVerifier}. */
export interface RevokeVerifierOptions extends VerifierDbOptions {
  /** Id (`vrf_…`) or name of the verifier. */
  verifier: string
}

/** Result of {@link revokeVerifier}. */
export interface RevokeVerifierResult {
  id: string
  name: string
  /** When it was revoked (the original time when it already was), ms since epoch. */
  revokedAt: number
  alreadyRevoked: boolean
  dbPath: string
}

function dbPathOf(options: VerifierDbOptions): string {
  return options.dbPath ?? resolveServerPaths({...(options.env === undefined ? {} : {env: options.env}), ...(options.homedir === undefined ? {} : {homedir: options.homedir})}).dbPath
}

/** One verifier as `apikey server verifiers list` shows it (never the token: only its display start). */
export interface VerifierListing {
  id: string
  name: string
  /** Display start of the token, e.g. `akv_4fT9…`. */
  start: string
  /** Accepted key environments, or null for every environment. */
  allowedEnvs: KeyEnvironment[] | null
  /** ms since epoch. */
  createdAt: number
  /** ms since epoch, or null while active. */
  revokedAt: number | null
}

/**
 * Every verifier on the database file, by name (active and revoked). Works whether or
 * not the service runs; never creates a database (see {@link openAdminDatabase}).
 * @throws ApikeyError `not_found` when there is no database at the path; Error when it cannot be opened.
 */
export async function listVerifiers(options: VerifierDbOptions): Promise<{verifiers: VerifierListing[]; dbPath: string}> {
  const dbPath = dbPathOf(options)
  const handle = await openAdminDatabase(dbPath, options.env)
  try {
    const verifiers = await repositories(handle.db).verifiers.list()
    return {
      verifiers: verifiers.map((v) => ({id: v.id, name: v.name, start: v.start, allowedEnvs: v.allowedEnvs === null ? null : [...v.allowedEnvs], createdAt: v.createdAt, revokedAt: v.revokedAt})),
      dbPath,
    }
  } finally {
    await handle.close()
  }
}

/**
 * Creates a verifier token on the database file (applying migrations), with audit
 * event `verifier.create` (its details name the scope, `allowedEnvs`). Works whether or not
 * the service runs.
 * @returns the id, name, scope and the token (shown once).
 * @throws ApikeyError `validation` for a bad name or environment (see {@link parseVerifierScope});
 *   `conflict` when the name is taken; Error when the database cannot be opened.
 */
export async function addVerifier(options: AddVerifierOptions): Promise<AddVerifierResult> {
  if (!VERIFIER_NAME_PATTERN.test(options.name)) throw validationError('name', VERIFIER_NAME_RULE)
  const allowedEnvs = parseVerifierScope(options.envs)
  const dbPath = dbPathOf(options)
  const clock = options.clock ?? systemClock
  const random = options.random ?? defaultRandom
  const handle = await openAdminDatabase(dbPath, options.env)
  try {
    const token = newVerifierToken(random)
    const now = clock.now()
    const verifier = await inTransaction(handle.db, async (repos) => {
      const created = await repos.verifiers.insert({id: newId('vrf', random), name: options.name, tokenHash: sha256Hex(token), start: tokenStart(token), createdAt: now, allowedEnvs})
      await repos.audit.append({
        at: now,
        actorUserId: null,
        action: 'verifier.create',
        targetType: 'verifier',
        targetId: created.id,
        details: {name: created.name, start: created.start, allowedEnvs: created.allowedEnvs, via: 'cli'},
      })
      return created
    }).catch(async (error: unknown) => {
      if (!isUniqueViolation(error)) throw error
      const existing = await repositories(handle.db).verifiers.findByIdOrName(options.name)
      const hint =
        existing?.revokedAt != null
          ? `it was revoked at ${new Date(existing.revokedAt).toISOString()}, and a revoked verifier keeps its name (the audit log refers to it); pick another name, e.g. ${options.name}-2`
          : `pick another name, or revoke the old one first: apikey server verifiers revoke ${options.name}`
      throw new ApikeyError(`a verifier named "${options.name}" exists; ${hint}`, {code: 'conflict', details: {name: options.name, revoked: existing?.revokedAt != null}})
    })
    return {id: verifier.id, name: verifier.name, token, start: verifier.start, createdAt: verifier.createdAt, allowedEnvs: verifier.allowedEnvs === null ? null : [...verifier.allowedEnvs], dbPath}
  } finally {
    await handle.close()
  }
}

/**
 * Revokes a verifier token (by id or name) on the database file, with audit event
 * `verifier.revoke`. A running service stops accepting it within
 * `settings.verifierCacheMs` (≤ 5 s). Revoking twice answers `alreadyRevoked: true`.
 * @throws ApikeyError `not_found` for an unknown id or name.
 */
export async function revokeVerifier(options: RevokeVerifierOptions): Promise<RevokeVerifierResult> {
  const dbPath = dbPathOf(options)
  const clock = options.clock ?? systemClock
  const handle = await openAdminDatabase(dbPath, options.env)
  try {
    return await inTransaction(handle.db, async (repos) => {
      const found = await repos.verifiers.findByIdOrName(options.verifier)
      if (found === undefined) throw new ApikeyError(`no verifier with id or name "${options.verifier}"`, {code: 'not_found', details: {verifier: options.verifier}})
      if (found.revokedAt !== null) return {id: found.id, name: found.name, revokedAt: found.revokedAt, alreadyRevoked: true, dbPath}
      const now = clock.now()
      await repos.verifiers.revoke(found.id, now)
      await repos.audit.append({at: now, actorUserId: null, action: 'verifier.revoke', targetType: 'verifier', targetId: found.id, details: {name: found.name, via: 'cli'}})
      return {id: found.id, name: found.name, revokedAt: now, alreadyRevoked: false, dbPath}
    })
  } finally {
    await handle.close()
  }
}

/** The caller of a verifier route. */
export interface VerifierPrincipal {
  verifier: Verifier
}

/** The 401 for a verifier route without a working verifier token (never echoes the token). */
export function verifierRejected(detail: string): ApikeyError {
  return new ApikeyError(detail, {
    code: 'unauthenticated',
    suggestions: ['ask the key service admin for a verifier token: apikey server verifiers add NAME'],
    details: {credential: 'verifier_token'},
  })
}

/**
 * Authenticates verifier tokens with a small cache: a lookup (found or not) is reused
 * for at most `settings.verifierCacheMs` (≤ 5 s, injected clock), so a revoked token
 * stops working within that bound — at once when the revocation's change event arrives
 * (services/admin-changes.ts). Malformed tokens are refused without a lookup.
 */
export class VerifierAuth {
  private readonly cache = new Map<string, {verifier: Verifier | undefined; fetchedAt: number}>()

  /** @param events - when given, a verifier created or revoked by an admin command drops the cache at once. */
  constructor(
    private readonly ctx: ServiceContext,
    events?: LifecycleEvents,
  ) {
    events?.subscribe((event) => {
      if (event.type === 'verifier.revoked' || event.type === 'verifier.created') this.cache.clear()
    })
  }

  /**
   * The principal of `token` when its lookup is cached (younger than `settings.verifierCacheMs`)
   * and names a verifier that is not revoked: the answer {@link authenticate} would give, without
   * a promise. Undefined otherwise (then call {@link authenticate}, which also says why a token is refused).
   */
  cached(token: string | undefined): VerifierPrincipal | undefined {
    if (token === undefined) return undefined
    const entry = this.cache.get(token)
    if (entry === undefined || entry.verifier === undefined) return undefined
    const now = this.ctx.clock.now()
    if (now - entry.fetchedAt >= this.ctx.settings.verifierCacheMs || now < entry.fetchedAt) return undefined
    const verifier = entry.verifier
    if (verifier.revokedAt !== null && verifier.revokedAt <= now) return undefined
    return {verifier}
  }

  /**
   * @param token the bearer credential, or undefined when none was sent.
   * @throws ApikeyError `unauthenticated` (401) when missing, malformed, unknown or revoked;
   *   {@link UnavailableError} (503) when the database fails.
   */
  async authenticate(token: string | undefined): Promise<VerifierPrincipal> {
    if (token === undefined || token === '') throw verifierRejected('this route needs a verifier token: send "Authorization: Bearer akv_…"')
    const now = this.ctx.clock.now()
    // Keyed by the token itself (memory only, like the request that carries it): a hit costs no
    // hashing, and only well-formed tokens are ever stored.
    let entry = this.cache.get(token)
    if (entry === undefined || now - entry.fetchedAt >= this.ctx.settings.verifierCacheMs || now < entry.fetchedAt) {
      if (!VERIFIER_TOKEN_PATTERN.test(token)) throw verifierRejected('the bearer token is not a verifier token (akv_ followed by 40 letters and digits)')
      let verifier: Verifier | undefined
      try {
        verifier = await repositories(this.ctx.readDb).verifiers.findByTokenHash(sha256Hex(token))
      } catch (error) {
        throw new UnavailableError('verifier tokens cannot be checked right now (the database failed); try again shortly', {cause: error})
      }
      entry = {verifier, fetchedAt: now}
      if (this.ctx.settings.verifierCacheMs > 0) {
        if (this.cache.size >= 1000) this.cache.clear()
        this.cache.set(token, entry)
      }
    }
    const verifier = entry.verifier
    if (verifier === undefined) throw verifierRejected('the verifier token is not known (revoked and deleted, or issued by another server)')
    if (verifier.revokedAt !== null && verifier.revokedAt <= now) throw verifierRejected(`the verifier token "${verifier.name}" was revoked at ${new Date(verifier.revokedAt).toISOString()}`)
    return {verifier}
  }
}
