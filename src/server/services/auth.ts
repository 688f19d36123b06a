/**
 * Sign-in and sessions: password check (scrypt, constant time, dummy work for
 * unknown users), login rate limits, opaque session tokens stored as SHA-256.
 */
import {ApikeyError} from '../../core/errors.js'
import type {CreateSessionResponse, MeResponse} from '../../core/wire.js'
import type {Session, User} from '../model.js'
import {unauthenticated} from '../problems.js'
import {repositories} from '../repositories/index.js'
import {hashPassword, newId, newSessionToken, SESSION_TOKEN_PATTERN, sha256Hex, verifyPassword} from './crypto.js'
import type {ServiceContext} from './context.js'
import {clientAddressKey, takeAll, TokenBucketLimiter} from './rate-limit.js'
import {membershipView, userView} from './views.js'

/** The caller of an authenticated route. */
export interface Principal {
  user: User
  session: Session
  /** Client address as Fastify resolved it (respecting `trustProxy`), for audit; null outside HTTP. */
  sourceAddress: string | null
}

/** Where a login attempt comes from (for rate limits and audit). */
export interface LoginSource {
  /** Client address as Fastify resolved it (respecting `trustProxy`). */
  ip: string
}

const INVALID_CREDENTIALS_MESSAGE = 'the username or password is wrong'

/** Sign-in, sign-out and session checks. */
export class AuthService {
  private readonly byUsername: TokenBucketLimiter
  private readonly byIp: TokenBucketLimiter
  private dummyHash: Promise<string>

  constructor(private readonly ctx: ServiceContext) {
    this.byUsername = new TokenBucketLimiter(ctx.settings.loginLimitPerUsername, ctx.clock)
    this.byIp = new TokenBucketLimiter(ctx.settings.loginLimitPerIp, ctx.clock)
    // Computed up front so the first unknown-user attempt costs no more than the rest.
    this.dummyHash = hashPassword(ctx.random(32), ctx.settings.scryptCost)
    this.dummyHash.catch(() => undefined)
  }

  /** A hash of a random password at the current cost, verified for unknown users so they take as long as known ones. */
  private dummy(): Promise<string> {
    return this.dummyHash
  }

  /**
   * Checks a username and password and opens a session.
   * Every attempt takes a token from the username's and the address's bucket first.
   * @returns the token (shown once), its expiry (ms) and the user's view.
   * @throws ApikeyError `rate_limited` (details.retryAfterSeconds) when a bucket is empty;
   *   `invalid_credentials` for an unknown user, a wrong password or a disabled
   *   account — one message for all, after similar work.
   */
  async login(username: string, password: string, source: LoginSource): Promise<CreateSessionResponse> {
    const decision = takeAll([
      [this.byUsername, username.toLowerCase()],
      [this.byIp, clientAddressKey(source.ip)],
    ])
    if (!decision.allowed) {
      throw new ApikeyError(`too many sign-in attempts; try again in ${decision.retryAfterSeconds} s`, {
        code: 'rate_limited',
        details: {retryAfterSeconds: decision.retryAfterSeconds},
      })
    }
    const repos = repositories(this.ctx.db)
    const found = await repos.users.findCredentials(username)
    const ok = await verifyPassword(password, found?.passwordHash ?? (await this.dummy()))
    const now = this.ctx.clock.now()
    if (found === undefined || !ok || found.user.disabledAt !== null) {
      await repos.audit.append({
        at: now,
        // Nobody proved who they are: the actor is anonymous; the target is the account tried.
        actorUserId: null,
        action: 'session.create.failed',
        targetType: 'user',
        // The attempted name of an unknown user is not stored: people paste passwords into it.
        targetId: found?.user.id ?? null,
        sourceAddress: source.ip,
        details: {reason: found === undefined ? 'unknown_user' : found.user.disabledAt !== null ? 'disabled' : 'wrong_password'},
      })
      throw new ApikeyError(INVALID_CREDENTIALS_MESSAGE, {code: 'invalid_credentials', suggestions: ['apikey login']})
    }
    const token = newSessionToken(this.ctx.random)
    const user = found.user
    const session = await repos.sessions.insert({
      id: newId('ses', this.ctx.random),
      tokenHash: sha256Hex(token),
      userId: user.id,
      createdAt: now,
      expiresAt: now + this.ctx.settings.sessionTtlMs,
    })
    await repos.audit.append({at: now, actorUserId: user.id, action: 'session.create', targetType: 'session', targetId: session.id, sourceAddress: source.ip})
    const teams = await repos.teams.membershipsOf(user.id)
    return {token, expiresAt: session.expiresAt, user: userView(user), teams: teams.map(membershipView)}
  }

  /**
   * Resolves an `Authorization` header to the signed-in user.
   * Accepts only `Bearer aks_<40 base62>`; a malformed token is rejected without a lookup.
   * @throws ApikeyError `unauthenticated` (suggesting `apikey login`) when the header is
   *   missing or malformed, or the session is unknown, revoked or expired, or the user is disabled.
   */
  async authenticate(authorization: string | undefined, sourceAddress: string | null = null): Promise<Principal> {
    const token = bearerToken(authorization)
    if (token === undefined) throw unauthenticated('this request needs a session token: send "Authorization: Bearer <token>" (sign in first)')
    if (!SESSION_TOKEN_PATTERN.test(token)) throw unauthenticated('the bearer token is not a session token (aks_ followed by 40 letters and digits)')
    const repos = repositories(this.ctx.db)
    const session = await repos.sessions.findByTokenHash(sha256Hex(token))
    if (session === undefined) throw unauthenticated('the session token is not known (signed out, or issued by another server)')
    if (session.revokedAt !== null) throw unauthenticated('the session was signed out')
    if (session.expiresAt <= this.ctx.clock.now()) throw unauthenticated('the session has expired')
    const user = await repos.users.findById(session.userId)
    if (user === undefined || user.disabledAt !== null) throw unauthenticated('the account of this session is disabled')
    return {user, session, sourceAddress}
  }

  /** Revokes the caller's session (sign out) and records it. */
  async logout(principal: Principal): Promise<void> {
    const repos = repositories(this.ctx.db)
    const now = this.ctx.clock.now()
    await repos.sessions.revoke(principal.session.id, now)
    await repos.audit.append({at: now, actorUserId: principal.user.id, action: 'session.revoke', targetType: 'session', targetId: principal.session.id, sourceAddress: principal.sourceAddress})
  }

  /** The caller, their teams and the session expiry (ms). */
  async me(principal: Principal): Promise<MeResponse> {
    const teams = await repositories(this.ctx.db).teams.membershipsOf(principal.user.id)
    return {user: userView(principal.user), teams: teams.map(membershipView), sessionExpiresAt: principal.session.expiresAt}
  }
}

/**
 * The credentials of an `Authorization: Bearer <credentials>` header (RFC 6750 §2.1;
 * the scheme is case-insensitive), or undefined when absent or of another scheme.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const match = /^Bearer +(\S+) *$/i.exec(authorization)
  return match?.[1]
}
