/**
 * Domain → wire (src/core/wire.ts) conversions. The only place wire views are built.
 */
import type {AppView, KeyRotation, KeyStatus, KeyView, MembershipView, TeamView, TokenView, UserView} from '../../core/wire.js'
import type {ApiKey, App, Membership, ProvisioningToken, Team, User} from '../model.js'

/** {@link UserView} of a user. */
export function userView(user: User): UserView {
  return {id: user.id, username: user.username, isAdmin: user.isAdmin}
}

/** {@link TeamView} of a team. */
export function teamView(team: Team): TeamView {
  return {slug: team.slug, name: team.name, contactEmail: team.contactEmail}
}

/** {@link MembershipView} of a membership. */
export function membershipView(membership: Membership): MembershipView {
  return {...teamView(membership.team), role: membership.role}
}

/** {@link AppView} of an app. */
export function appView(app: App): AppView {
  return {
    slug: app.slug,
    name: app.name,
    team: teamView(app.team),
    contactEmail: app.contactEmail,
    description: app.description,
    createdBy: app.createdBy,
    createdAt: app.createdAt,
  }
}

/**
 * Status of a key at `now` (ms since epoch): `revoked` when revoked (wins);
 * `expired` when `expiresAt <= now` or a rotated key's grace has ended
 * (`graceEndsAt <= now`); else `active`. Comparisons are of UTC instants only.
 */
export function keyStatus(key: Pick<ApiKey, 'revokedAt' | 'expiresAt' | 'rotation'>, now: number): KeyStatus {
  if (key.revokedAt !== null && key.revokedAt <= now) return 'revoked'
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired'
  if (key.rotation !== null && key.rotation.graceEndsAt <= now) return 'expired'
  return 'active'
}

/** Status of a provisioning token at `now` (ms), by the same rules as {@link keyStatus}. */
export function tokenStatus(token: ProvisioningToken, now: number): KeyStatus {
  if (token.revokedAt !== null && token.revokedAt <= now) return 'revoked'
  if (token.expiresAt <= now) return 'expired'
  return 'active'
}

/** {@link TokenView} of a provisioning token at `now` (ms), plus `revokedBy` (optional extension). Never contains the secret. */
export function tokenView(token: ProvisioningToken, now: number): TokenView & {revokedBy: string | null} {
  return {
    id: token.id,
    app: token.appSlug,
    scope: token.scope,
    name: token.name,
    start: token.start,
    createdBy: token.createdBy,
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
    revokedBy: token.revokedBy,
    lastUsedAt: token.lastUsedAt,
    status: tokenStatus(token, now),
  }
}

/** {@link KeyView} of a key at `now` (ms), with `rotation` (null when never rotated). Never contains the secret. */
export function keyView(key: ApiKey, now: number): KeyView & {rotation: KeyRotation | null} {
  return {
    id: key.id,
    app: key.appSlug,
    env: key.env,
    kind: key.kind,
    name: key.name,
    start: key.start,
    createdBy: key.createdBy,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    revokedBy: key.revokedBy,
    lastUsedAt: key.lastUsedAt,
    status: keyStatus(key, now),
    metadata: key.metadata,
    rotation: key.rotation === null ? null : {...key.rotation},
  }
}
