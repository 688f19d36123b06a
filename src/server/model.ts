/**
 * Domain types of the key service: what repositories return and services
 * work with. Timestamps are integer ms since the Unix epoch (UTC).
 * Wire views (src/core/wire.ts) are built from these in `services/views.ts`.
 */
import type {KeyEnvironment} from '../core/key-format.js'
import type {KeyKind, KeyMetadata} from '../core/wire.js'

/** A local account. */
export interface User {
  id: string
  username: string
  isAdmin: boolean
  createdAt: number
  disabledAt: number | null
}

/** A team. */
export interface Team {
  id: string
  slug: string
  name: string
  contactEmail: string | null
  createdAt: number
}

/** Role of a user in a team. */
export type TeamRole = 'member' | 'owner'

/** A team of a user, with the user's role. */
export interface Membership {
  team: Team
  role: TeamRole
}

/** A registered app with its owning team resolved. */
export interface App {
  id: string
  slug: string
  name: string
  team: Team
  contactEmail: string
  description: string | null
  /** Username of the creator. */
  createdBy: string
  createdAt: number
}

/** An issued key, without any secret. */
export interface ApiKey {
  id: string
  appId: string
  appSlug: string
  env: KeyEnvironment
  kind: KeyKind
  name: string | null
  /** Display start, e.g. `ak_weather-app_dev_4fT9…`. */
  start: string
  /** Username of the issuer, or `token:<id>` for a key issued with a provisioning token. */
  createdBy: string
  /** Provisioning token that issued the key, or null. */
  createdByTokenId: string | null
  /** Id of the user accountable for the key: its issuer, or for a token-issued key the token's creator. */
  createdByUserId: string
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  /** Username of whoever revoked it. */
  revokedBy: string | null
  lastUsedAt: number | null
  metadata: KeyMetadata
  /** Rotation state, or null when never rotated. */
  rotation: KeyRotationState | null
}

/** Rotation state of a key (ms since epoch). */
export interface KeyRotationState {
  rotatedAt: number
  /** Id of the replacement key. */
  replacedBy: string
  /** The old key stops verifying at this instant. */
  graceEndsAt: number
}

/** An app-scoped provisioning token for CI (the token itself is never stored). */
export interface ProvisioningToken {
  /** Public id, `tok_` + 20 base62. */
  id: string
  appId: string
  appSlug: string
  scope: 'ci'
  name: string | null
  /** Display start, e.g. `akp_4fT9…`. */
  start: string
  /** Id and username of the creator. */
  createdByUserId: string
  createdBy: string
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  /** Username of whoever revoked it. */
  revokedBy: string | null
  lastUsedAt: number | null
}

/** A developer session (the token itself is never stored). */
export interface Session {
  id: string
  userId: string
  createdAt: number
  expiresAt: number
  revokedAt: number | null
}

/** A verifier token's record (the token itself is never stored). */
export interface Verifier {
  /** Public id, `vrf_` + 20 base62. */
  id: string
  /** Unique name, e.g. `weather-gateway`. */
  name: string
  /** Display start, e.g. `akv_4fT9…`. */
  start: string
  createdAt: number
  revokedAt: number | null
  /**
   * The key environments this verifier accepts, in `KEY_ENVIRONMENTS` order, or
   * null for every environment. A key of another environment gets FORBIDDEN. Fixed
   * when the verifier is created (`apikey server verifiers add NAME --env prod`).
   */
  allowedEnvs: readonly KeyEnvironment[] | null
}
