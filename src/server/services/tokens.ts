/**
 * Provisioning tokens for CI: app-scoped bearer tokens `akp_` + 40
 * base62 (~238 bits), stored as SHA-256 plus a display start. A token can do
 * exactly one thing: issue `ci` keys for its app (`POST /v1/apps/{its app}/keys`).
 * Members of the app's owning team create, list and revoke them.
 */
import {ApikeyError} from '../../core/errors.js'
import {isPlausibleEpochMs} from '../../core/duration.js'
import type {CreateTokenRequest, CreateTokenResponse, RevokeTokenResponse, TokenView} from '../../core/wire.js'
import type {ProvisioningToken} from '../model.js'
import {validationError} from '../problems.js'
import {inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import {DAY_MS} from '../settings.js'
import {requireMember} from './access.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {newId, newProvisioningToken, PROVISIONING_TOKEN_PATTERN, sha256Hex, TOKEN_ID_PATTERN, tokenStart} from './crypto.js'
import {tokenView} from './views.js'

/** Longest token name, in characters. */
export const MAX_TOKEN_NAME_LENGTH = 100

/** The caller of a route authenticated by a provisioning token. */
export interface ProvisioningPrincipal {
  token: ProvisioningToken
  /** Client address as Fastify resolved it (respecting `trustProxy`), for audit. */
  sourceAddress: string | null
}

/** What a provisioning token may do, in the words of every 403 about it. */
export const PROVISIONING_SCOPE_RULE = 'provisioning tokens can only issue CI keys for their app'

/** The 401 for a provisioning token that does not authenticate (never echoes the token). */
function tokenRejected(detail: string, details: Record<string, unknown> = {}): ApikeyError {
  return new ApikeyError(detail, {
    code: 'unauthenticated',
    suggestions: ['ask a member of the app\'s team for a new provisioning token (POST /v1/tokens)'],
    details: {credential: 'provisioning_token', ...details},
  })
}

/** The 404 for an unknown token id. */
function tokenNotFound(id: string): ApikeyError {
  return TOKEN_ID_PATTERN.test(id)
    ? new ApikeyError(`no provisioning token with id ${id}`, {code: 'not_found', details: {tokenId: id}})
    : new ApikeyError('no provisioning token with this id (token ids look like tok_ followed by 20 letters and digits; never put a token itself in a URL)', {code: 'not_found'})
}

/**
 * The 403 for a provisioning token used outside its scope.
 * @param reason what was attempted, e.g. `it cannot call GET /v1/me`.
 */
export function outOfScope(token: ProvisioningToken, reason: string): ApikeyError {
  return new ApikeyError(`${PROVISIONING_SCOPE_RULE}: this token (${token.id}) is for app "${token.appSlug}"; ${reason}`, {
    code: 'forbidden',
    details: {credential: 'provisioning_token', tokenId: token.id, app: token.appSlug, scope: token.scope, expiresAt: token.expiresAt},
  })
}

/** Creating, listing, revoking and authenticating provisioning tokens. */
export class TokensService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Creates a token for an app of one of the caller's teams and records `token.create`.
   * Expiry: `request.expiresAt` (plausible ms since epoch, in the future, at most
   * `settings.maxTokenTtlMs` ahead) or now + `settings.tokenTtlMs`.
   * @returns the token view plus the plaintext `token` (shown this once).
   * @throws ApikeyError `not_found` (app) | `forbidden` (not a member) | `validation`.
   */
  async create(principal: Principal, request: CreateTokenRequest): Promise<CreateTokenResponse> {
    const repos = repositories(this.ctx.db)
    const app = await repos.apps.findBySlug(request.app)
    if (app === undefined) throw appNotFound(request.app)
    await requireMember(repos, principal, app, 'create provisioning tokens for it')
    if (request.name !== undefined && (request.name.length > MAX_TOKEN_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(request.name))) {
      throw validationError('name', `at most ${MAX_TOKEN_NAME_LENGTH} characters, without control characters`)
    }
    const now = this.ctx.clock.now()
    const expiresAt = this.expiry(request.expiresAt, now)
    for (let attempt = 0; ; attempt++) {
      const token = newProvisioningToken(this.ctx.random)
      const id = newId('tok', this.ctx.random)
      try {
        const created = await inTransaction(this.ctx.db, async (trx) => {
          await trx.tokens.insert({
            id,
            appId: app.id,
            scope: request.scope,
            name: request.name ?? null,
            tokenHash: sha256Hex(token),
            start: tokenStart(token),
            createdBy: principal.user.id,
            createdAt: now,
            expiresAt,
          })
          await trx.audit.append({
            at: now,
            actorUserId: principal.user.id,
            action: 'token.create',
            targetType: 'token',
            targetId: id,
            appId: app.id,
            sourceAddress: principal.sourceAddress,
            details: {app: app.slug, scope: request.scope, name: request.name ?? null, start: tokenStart(token), expiresAt},
          })
          return trx.tokens.findById(id)
        })
        if (created === undefined) throw new Error(`token ${id} vanished after insert`)
        return {...tokenView(created, now), token}
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 1) throw error
      }
    }
  }

  private expiry(requested: number | undefined, now: number): number {
    const max = now + this.ctx.settings.maxTokenTtlMs
    if (requested === undefined) return Math.min(max, now + this.ctx.settings.tokenTtlMs)
    if (!isPlausibleEpochMs(requested)) {
      throw validationError('expiresAt', `a plausible instant in milliseconds since the Unix epoch (UTC); ${requested} is not (seconds by mistake?)`)
    }
    if (requested <= now) throw validationError('expiresAt', `must be in the future (now is ${new Date(now).toISOString()})`)
    if (requested > max) throw validationError('expiresAt', `a provisioning token lives at most ${Math.round(this.ctx.settings.maxTokenTtlMs / DAY_MS)} days (until ${new Date(max).toISOString()})`)
    return requested
  }

  /**
   * Tokens (without secrets), newest first: of one app (members of its team only),
   * or without `app` of every app of the caller's teams (admins: every token).
   * @throws ApikeyError `not_found` | `forbidden`.
   */
  async list(principal: Principal, appSlug: string | undefined): Promise<TokenView[]> {
    const repos = repositories(this.ctx.db)
    const now = this.ctx.clock.now()
    if (appSlug !== undefined) {
      const app = await repos.apps.findBySlug(appSlug)
      if (app === undefined) throw appNotFound(appSlug)
      await requireMember(repos, principal, app, 'list its provisioning tokens')
      return (await repos.tokens.listForApps([app.id])).map((t) => tokenView(t, now))
    }
    if (principal.user.isAdmin) return (await repos.tokens.listAll()).map((t) => tokenView(t, now))
    const apps = await repos.apps.listForUser(principal.user.id)
    return (await repos.tokens.listForApps(apps.map((a) => a.id))).map((t) => tokenView(t, now))
  }

  /**
   * Revokes a token at once and records `token.revoke`. Twice: no change, no event,
   * `alreadyRevoked: true` with the original `revokedAt`. Keys the token issued stay valid.
   * @throws ApikeyError `not_found` | `forbidden`.
   */
  async revoke(principal: Principal, id: string): Promise<RevokeTokenResponse> {
    const now = this.ctx.clock.now()
    return inTransaction(this.ctx.db, async (repos) => {
      const token = TOKEN_ID_PATTERN.test(id) ? await repos.tokens.findById(id) : undefined
      if (token === undefined) throw tokenNotFound(id)
      const app = await repos.apps.findById(token.appId)
      if (app === undefined) throw new Error(`app of token ${token.id} is missing`)
      await requireMember(repos, principal, app, 'revoke its provisioning tokens')
      if (token.revokedAt !== null) return {token: tokenView(token, now), alreadyRevoked: true}
      await repos.tokens.revoke(token.id, now, principal.user.id)
      await repos.audit.append({
        at: now,
        actorUserId: principal.user.id,
        action: 'token.revoke',
        targetType: 'token',
        targetId: token.id,
        appId: app.id,
        sourceAddress: principal.sourceAddress,
        details: {app: app.slug, start: token.start},
      })
      const updated = await repos.tokens.findById(token.id)
      if (updated === undefined) throw new Error(`token ${token.id} vanished`)
      return {token: tokenView(updated, now), alreadyRevoked: false}
    })
  }

  /**
   * Resolves a provisioning token (`akp_…`) to its record and updates `lastUsedAt`.
   * @throws ApikeyError `unauthenticated` (401) for a malformed or unknown token,
   *   "revoked at <ISO instant>", or "expired at <ISO instant>".
   */
  async authenticate(token: string, sourceAddress: string | null): Promise<ProvisioningPrincipal> {
    if (!PROVISIONING_TOKEN_PATTERN.test(token)) throw tokenRejected('the bearer token is not a valid provisioning token (akp_ followed by 40 letters and digits)')
    const repos = repositories(this.ctx.db)
    const found = await repos.tokens.findByHash(sha256Hex(token))
    if (found === undefined) throw tokenRejected('the provisioning token is not known to this service')
    const now = this.ctx.clock.now()
    if (found.revokedAt !== null && found.revokedAt <= now) {
      throw tokenRejected(`the provisioning token ${found.id} for app "${found.appSlug}" was revoked at ${new Date(found.revokedAt).toISOString()}`, {
        tokenId: found.id,
        app: found.appSlug,
        revokedAt: found.revokedAt,
      })
    }
    if (found.expiresAt <= now) {
      throw tokenRejected(`the provisioning token ${found.id} for app "${found.appSlug}" expired at ${new Date(found.expiresAt).toISOString()}`, {
        tokenId: found.id,
        app: found.appSlug,
        expiredAt: found.expiresAt,
      })
    }
    await repos.tokens.touch(found.id, now)
    return {token: {...found, lastUsedAt: now}, sourceAddress}
  }
}
