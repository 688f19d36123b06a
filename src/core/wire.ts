/**
 * Wire schemas of the key service's v1 API (design §7), shared by the server
 * routes and the CLI's API client. JSON bodies; errors are {@link ProblemDetails}
 * with `Content-Type: application/problem+json` (RFC 9457).
 *
 * Conventions: timestamps are integer milliseconds since the Unix epoch (UTC);
 * `null` means "not set". Authentication: `Authorization: Bearer <token>` with
 * a developer session token, except `POST /v1/keys/whoami`, which is
 * authenticated by the API key itself (`Authorization: Bearer <api key>`).
 */
import type {KeyEnvironment} from './key-format.js'

/** Default name of the environment variable apps read their key from. */
export const DEFAULT_KEY_ENV_VAR = 'API_KEY'
/** Prefix of developer session tokens (never confused with API keys). */
export const SESSION_TOKEN_PREFIX = 'aks_'

/** `GET /v1/meta` — public, unauthenticated. */
export interface MetaResponse {
  service: 'apikey'
  /** Server version (package.json). */
  version: string
  /** API key prefix of this service, e.g. `ak`. */
  keyPrefix: string
  /** Environment variable name apps read their key from, e.g. `API_KEY`. */
  keyEnvVar: string
  /** Supported sign-in modes. */
  authModes: Array<'password'>
  /** Where developers read more; used in error messages. */
  docsUrl: string
  environments: KeyEnvironment[]
}

/** `POST /v1/sessions` request. */
export interface CreateSessionRequest {
  username: string
  password: string
}

/** A user as the service shows them. */
export interface UserView {
  id: string
  username: string
  isAdmin: boolean
}

/** A team as the service shows it. */
export interface TeamView {
  slug: string
  name: string
  contactEmail: string | null
}

/** A membership of the signed-in user. */
export interface MembershipView extends TeamView {
  role: 'member' | 'owner'
}

/** `POST /v1/sessions` 201 response. The token is shown once. */
export interface CreateSessionResponse {
  token: string
  /** Expiry of the token, ms since epoch. */
  expiresAt: number
  user: UserView
  teams: MembershipView[]
}

/** `GET /v1/me` response. */
export interface MeResponse {
  user: UserView
  teams: MembershipView[]
  /** Expiry of the session used for this call, ms since epoch. */
  sessionExpiresAt: number
}

/** An app as the service shows it. Directory data: visible to every signed-in user. */
export interface AppView {
  slug: string
  name: string
  team: TeamView
  /** Point of contact for this app. */
  contactEmail: string
  description: string | null
  createdBy: string
  createdAt: number
}

/** `POST /v1/apps` request. */
export interface CreateAppRequest {
  slug: string
  name: string
  /** Slug of the owning team; the caller must be a member. */
  team: string
  contactEmail: string
  description?: string
}

/** `GET /v1/apps` response: apps of the caller's teams (all apps for admins). */
export interface ListAppsResponse {
  apps: AppView[]
}

/** Kinds of key. */
export type KeyKind = 'dev' | 'ci' | 'service'

/** Build and source metadata attached to a key (CI keys mostly). */
export interface KeyMetadata {
  commit?: string
  branch?: string
  build?: string
  buildUrl?: string
  version?: string
  ciProvider?: string
  repository?: string
  /** Host name of the developer machine a dev key was issued on. */
  hostname?: string
}

/** Lifecycle status of a key at the time of the answer. */
export type KeyStatus = 'active' | 'expired' | 'revoked'

/** A key without its secret. */
export interface KeyView {
  /** Public id, e.g. `key_3kTq…`. */
  id: string
  app: string
  env: KeyEnvironment
  kind: KeyKind
  name: string | null
  /** Display start, e.g. `ak_weather-app_dev_4fT9…`. */
  start: string
  createdBy: string
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  revokedBy: string | null
  lastUsedAt: number | null
  status: KeyStatus
  metadata: KeyMetadata
}

/** `POST /v1/apps/{slug}/keys` request. */
export interface CreateKeyRequest {
  env: KeyEnvironment
  kind?: KeyKind
  name?: string
  /** Absolute expiry, ms since epoch; default from service settings per env. */
  expiresAt?: number
  metadata?: KeyMetadata
}

/** `POST /v1/apps/{slug}/keys` 201 response. `key` is the plaintext, shown this once. */
export interface CreateKeyResponse extends KeyView {
  key: string
}

/** `GET /v1/apps/{slug}/keys` response. */
export interface ListKeysResponse {
  keys: KeyView[]
}

/** `POST /v1/keys/whoami` response (authenticated by the key itself). */
export interface KeyWhoamiResponse {
  app: AppView
  key: KeyView
}
