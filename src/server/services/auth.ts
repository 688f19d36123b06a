/**
 * Sign-in and sessions: password check (scrypt, constant time, dummy work for
 * unknown users), sign-in limits that slow down the address that fails rather
 * than the account (`sign-in-throttle.ts`), bounded password hashing
 * (`hash-gate.ts`), opaque session tokens stored as SHA-256.
 */
import {createHmac} from 'node:crypto'
import {ApikeyError} from '../../core/errors.js'
import type {CreateSessionResponse, MeResponse} from '../../core/wire.js'
import type {Session, User} from '../model.js'
import {unauthenticated} from '../problems.js'
import {repositories} from '../repositories/index.js'
import {hashPassword, newId, newSessionToken, SESSION_TOKEN_PATTERN, sha256Hex, verifyPassword} from './crypto.js'
import type {ServiceContext} from './context.js'
import {HashGate, type HashLane, type LaneStats} from './hash-gate.js'
import {networkOf} from './ip.js'
import {SignInThrottle, type SignInLimit} from './sign-in-throttle.js'
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

/** Seconds a sign-in refused because every password-hashing slot is taken should wait. */
export const HASHING_BUSY_RETRY_SECONDS = 1

/** Counters of the sign-in path, for tests and operators. */
export interface SignInStats {
  /** Password hashing per lane (see `hash-gate.ts`). */
  hashing: Record<HashLane, LaneStats>
}

/** Minimal logger (Fastify's, in the app). */
export interface SignInLogger {
  warn(object: Record<string, unknown>, message: string): void
}

/** Shortest interval between two log lines about refused sign-ins, in ms (injected clock). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000

/** Sign-in, sign-out and session checks. */
export class AuthService {
  private readonly throttle: SignInThrottle
  private readonly gate: HashGate
  private readonly networkKey: Buffer
  private dummyHash: Promise<string>
  /** Refused sign-ins per limit since the last log line. */
  private refusals: Partial<Record<SignInLimit | 'busy', number>> = {}
  private refusalsLoggedAt: number | undefined

  /**
   * @param log where refused sign-ins are reported: one warning per
   *   {@link REFUSAL_LOG_INTERVAL_MS} at most, with counts per limit (never a username,
   *   password or address).
   */
  constructor(
    private readonly ctx: ServiceContext,
    private readonly log: SignInLogger = {warn: () => undefined},
  ) {
    const settings = ctx.settings
    this.throttle = new SignInThrottle({backoff: settings.loginBackoff, perUsername: settings.loginLimitPerUsername, perAddress: settings.loginLimitPerIp}, ctx.clock)
    this.gate = new HashGate(settings.passwordHashing)
    this.networkKey = createHmac('sha256', ctx.pepper).update('apikey sign-in network v1', 'utf8').digest()
    // Computed up front so the first unknown-user attempt costs no more than the rest.
    this.dummyHash = hashPassword(ctx.random(32), settings.scryptCost)
    this.dummyHash.catch(() => undefined)
  }

  /** A hash of a random password at the current cost, verified for unknown users so they take as long as known ones. */
  private dummy(): Promise<string> {
    return this.dummyHash
  }

  /**
   * Keyed hash of a user id and the network of a client address (IPv4 /24, IPv6 /48),
   * or undefined when the address does not parse. The address itself is never stored.
   */
  private networkHash(userId: string, address: string): string | undefined {
    const network = networkOf(address, 24, 48)
    if (network === undefined) return undefined
    return createHmac('sha256', this.networkKey).update(`${userId}\u0000${network}`, 'utf8').digest('hex')
  }

  /** Counts a refusal, logs the counts when the last line is old enough, and returns the 429 error. */
  private refused(limit: SignInLimit | 'busy', retryAfterSeconds: number): ApikeyError {
    this.refusals[limit] = (this.refusals[limit] ?? 0) + 1
    const now = this.ctx.clock.now()
    if (this.refusalsLoggedAt === undefined || now - this.refusalsLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
      this.log.warn(
        {refused: this.refusals, sinceMs: this.refusalsLoggedAt === undefined ? null : now - this.refusalsLoggedAt},
        'sign-in attempts refused by the sign-in limits (backoff: one address failing for one username; username: many new addresses for one username; address: one address for many usernames; busy: password hashing full)',
      )
      this.refusals = {}
      this.refusalsLoggedAt = now
    }
    return signInLimited(limit, retryAfterSeconds)
  }

  /** Counters of password hashing (copies). */
  stats(): SignInStats {
    return {hashing: this.gate.stats()}
  }

  /**
   * Checks a username and password and opens a session.
   *
   * Before any password is hashed the attempt passes the sign-in throttle (see
   * `sign-in-throttle.ts`): a backoff per (username, address), a ceiling per username
   * that the user's known networks bypass, and a ceiling per address. Hashing is
   * bounded (see `hash-gate.ts`): when every slot is taken the attempt is refused at
   * once. A successful sign-in remembers the address's network for the user.
   * @returns the token (shown once), its expiry (ms) and the user's view.
   * @throws ApikeyError `rate_limited` (details: `retryAfterSeconds`, `limit` — `backoff`,
   *   `username`, `address` or `busy`) when a limit refuses the attempt or hashing is full;
   *   `invalid_credentials` for an unknown user, a wrong password or a disabled
   *   account — one message for all, after similar work.
   */
  async login(username: string, password: string, source: LoginSource): Promise<CreateSessionResponse> {
    // Lookups on the read connection (they never wait behind the writer); writes through the writer.
    const reads = repositories(this.ctx.readDb)
    const repos = repositories(this.ctx.db)
    const found = await reads.users.findCredentials(username)
    // Looked up for unknown users too (under an id no user has), so both take the same path.
    const networkHash = this.networkHash(found?.user.id ?? '', source.ip)
    const knownNetwork = networkHash !== undefined && (await reads.signInNetworks.isKnown(found?.user.id ?? '', networkHash)) && found !== undefined
    const decision = this.throttle.begin({username, address: source.ip, knownNetwork})
    if (!decision.allowed) throw this.refused(decision.limit, decision.retryAfterSeconds)
    const attempt = decision.attempt
    const check = this.gate.tryRun(async () => verifyPassword(password, found?.passwordHash ?? (await this.dummy())), knownNetwork)
    if (check === undefined) {
      this.throttle.abandoned(attempt)
      throw this.refused('busy', HASHING_BUSY_RETRY_SECONDS)
    }
    let ok: boolean
    try {
      ok = await check
    } catch (error) {
      this.throttle.abandoned(attempt)
      throw error
    }
    const now = this.ctx.clock.now()
    if (found === undefined || !ok || found.user.disabledAt !== null) {
      this.throttle.failed(attempt)
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
    this.throttle.succeeded(attempt)
    const token = newSessionToken(this.ctx.random)
    const user = found.user
    const session = await repos.sessions.insert({
      id: newId('ses', this.ctx.random),
      tokenHash: sha256Hex(token),
      userId: user.id,
      createdAt: now,
      expiresAt: now + this.ctx.settings.sessionTtlMs,
    })
    if (networkHash !== undefined) await repos.signInNetworks.remember(user.id, networkHash, now, this.ctx.settings.knownNetworksPerUser)
    await repos.audit.append({at: now, actorUserId: user.id, action: 'session.create', targetType: 'session', targetId: session.id, sourceAddress: source.ip})
    const teams = await reads.teams.membershipsOf(user.id)
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
    const repos = repositories(this.ctx.readDb)
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

const LIMIT_MESSAGES: Record<SignInLimit | 'busy', (seconds: number) => string> = {
  backoff: (n) => `too many failed sign-ins for this username from your address; try again in ${n} s (each further failure doubles the wait; a successful sign-in resets it)`,
  username: (n) =>
    `too many failed sign-ins for this username from addresses it has not signed in from before; try again in ${n} s, or sign in from a network you have signed in from before`,
  address: (n) => `too many failed sign-ins from your address; try again in ${n} s`,
  busy: (n) => `the key service is checking too many passwords at once; try again in ${n} s`,
}

/** The 429 problem of a refused sign-in: says which limit and when to retry (also sent as `Retry-After`). */
function signInLimited(limit: SignInLimit | 'busy', retryAfterSeconds: number): ApikeyError {
  return new ApikeyError(LIMIT_MESSAGES[limit](retryAfterSeconds), {code: 'rate_limited', details: {retryAfterSeconds, limit}})
}
