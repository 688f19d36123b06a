/**
 * Wire schemas of the key service's v1 API, shared by the server
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
  /** How to get a key: the service's own `GET /docs` page unless configured otherwise; used in error messages. */
  docsUrl: string
  /** The command callers without a key are told to run (service setting; default `apikey init`). */
  getKeyCommand: string
  /** npm package name of the CLI on the organisation's registry, or null when none is configured. */
  cliPackage: string | null
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
  /** Set when the key was rotated: it stays valid until `graceEndsAt` (optional for older services). */
  rotation?: KeyRotation | null
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

// ---------------------------------------------------------------------------
// Key lifecycle, audit and CI provisioning
// ---------------------------------------------------------------------------

/** Prefix of app-scoped provisioning tokens for CI (never confused with API keys or session tokens). */
export const PROVISIONING_TOKEN_PREFIX = 'akp_'

/** Rotation state of a key (present on {@link KeyView} when the key was rotated). */
export interface KeyRotation {
  /** When the key was rotated, ms since epoch. */
  rotatedAt: number
  /** Id of the key that replaced it. */
  replacedBy: string
  /** End of the grace period: the old key stops verifying at this instant (ms since epoch). */
  graceEndsAt: number
}

/** `GET /v1/keys/{id}` response. */
export interface GetKeyResponse {
  app: AppView
  key: KeyView & {rotation: KeyRotation | null}
}

/** `POST /v1/keys/{id}/rotate` request. */
export interface RotateKeyRequest {
  /** Grace period during which the old key stays valid, in ms. 0 = the old key stops verifying at once. Default and maximum are service settings. */
  graceMs?: number
}

/** `POST /v1/keys/{id}/rotate` 201 response: the new key (plaintext once) and the old key's new state. */
export interface RotateKeyResponse {
  newKey: CreateKeyResponse
  oldKey: KeyView & {rotation: KeyRotation}
}

/**
 * `POST /v1/keys/{id}/replace` request: end this key in favour of a key the
 * caller already holds (same app and env, active, issued by the caller), as a
 * rotation does but without issuing a key.
 */
export interface ReplaceKeyRequest {
  /** Id of the replacement key. */
  replacementId: string
  /** Grace period during which the old key stays valid, in ms (as {@link RotateKeyRequest.graceMs}). */
  graceMs?: number
}

/** `POST /v1/keys/{id}/replace` 200 response: the old key's new state and the replacement (no secret). */
export interface ReplaceKeyResponse {
  oldKey: KeyView & {rotation: KeyRotation}
  newKey: KeyView
}

/** `DELETE /v1/keys/{id}` (revoke) optional request body. */
export interface RevokeKeyRequest {
  /** Why, kept in the audit log (required for a service admin acting outside their teams' rules); 1–500 characters. */
  reason?: string
}

/** `DELETE /v1/keys/{id}` (revoke) response. Revoking twice is not an error. */
export interface RevokeKeyResponse {
  key: KeyView
  /** True when the key was already revoked before this call (then `key.revokedAt` is the original time). */
  alreadyRevoked: boolean
}

/** `POST /v1/apps/{slug}/transfer` request: ownership moves, keys do not change. */
export interface TransferAppRequest {
  /** Slug of the new owning team. */
  team: string
  /** New point of contact; default unchanged. */
  contactEmail?: string
}

/**
 * `POST /v1/apps/{slug}/transfer` response: the app after the move, and the
 * provisioning tokens the transfer revoked (tokens created by the old team
 * stop; the new team creates its own).
 */
export type TransferAppResponse = AppView & {revokedTokens: TokenView[]}

/** An audit log entry. Append-only on the service. */
export interface AuditEventView {
  id: string
  /** Username, `token:<id>` for a provisioning token, `server admin (local)` for `apikey server …` commands on the service's host, or null when nobody proved who they are (failed sign-in). */
  actor: string | null
  /** e.g. `session.create`, `app.create`, `app.transfer`, `key.create`, `key.rotate`, `key.revoke`, `token.create`, `token.revoke`, `membership.add`. */
  action: string
  /** e.g. `app:weather-app`, `key:key_…`, `token:tok_…`. */
  target: string
  /** ms since epoch. */
  time: number
  /** Client address as seen by the service (after trusted-proxy handling), or null. */
  sourceAddress: string | null
  details: Record<string, unknown>
}

/** `GET /v1/audit?app=SLUG&since=MS` response (team owners for their apps; admins for all). */
export interface ListAuditResponse {
  events: AuditEventView[]
}

/** Scopes of provisioning tokens. */
export type TokenScope = 'ci'

/** `POST /v1/tokens` request. */
export interface CreateTokenRequest {
  app: string
  scope: TokenScope
  name?: string
  /** Absolute expiry, ms since epoch; default and maximum are service settings (e.g. 90 d / 365 d). */
  expiresAt?: number
}

/** A provisioning token without its secret. */
export interface TokenView {
  id: string
  app: string
  scope: TokenScope
  name: string | null
  /** Display start, e.g. `akp_4fT9…`. */
  start: string
  createdBy: string
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  lastUsedAt: number | null
  status: KeyStatus
}

/** `POST /v1/tokens` 201 response; `token` is shown once. */
export interface CreateTokenResponse extends TokenView {
  token: string
}

/** `GET /v1/tokens?app=SLUG` response. */
export interface ListTokensResponse {
  tokens: TokenView[]
}

/** `DELETE /v1/tokens/{id}` response. */
export interface RevokeTokenResponse {
  token: TokenView
  alreadyRevoked: boolean
}

// ---------------------------------------------------------------------------
// Verification, rate limits and usage
// ---------------------------------------------------------------------------

/** Prefix of verifier tokens that protected APIs use to call `POST /v1/verify`. */
export const VERIFIER_TOKEN_PREFIX = 'akv_'

/**
 * Verdict codes of `POST /v1/verify`. FORBIDDEN: the key is genuine, active and of an
 * environment the asking verifier does not accept (a verifier created with
 * `apikey server verifiers add NAME --env prod` refuses dev, test, stage and ci keys);
 * the verdict names the owner, takes nothing from the key's rate limit, and suggests
 * the command that issues a key of an accepted environment.
 */
export type VerifyCode = 'VALID' | 'MALFORMED' | 'NOT_FOUND' | 'EXPIRED' | 'REVOKED' | 'RATE_LIMITED' | 'FORBIDDEN'

/** Request context a protected API passes along (all optional; never the raw key). */
export interface VerifyContext {
  /** Client app id, e.g. a bundle id or package name (`X-Client-App`). */
  clientApp?: string
  /** Client app version (`X-Client-Version`). */
  appVersion?: string
  userAgent?: string
  /** Client IP as the protected API determined it (after its own trusted-proxy handling). */
  clientIp?: string
  method?: string
  /** Route template, e.g. `/v1/forecast/:city` (never the concrete path). */
  route?: string
}

/** `POST /v1/verify` request (server to server, `Authorization: Bearer akv_…`). */
export interface VerifyRequest {
  key: string
  context?: VerifyContext
}

/** Rate-limit state of a key after this verification (token bucket). */
export interface RateLimitState {
  /** Requests per window (the bucket capacity). */
  limit: number
  remaining: number
  /** ms until the bucket is full again. */
  resetMs: number
  /** Whole seconds to wait before retrying when RATE_LIMITED (≥ 1); absent otherwise. */
  retryAfterSeconds?: number
}

/** `POST /v1/verify` 200 response. Also the verdict the verifier library caches. */
export interface VerifyResponse {
  valid: boolean
  code: VerifyCode
  /** Owner of a key that exists (null for MALFORMED / NOT_FOUND / REVOKED: nothing is revealed). Filled for VALID, EXPIRED, RATE_LIMITED and FORBIDDEN. */
  app: {slug: string; name: string; team: {slug: string; name: string}; contactEmail: string} | null
  team: string | null
  env: KeyEnvironment | null
  keyId: string | null
  /** Instants after which this verdict no longer holds (ms since epoch): expiry, grace end. Null for FORBIDDEN (a key never changes environment). */
  expiresAt: number | null
  rateLimit: RateLimitState | null
  /** For callers: what is wrong and the command to run (problem-details style). */
  message: string
  suggestions: string[]
  docsUrl: string
  /** The command callers without a key are told to run (service setting). Absent from services older than this field. */
  getKeyCommand?: string
  /** Kind of the key (`dev`, `ci`, `service`) when the key is known; it decides which command replaces it. Absent from services older than this field. */
  keyKind?: KeyKind
}

/** `PUT /v1/keys/{id}/limit` and `PUT /v1/apps/{slug}/limit` request: a rate-limit override in requests per minute; null removes it (back to the app's or the environment's default). */
export interface SetKeyLimitRequest {
  rpm: number | null
}

/**
 * Largest rate-limit override the service accepts by default, in requests per
 * minute (the service's `maxRpm` setting may lower it). The CLI checks `--rpm`
 * against it before any request.
 */
export const MAX_RPM = 1_000_000

/** Where the limit in force for a key comes from: its own override, its app's, or the environment's default. */
export type LimitSource = 'key' | 'app' | 'default'

/** The verification rate limit in force for a key. */
export interface EffectiveLimit {
  /** Requests per window (bucket capacity). */
  limit: number
  /** Window in ms (a minute for overrides; the environment default's own window otherwise). */
  windowMs: number
  source: LimitSource
}

/** `PUT /v1/keys/{id}/limit` and `PUT /v1/apps/{slug}/limit` 200 body. */
export interface LimitView {
  /** Key id (`PUT /v1/keys/{id}/limit`) or null (app route). */
  keyId: string | null
  /** App slug. */
  app: string
  /** Environment of the key, or null (app route). */
  env: KeyEnvironment | null
  /** The override set by this call, in requests per minute; null when removed. */
  rpm: number | null
  /** For a key: the limit now in force. For an app: null (it depends on each key's env and overrides). */
  effective: EffectiveLimit | null
}

/** One entry of a usage breakdown. */
export interface UsageBucketView {
  value: string
  count: number
}

/**
 * `GET /v1/apps/{slug}/usage?since=&until=` 200 body: counts over [since, until), the range
 * covered: the requested one rounded to minutes, widened to whole hours or days where finer
 * counts are no longer kept (`resolution`), and cut to what retention keeps.
 */
export interface UsageReportView {
  app: string
  /** ms since epoch (a minute, hour or day boundary, see `resolution`). */
  since: number
  /** ms since epoch, exclusive. */
  until: number
  /** The range as asked (or defaulted), ms since epoch. */
  requested: {since: number; until: number}
  /** What the covered range is aligned to: `minute` unless widened to `hour` or `day`. */
  resolution: 'minute' | 'hour' | 'day'
  /** Consecutive parts of the covered range and the level (weekly, daily, hourly, per-minute counts) each was read from. */
  parts: Array<{level: 'minute' | 'hour' | 'day' | 'week'; since: number; until: number}>
  /** Which sources were counted: `verify` (service-side verifications), `gateway` (nginx form), `reported` (verifier batches). */
  sources: string[]
  total: number
  bySource: Record<string, number>
  byCode: Record<string, number>
  byKey: Array<{keyId: string; env: string; total: number; byCode: Record<string, number>}>
  byRoute: UsageBucketView[]
  byClientApp: UsageBucketView[]
  byAppVersion: UsageBucketView[]
  byUserAgentFamily: UsageBucketView[]
  byUserAgentOs: UsageBucketView[]
  /** Distinct client networks (IPv4 /24, IPv6 /48); the networks themselves are never revealed. */
  distinctNetworks: number
}

/**
 * Largest `count` of one `POST /v1/usage` event. A verifier aggregates identical
 * verifications (same key, code, source, route, client app, version, user agent,
 * client address and UTC minute) into one event with a count; with this bound a
 * batch of 5 000 events sums to at most 5·10¹² verifications, exact in a double.
 */
export const MAX_USAGE_EVENT_COUNT = 1_000_000_000

/**
 * One event of a `POST /v1/usage` batch (`{events: UsageEventRequest[]}`): `count`
 * identical verifications (default 1) handled in the UTC minute of `at`. The
 * service stores `count` for the event's dimensions, exactly as if the event had
 * been sent `count` times. Never carries the key.
 */
export interface UsageEventRequest {
  /** Key id of the verdict; null when not attributable (missing, malformed, unknown keys). */
  keyId?: string | null
  /** App slug when known. */
  app?: string | null
  /** Verdict code, e.g. `VALID`, `RATE_LIMITED` (`^[A-Z_]{1,32}$`). */
  code: string
  /** Where the verdict came from (`cache`, `service`, `local`); `service` events are skipped (POST /v1/verify counted them). */
  source?: string
  /** Route template, e.g. `/v1/forecast/:city` (at most 2048 characters, as the other strings). */
  route?: string | null
  clientApp?: string | null
  appVersion?: string | null
  userAgent?: string | null
  /** Client IP as the protected API determined it; hashed by network, never stored. */
  clientIp?: string | null
  /** When the request was handled (for an aggregated event: the latest of them), ms since epoch. */
  at: number
  /** How many identical verifications this event stands for: an integer in [1, {@link MAX_USAGE_EVENT_COUNT}]; default 1. */
  count?: number
}

/**
 * `POST /v1/usage` 200 body. Every number counts verifications — the sum of the
 * events' `count`s — so `received = stored + unattributed + skipped`.
 */
export interface UsageIngestResponse {
  /** Verifications in the batch. */
  received: number
  /** Verifications counted against a key of this service. */
  stored: number
  /** Verifications without a key id, or with a key id this service does not know. */
  unattributed: number
  /** Verifications outside the accepted time range, or already counted by `POST /v1/verify` (`source: 'service'`). */
  skipped: number
  /** True when the batch's `Idempotency-Key` was already stored: nothing was counted again (the numbers are the first answer's). */
  duplicate?: boolean
}
