/**
 * Issuing, inspecting, rotating and revoking API keys.
 * This service decides who may act (members of the app's owning team; a
 * provisioning token only for `ci` keys of its app) and checks request rules;
 * every state change is performed by {@link KeyLifecycle}. The plaintext key
 * exists only in the 201 response; the database holds HMAC-SHA256(pepper, key)
 * and the display start.
 */
import {ApikeyError} from '../../core/errors.js'
import {parseKey, type KeyEnvironment} from '../../core/key-format.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX} from '../../core/wire.js'
import type {
  CreateKeyRequest,
  CreateKeyResponse,
  GetKeyResponse,
  KeyKind,
  KeyMetadata,
  KeyView,
  KeyWhoamiResponse,
  ReplaceKeyRequest,
  ReplaceKeyResponse,
  RevokeKeyRequest,
  RevokeKeyResponse,
  RotateKeyRequest,
  RotateKeyResponse,
} from '../../core/wire.js'
import type {ApiKey, App} from '../model.js'
import {validationError} from '../problems.js'
import {repositories, type Repositories} from '../repositories/index.js'
import {notMemberError, requireMember} from './access.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {KEY_ID_PATTERN, keyHash} from './crypto.js'
import {keyNotFound, type KeyLifecycle} from './lifecycle.js'
import {outOfScope, type ProvisioningPrincipal} from './tokens.js'
import {appView, keyView} from './views.js'

/** Longest key name, in characters. */
export const MAX_KEY_NAME_LENGTH = 100
/** Environments a provisioning token may issue keys for (only `ci`: a build must not mint dev, stage or prod keys). */
export const PROVISIONING_ENVS: readonly KeyEnvironment[] = ['ci']

/** The 404 for a key id that is not a key id; says so without echoing what was sent (it may be a key). */
function badKeyId(id: string, keyPrefix: string): ApikeyError {
  const looksLikeKey = id.startsWith(`${keyPrefix}_`) || id.startsWith(SESSION_TOKEN_PREFIX) || id.startsWith(PROVISIONING_TOKEN_PREFIX)
  return new ApikeyError(
    looksLikeKey
      ? 'no key with this id: that looks like a secret, not a key id — never put keys or tokens in URLs; inspect a key with POST /v1/keys/whoami (apikey whoami)'
      : 'no key with this id (key ids look like key_ followed by 20 letters and digits)',
    {code: 'key_not_found', suggestions: looksLikeKey ? ['apikey whoami'] : []},
  )
}

/**
 * A key and the app it belongs to.
 * @throws ApikeyError `key_not_found` for an unknown id; Error when the key's app is missing (a broken database).
 */
export async function findKeyWithApp(repos: Repositories, id: string): Promise<{key: ApiKey; app: App}> {
  const key = await repos.keys.findById(id)
  if (key === undefined) throw keyNotFound(id)
  const app = await repos.apps.findById(key.appId)
  if (app === undefined) throw new Error(`app of key ${key.id} is missing`)
  return {key, app}
}

/** Longest revocation reason, in characters. */
export const MAX_REASON_LENGTH = 500

/** A personal key: a `dev` key issued by a person (not by a provisioning token). */
export function isPersonal(key: ApiKey): boolean {
  return key.kind === 'dev' && key.createdByTokenId === null
}

/**
 * The 403 for acting on a colleague's personal key.
 * @param rule who may, e.g. `only ann (who holds it) can rotate it`.
 */
export function personalKeyError(key: ApiKey, app: App, verb: 'rotate' | 'revoke' | 'limit', rule: string): ApikeyError {
  return new ApikeyError(`key ${key.id} (${key.start}) is the personal ${key.env} key of ${key.createdBy}: ${rule}`, {
    code: 'forbidden',
    suggestions:
      verb === 'rotate'
        ? [`issue your own key: apikey init --app ${app.slug}`, `or, to stop it, an owner of team ${app.team.slug} runs: apikey keys revoke ${key.id}`]
        : verb === 'limit'
          ? [`ask ${key.createdBy} or an owner of team ${app.team.slug}: apikey keys limit ${key.id} --rpm N`, `or set the app-wide limit: apikey apps limit ${app.slug} --rpm N`]
          : [`ask ${key.createdBy} or an owner of team ${app.team.slug}: apikey keys revoke ${key.id}`],
    details: {keyId: key.id, holder: key.createdBy, owningTeam: app.team.slug, rule: 'personal keys are rotated only by their holder; revoked and rate-limited by their holder or team owners'},
  })
}

/**
 * A personal key is rotated only by the person who holds it (rotation hands out the new secret).
 * @throws ApikeyError `forbidden`.
 */
function requireHolderToRotate(key: ApiKey, app: App, principal: Principal): void {
  if (isPersonal(key) && key.createdByUserId !== principal.user.id) {
    throw personalKeyError(key, app, 'rotate', `only ${key.createdBy} (who holds it) can rotate it`)
  }
}

/** A revocation reason: trimmed, 1–{@link MAX_REASON_LENGTH} characters without control characters, or undefined. @throws ApikeyError `validation`. */
function checkReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined
  const trimmed = reason.trim()
  if (trimmed === '' || trimmed.length > MAX_REASON_LENGTH || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw validationError('reason', `1–${MAX_REASON_LENGTH} characters, without control characters`)
  }
  return trimmed
}

/** Issuing, listing, inspecting, rotating and revoking keys. */
export class KeysService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly lifecycle: KeyLifecycle,
  ) {}

  /**
   * The app, when the caller is a member of its owning team.
   * @throws ApikeyError `not_found` for an unknown app; `forbidden` naming the
   *   owning team and contact, suggesting the caller register their own app.
   */
  private async appForMember(principal: Principal, slug: string): Promise<App> {
    const repos = repositories(this.ctx.db)
    const app = await repos.apps.findBySlug(slug)
    if (app === undefined) throw appNotFound(slug)
    await requireMember(repos, principal, app, 'list or issue its keys')
    return app
  }

  /**
   * A key and its app, when the caller is a member of the app's owning team.
   * @throws ApikeyError `key_not_found` (404) for an unknown id; `forbidden` (403) naming the owning team.
   */
  private async keyForMember(principal: Principal, id: string, what: string): Promise<{key: ApiKey; app: App}> {
    if (!KEY_ID_PATTERN.test(id)) throw badKeyId(id, this.ctx.settings.keyPrefix)
    const repos = repositories(this.ctx.db)
    const {key, app} = await findKeyWithApp(repos, id)
    await requireMember(repos, principal, app, what)
    return {key, app}
  }

  private static checkName(name: string | undefined): void {
    if (name !== undefined && (name.length > MAX_KEY_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name))) {
      throw validationError('name', `at most ${MAX_KEY_NAME_LENGTH} characters, without control characters`)
    }
  }

  /**
   * Issues a key for an app of one of the caller's teams (`key.create`, `key.created`).
   * Expiry: `request.expiresAt` (plausible ms since epoch, in the future, within the
   * env maximum — see {@link KeyLifecycle.expiryFor}) or now + `settings.keyTtlMs[env]`.
   * Kind defaults to `ci` for env `ci`, else `dev`. A `prod` key needs a point of contact.
   * @returns the key view plus the plaintext `key` (shown this once).
   * @throws ApikeyError `not_found` | `forbidden` | `validation` | `conflict`.
   */
  async create(principal: Principal, slug: string, request: CreateKeyRequest): Promise<CreateKeyResponse> {
    const app = await this.appForMember(principal, slug)
    // `env` is optional in the schema only because provisioning tokens default it.
    if ((request.env as KeyEnvironment | undefined) === undefined) throw validationError('env', 'is required (one of dev, test, stage, prod, ci)')
    KeysService.checkName(request.name)
    const kind: KeyKind = request.kind ?? (request.env === 'ci' ? 'ci' : 'dev')
    return this.lifecycle.issue(
      {app, env: request.env, kind, name: request.name ?? null, expiresAt: request.expiresAt, metadata: request.metadata ?? {}, createdByUserId: principal.user.id},
      {userId: principal.user.id, tokenId: null, sourceAddress: principal.sourceAddress},
    )
  }

  /**
   * Issues a CI key with a provisioning token: only for the token's app, env `ci`
   * (the default), kind `ci` (the default; another kind is refused). Build metadata
   * (commit, branch, build, buildUrl, version, ciProvider, repository) is stored with
   * the key. `createdBy` shows `token:<id>`; the token's creator is recorded as the
   * accountable user in the database. Default lifetime `settings.keyTtlMs.ci`.
   * @throws ApikeyError `forbidden` (another app, env or kind) | `not_found` | `validation`.
   */
  async createWithToken(caller: ProvisioningPrincipal, slug: string, request: Partial<CreateKeyRequest>): Promise<CreateKeyResponse> {
    const {token} = caller
    if (slug !== token.appSlug) throw outOfScope(token, `it cannot issue keys for app "${slug}"`)
    const env = request.env ?? 'ci'
    if (!PROVISIONING_ENVS.includes(env)) throw outOfScope(token, `it issues keys for env ci only, not ${env}`)
    if (request.kind !== undefined && request.kind !== 'ci') throw outOfScope(token, `it issues keys of kind ci only, not ${request.kind}`)
    KeysService.checkName(request.name)
    const app = await repositories(this.ctx.db).apps.findById(token.appId)
    if (app === undefined) throw appNotFound(slug)
    const metadata: KeyMetadata = {...request.metadata}
    return this.lifecycle.issue(
      {app, env, kind: 'ci', name: request.name ?? null, expiresAt: request.expiresAt, metadata, createdByUserId: token.createdByUserId, createdByTokenId: token.id},
      {userId: null, tokenId: token.id, sourceAddress: caller.sourceAddress},
    )
  }

  /**
   * Keys of an app (newest first), for members of its owning team.
   * @throws ApikeyError `not_found` | `forbidden`.
   */
  async list(principal: Principal, slug: string): Promise<KeyView[]> {
    const app = await this.appForMember(principal, slug)
    const now = this.ctx.clock.now()
    return (await repositories(this.ctx.db).keys.listForApp(app.id)).map((key) => keyView(key, now))
  }

  /**
   * One key (without secret) and its app, with status at the injected clock and rotation state.
   * @throws ApikeyError `key_not_found` | `forbidden`.
   */
  async get(principal: Principal, id: string): Promise<GetKeyResponse> {
    const {key, app} = await this.keyForMember(principal, id, 'see its keys')
    return {app: appView(app), key: keyView(key, this.ctx.clock.now())}
  }

  /**
   * Rotates a key (see {@link KeyLifecycle.rotate}): `graceMs` default
   * `settings.rotationGraceMs`, at most `settings.maxRotationGraceMs`.
   * A personal key (kind `dev`, issued by a person) is rotated only by the
   * person who holds it — the answer carries the new secret.
   * @throws ApikeyError `key_not_found` | `forbidden` | `validation` | `conflict`.
   */
  async rotate(principal: Principal, id: string, request: RotateKeyRequest | undefined): Promise<RotateKeyResponse> {
    const {key, app} = await this.keyForMember(principal, id, 'rotate its keys')
    requireHolderToRotate(key, app, principal)
    return this.lifecycle.rotate(id, request?.graceMs, {userId: principal.user.id, tokenId: null, sourceAddress: principal.sourceAddress})
  }

  /**
   * Ends a key in favour of a key the caller already holds (see
   * {@link KeyLifecycle.replace}): the same rules as {@link rotate}, but no key is
   * issued — the replacement must be an active key of the same app and env that
   * the caller issued.
   * @throws ApikeyError `key_not_found` | `forbidden` | `validation` | `conflict`.
   */
  async replace(principal: Principal, id: string, request: ReplaceKeyRequest): Promise<ReplaceKeyResponse> {
    const {key, app} = await this.keyForMember(principal, id, 'rotate its keys')
    requireHolderToRotate(key, app, principal)
    if (!KEY_ID_PATTERN.test(request.replacementId)) throw validationError('replacementId', 'a key id (key_ followed by 20 letters and digits)')
    return this.lifecycle.replace(id, request.replacementId, request.graceMs, {userId: principal.user.id, tokenId: null, sourceAddress: principal.sourceAddress})
  }

  /**
   * Revokes a key at once (see {@link KeyLifecycle.revoke}); twice → `alreadyRevoked: true`.
   * Who may: for a personal key (kind `dev`, issued by a person) the person
   * who holds it and owners of the app's team; for other keys every member of
   * the team. A service admin may revoke any key, for incidents, and must then
   * give a `reason` (kept in the audit log) when the team rules alone would not let them.
   * @throws ApikeyError `key_not_found` | `forbidden` | `validation` (reason).
   */
  async revoke(principal: Principal, id: string, request: RevokeKeyRequest = {}): Promise<RevokeKeyResponse> {
    const reason = checkReason(request.reason)
    if (!KEY_ID_PATTERN.test(id)) throw badKeyId(id, this.ctx.settings.keyPrefix)
    const repos = repositories(this.ctx.db)
    const {key, app} = await findKeyWithApp(repos, id)
    const role = await repos.teams.roleOf(principal.user.id, app.team.id)
    const byTeamRules = role !== undefined && (!isPersonal(key) || key.createdByUserId === principal.user.id || role === 'owner')
    let asAdmin = false
    if (!byTeamRules) {
      if (!principal.user.isAdmin) {
        if (role === undefined) throw notMemberError(app, 'revoke its keys')
        throw personalKeyError(key, app, 'revoke', `only ${key.createdBy} (who holds it) or an owner of team ${app.team.slug} can revoke it`)
      }
      if (reason === undefined) {
        throw validationError('reason', 'required when a service admin revokes a key outside their own teams\' rules (it is kept in the audit log)')
      }
      asAdmin = true
    }
    const {key: view, alreadyRevoked} = await this.lifecycle.revoke(
      id,
      {userId: principal.user.id, tokenId: null, sourceAddress: principal.sourceAddress},
      {...(reason === undefined ? {} : {reason}), ...(asAdmin ? {asAdmin: true} : {})},
    )
    return {key: view, alreadyRevoked}
  }

  /**
   * What a key is: its app and key view, including revoked, expired and rotated
   * keys (see `status`, `revokedAt`/`revokedBy`, `rotation`). The key is parsed
   * offline first; a key that fails its checksum or rules is rejected without
   * any database lookup. A session or provisioning token is named as such.
   * @throws ApikeyError `malformed_key` (with `problems`) for a key that does not parse;
   *   `key_not_found` for a well-formed key this service did not issue.
   */
  async whoami(key: string): Promise<KeyWhoamiResponse> {
    if (key.startsWith(PROVISIONING_TOKEN_PREFIX) || key.startsWith(SESSION_TOKEN_PREFIX)) {
      const what = key.startsWith(PROVISIONING_TOKEN_PREFIX) ? 'a provisioning token (akp_…)' : 'a session token (aks_…)'
      throw new ApikeyError(`this is ${what}, not an API key; whoami inspects API keys only (provisioning tokens are listed with GET /v1/tokens)`, {
        code: 'malformed_key',
        suggestions: ['apikey whoami'],
        details: {credential: key.startsWith(PROVISIONING_TOKEN_PREFIX) ? 'provisioning_token' : 'session_token', problems: [{part: 'prefix', message: `not an API key but ${what}`}]},
      })
    }
    const parsed = parseKey(key, this.ctx.settings.keyPrefix)
    if (!parsed.valid) {
      throw new ApikeyError(`the API key is malformed: ${parsed.problems.map((p) => p.message).join('; ')}`, {
        code: 'malformed_key',
        suggestions: ['apikey whoami'],
        details: {problems: parsed.problems},
      })
    }
    const repos = repositories(this.ctx.db)
    const found = await repos.keys.findByHash(keyHash(this.ctx.pepper, key))
    if (found === undefined) {
      throw new ApikeyError(`this service did not issue the key ${parsed.start ?? ''} (or it was deleted)`, {
        code: 'key_not_found',
        suggestions: parsed.app === undefined ? [] : [`apikey init --app ${parsed.app}`],
        details: {start: parsed.start},
      })
    }
    const app = await repos.apps.findById(found.appId)
    if (app === undefined) throw new Error(`app of key ${found.id} is missing`)
    return {app: appView(app), key: keyView(found, this.ctx.clock.now())}
  }
}
