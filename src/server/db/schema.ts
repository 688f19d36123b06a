/**
 * Kysely table types of the service database. Used only by
 * `db/` and `repositories/`; row types never leak past the repositories.
 * Timestamps are integer milliseconds since the Unix epoch (UTC); booleans are 0/1.
 */
import type {Generated} from 'kysely'

/** `users`: local accounts. */
export interface UsersTable {
  id: string
  username: string
  /** `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`. */
  password_hash: string
  is_admin: number
  created_at: number
  disabled_at: number | null
}

/** `teams`: owners of apps. */
export interface TeamsTable {
  id: string
  slug: string
  name: string
  contact_email: string | null
  created_at: number
}

/** `memberships`: user ↔ team with a role. */
export interface MembershipsTable {
  user_id: string
  team_id: string
  role: 'member' | 'owner'
  created_at: number
}

/** `apps`: registered applications. */
export interface AppsTable {
  id: string
  slug: string
  name: string
  team_id: string
  contact_email: string
  description: string | null
  created_by: string
  created_at: number
}

/** `api_keys`: issued keys — HMAC of the key and its display start, never the key. */
export interface ApiKeysTable {
  id: string
  app_id: string
  env: string
  kind: string
  name: string | null
  /** Hex HMAC-SHA256(pepper, whole key). */
  hash: string
  start: string
  created_by: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  revoked_by: string | null
  last_used_at: number | null
  /** JSON object ({@link KeyMetadata}). */
  metadata: string
  /** When the key was rotated (ms), or null. */
  rotated_at: Generated<number | null>
  /** Id of the key that replaced it, or null. */
  replaced_by: Generated<string | null>
  /** End of the rotation grace period (ms); `expires_at` is lowered to it too. */
  grace_ends_at: Generated<number | null>
  /** Id of the provisioning token that issued this key (CI), or null. */
  created_by_token: Generated<string | null>
}

/** `sessions`: developer session tokens, stored as SHA-256. */
export interface SessionsTable {
  id: string
  /** Hex SHA-256 of the token. */
  token_hash: string
  user_id: string
  created_at: number
  expires_at: number
  revoked_at: number | null
}

/** `audit_events`: append-only (triggers refuse UPDATE and DELETE). */
export interface AuditEventsTable {
  id: Generated<number>
  at: number
  actor_user_id: string | null
  action: string
  target_type: string
  target_id: string | null
  /** JSON object; never secrets. */
  details: string
  /** Provisioning token that acted (then `actor_user_id` is null), or null. */
  actor_token_id: Generated<string | null>
  /** App the event concerns (for owners' reads), or null. */
  app_id: Generated<string | null>
  /** Client address as Fastify resolved it (trustProxy), or null (CLI, tests). */
  source_address: Generated<string | null>
}

/** `provisioning_tokens`: app-scoped CI tokens, stored as SHA-256 plus display start. */
export interface ProvisioningTokensTable {
  id: string
  app_id: string
  scope: 'ci'
  name: string | null
  /** Hex SHA-256 of the token. */
  token_hash: string
  start: string
  created_by: string
  created_at: number
  expires_at: number
  revoked_at: number | null
  revoked_by: string | null
  last_used_at: number | null
}

/** `server_meta`: name/value facts about this database (e.g. the pepper fingerprint). */
export interface ServerMetaTable {
  name: string
  value: string
}

/** `verifier_tokens`: tokens of protected APIs for `POST /v1/verify` and `POST /v1/usage`, stored as SHA-256. */
export interface VerifierTokensTable {
  id: string
  /** Unique name, e.g. `weather-gateway`. */
  name: string
  /** Hex SHA-256 of the token. */
  token_hash: string
  /** Display start, e.g. `akv_4fT9…`. */
  start: string
  created_at: number
  revoked_at: number | null
  /**
   * Key environments this verifier accepts: a non-empty JSON array of environment names
   * (e.g. `["prod"]`), or null for every environment (migration `2026-11-30T12-00-00_verifier-scope`).
   */
  allowed_envs: Generated<string | null>
}

/** `rate_limit_overrides`: verification limits per app or per key, in requests per minute. */
export interface RateLimitOverridesTable {
  scope: 'app' | 'key'
  /** App id or key id. */
  target_id: string
  rpm: number
  updated_at: number
  updated_by: string | null
}

/**
 * `usage_minutes`: a read-only view over `usage_minute` with text values and `minute` in ms
 * (the layout of the table it replaced; for inspection and tools, never written).
 */
export interface UsageMinutesView {
  key_id: string
  /** Start of the UTC minute, ms since epoch. */
  minute: number
  /** `verify` (POST /v1/verify), `gateway` (auth-request form), `reported` (POST /v1/usage). */
  source: string
  code: string
  route: string
  client_app: string
  app_version: string
  ua_family: string
  ua_os: string
  /** Keyed hash of the client network, never an address. */
  network: string
  count: number
}

/** `usage_values`: every usage dimension value (text) once, with the integer id usage rows hold. */
export interface UsageValuesTable {
  id: Generated<number>
  value: string
}

/**
 * `usage_minute`, `usage_hour`, `usage_day`: counts per time bucket and combination of
 * dimension values, each an id in `usage_values` (`key_id` is the id of the key id's text).
 */
export interface UsageLevelTable {
  /** Start of the bucket in minutes since the Unix epoch (UTC): a multiple of 60 for hours, of 1440 for days. */
  minute: number
  key_id: number
  source: number
  code: number
  route: number
  client_app: number
  app_version: number
  ua_family: number
  ua_os: number
  network: number
  count: number
}

/**
 * `usage_facet_hour`, `usage_facet_day`, `usage_facet_week` (weeks start on Thursdays, as the epoch does): per app, bucket and source, counts per value of one facet
 * (0 key with `code`, 1 route, 2 client app, 3 app version, 4 user-agent family, 5 user-agent OS,
 * 6 network); `value` and `code` are `usage_values` ids, `code` 0 for facets other than key.
 */
export interface UsageFacetTable {
  app_id: string
  /** Start of the bucket in minutes since the Unix epoch, as in `usage_hour` / `usage_day`. */
  minute: number
  source: number
  facet: number
  value: number
  code: number
  count: number
}

/** `usage_levels`: rollup and retention progress per level (`minute`, `hour`, `day`), in minutes since the epoch. */
export interface UsageLevelsTable {
  level: string
  /** Buckets of this level before it are added into the next coarser level (for `day`: the week facets); null before the first rollup. */
  rolled_before: number | null
  /** Rows of this level before it are deleted (or about to be) and never read. */
  pruned_before: number
}

/** `usage_batches`: idempotency keys of usage batches already stored, per verifier. */
export interface UsageBatchesTable {
  verifier_id: string
  idempotency_key: string
  received_at: number
  /** JSON of the first answer (IngestResult). */
  result: string
}

/** `sign_in_networks`: networks a user signed in from, as keyed hashes (never addresses). */
export interface SignInNetworksTable {
  user_id: string
  /** Hex HMAC of the user id and the client network. */
  network_hash: string
  /** Last successful sign-in from the network, ms. */
  last_signed_in_at: number
}

/** The whole database, for `Kysely<Database>`. */
export interface Database {
  users: UsersTable
  teams: TeamsTable
  memberships: MembershipsTable
  apps: AppsTable
  api_keys: ApiKeysTable
  sessions: SessionsTable
  audit_events: AuditEventsTable
  provisioning_tokens: ProvisioningTokensTable
  server_meta: ServerMetaTable
  verifier_tokens: VerifierTokensTable
  rate_limit_overrides: RateLimitOverridesTable
  usage_minutes: UsageMinutesView
  usage_values: UsageValuesTable
  usage_minute: UsageLevelTable
  usage_hour: UsageLevelTable
  usage_day: UsageLevelTable
  usage_levels: UsageLevelsTable
  usage_facet_hour: UsageFacetTable
  usage_facet_day: UsageFacetTable
  usage_facet_week: UsageFacetTable
  usage_batches: UsageBatchesTable
  sign_in_networks: SignInNetworksTable
}
