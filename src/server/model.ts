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
  /** Username of the issuer. */
  createdBy: string
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  /** Username of whoever revoked it. */
  revokedBy: string | null
  lastUsedAt: number | null
  metadata: KeyMetadata
}

/** A developer session (the token itself is never stored). */
export interface Session {
  id: string
  userId: string
  createdAt: number
  expiresAt: number
  revokedAt: number | null
}
