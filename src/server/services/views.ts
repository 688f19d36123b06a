/**
 * Domain → wire (src/core/wire.ts) conversions. The only place wire views are built.
 */
import type {AppView, KeyStatus, KeyView, MembershipView, TeamView, UserView} from '../../core/wire.js'
import type {ApiKey, App, Membership, Team, User} from '../model.js'

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

/** Status of a key at `now` (ms): revoked wins over expired; expired when `expiresAt <= now`. */
export function keyStatus(key: ApiKey, now: number): KeyStatus {
  if (key.revokedAt !== null && key.revokedAt <= now) return 'revoked'
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired'
  return 'active'
}

/** {@link KeyView} of a key at `now` (ms). Never contains the secret. */
export function keyView(key: ApiKey, now: number): KeyView {
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
  }
}
