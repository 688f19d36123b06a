/**
 * Settings of the key service and where it keeps its data.
 *
 * Nothing here reads `process.env`: callers pass the environment in
 * ({@link resolveServerPaths}) so the composition root stays the only place
 * that touches globals.
 */
import {availableParallelism, homedir} from 'node:os'
import {isAbsolute, join} from 'node:path'
import {DEFAULT_KEY_PREFIX, PREFIX_PATTERN, type KeyEnvironment} from '../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR, MAX_RPM} from '../core/wire.js'

/** One day in milliseconds. */
export const DAY_MS = 86_400_000

/**
 * Cost parameters of scrypt (RFC 7914) for password hashing.
 * Memory used is `128 * N * r` bytes.
 */
export interface ScryptCost {
  /** CPU/memory cost, a power of two. */
  N: number
  /** Block size. */
  r: number
  /** Parallelisation. */
  p: number
}

/**
 * Default scrypt cost: N = 2^15, r = 8, p = 1 — 32 MiB and ~0.1–0.3 s per hash
 * on a small 2-core machine; the interactive-login value recommended by the
 * `golang.org/x/crypto/scrypt` docs. OWASP's minimum (N = 2^17, 128 MiB) took
 * ~1 s per sign-in on such a machine; raise it with `settings.scryptCost` (and
 * `addUser({scryptCost})`) where hardware allows. Stored hashes keep their own cost.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = {N: 2 ** 15, r: 8, p: 1}

/**
 * Token-bucket policy: a bucket holds at most `capacity` tokens and gains one
 * token every `refillIntervalMs` ms. Each attempt takes one token.
 */
export interface RateLimitPolicy {
  /** Bucket size (burst), in attempts. */
  capacity: number
  /** Time to regain one token, in ms. */
  refillIntervalMs: number
}

/** Exponential backoff of failed sign-ins per (username, client address). */
export interface SignInBackoffPolicy {
  /** Failures allowed without any wait. */
  freeFailures: number
  /** Wait after the first failure past the free ones, in ms; doubles with each further failure. */
  baseDelayMs: number
  /** Longest wait, in ms. */
  maxDelayMs: number
  /** A (username, address) pair with no attempt for this long starts afresh, in ms. */
  forgetAfterMs: number
}

/** Limits of one password-hashing lane. */
export interface HashLaneLimits {
  /** Hashes running at once (≥ 1). */
  active: number
  /** Hashes waiting for a running slot (≥ 0). */
  queued: number
}

/** Limits of concurrent password hashing: a shared lane and one reserved for known networks. */
export interface PasswordHashingLimits {
  shared: HashLaneLimits
  reserved: HashLaneLimits
}

/**
 * Default running password hashes of the shared lane: one less than the number of cores (the
 * reserved lane and the event loop keep a core), at least 1 and at most 3 (libuv's default
 * thread pool of 4, less the reserved lane).
 */
export const DEFAULT_HASH_CONCURRENCY = Math.max(1, Math.min(availableParallelism() - 1, 3))

/** Tunable settings of the key service. All durations in milliseconds. */
export interface ServerSettings {
  /** API key prefix (2–8 lowercase letters). Default `ak`. */
  keyPrefix: string
  /** Environment variable apps read their key from. Default `API_KEY`. */
  keyEnvVar: string
  /**
   * Public base URL of this service (scheme, host, optional port and path, no trailing slash), e.g.
   * `https://apikey.acme.internal`; the OpenAPI document's server and the default docs URL build on it.
   * Default null: taken from each request (its scheme and `Host`).
   */
  publicUrl: string | null
  /**
   * Where callers and developers read how to get a key; served by `GET /v1/meta`, named in every
   * verification verdict. Default null: this service's own page, `<publicUrl>/docs` (see `routes/docs.ts`).
   */
  docsUrl: string | null
  /**
   * npm package name of the apikey CLI on the organisation's registry (e.g. `@acme/apikey`). Default null:
   * no package is named (the public npm name `apikey` belongs to someone else), and callers are shown
   * `apikey init` with the docs page that says how to install it.
   */
  cliPackage: string | null
  /**
   * The command callers without a key are told to run. Default null: `npx --yes <cliPackage> init` when
   * {@link ServerSettings.cliPackage} is set, else `apikey init` (see {@link getKeyCommandOf}).
   * Printable ASCII without `"` and `\` (it travels in HTTP headers and JSON written by nginx).
   */
  getKeyCommand: string | null
  /** Lifetime of a developer session token, in ms. Default 30 days. */
  sessionTtlMs: number
  /** Default key lifetime per environment, in ms, used when a request gives no `expiresAt`. */
  keyTtlMs: Record<KeyEnvironment, number>
  /**
   * Overall ceiling on any key lifetime, in ms. Default 730 days. Applies on top
   * of {@link ServerSettings.maxKeyTtlMsByEnv} (the smaller wins).
   */
  maxKeyTtlMs: number
  /**
   * Longest lifetime a request may ask for with `expiresAt`, per environment, in ms.
   * Defaults: dev 180 d, test 90 d, stage 180 d, prod 730 d, ci 30 d — about twice
   * the default lifetime for short-lived environments, two years for prod, and a
   * month for per-build CI keys (a build should not need longer).
   */
  maxKeyTtlMsByEnv: Record<KeyEnvironment, number>
  /** Grace period of a rotation when the request gives no `graceMs`, in ms. Default 24 h. */
  rotationGraceMs: number
  /** Longest rotation grace period a request may ask for, in ms. Default 7 days. */
  maxRotationGraceMs: number
  /** Lifetime of a provisioning token when the request gives no `expiresAt`, in ms. Default 90 days. */
  tokenTtlMs: number
  /** Longest provisioning-token lifetime a request may ask for, in ms. Default 365 days. */
  maxTokenTtlMs: number
  /**
   * Sign-in attempts allowed per username (lower-cased) from networks that have never signed
   * in as that user (see {@link ServerSettings.knownNetworksPerUser}); attempts from the user's
   * known networks neither count nor are stopped. Successful sign-ins give their attempt back.
   * Default a burst of 10, then 1 per 30 s.
   */
  loginLimitPerUsername: RateLimitPolicy
  /**
   * Sign-in attempts allowed per client address (IPv4 address, IPv6 /64) across usernames.
   * Successful sign-ins give their attempt back. Default a burst of 50, then 1 per 2 s:
   * a whole office behind one NAT address must still be able to sign in.
   */
  loginLimitPerIp: RateLimitPolicy
  /**
   * Backoff per (username, client address): after `freeFailures` failed sign-ins each further
   * attempt waits `baseDelayMs`, doubling per failure up to `maxDelayMs`; a successful sign-in
   * resets it and it is forgotten `forgetAfterMs` after the last attempt. It slows down only
   * the address that fails. Default 5 free, 1 s doubling to 15 min, forgotten after 24 h.
   */
  loginBackoff: SignInBackoffPolicy
  /**
   * How many networks (IPv4 /24, IPv6 /48) are remembered per user as "signed in from here
   * before", most recent first. Stored as keyed hashes, never as addresses. Default 20.
   */
  knownNetworksPerUser: number
  /**
   * Bound on concurrent password hashing (scrypt on libuv's thread pool). `shared`: every
   * sign-in; default `active` = {@link DEFAULT_HASH_CONCURRENCY} (cores − 1, 1 to 3), `queued` =
   * twice that (a queued sign-in waits at most about two hash times). `reserved`: sign-ins from
   * a network known for the user, on top of the shared lane; default 1 active, 1 queued. An
   * attempt that finds its lanes full is answered 429 at once (Retry-After 1 s), never queued further.
   */
  passwordHashing: PasswordHashingLimits
  /** scrypt cost for new password hashes (stored hashes keep their own cost). */
  scryptCost: ScryptCost
  /**
   * Fastify `trustProxy`: whether `X-Forwarded-For` is believed. Default false
   * (the socket peer address is used). Pass addresses/CIDRs to trust specific proxies.
   */
  trustProxy: boolean | string | string[]
  /**
   * Default per-key rate limit of `POST /v1/verify` and its auth-request form, per key
   * environment: `limit` requests per `windowMs` (a token bucket of `limit` tokens that
   * refills continuously, one token every `windowMs / limit` ms — no window-boundary
   * doubling). Defaults per minute: dev 60, test 120, stage 600, prod 6000, ci 600.
   * Overridden per app or per key in the database (`PUT /v1/keys/{id}/limit`).
   */
  verifyRateLimits: Record<KeyEnvironment, VerifyRateLimit>
  /**
   * Failed verifications (MALFORMED, NOT_FOUND) allowed per client address (IPv4 address,
   * IPv6 /64). Default a burst of 100, then 1 per 600 ms (100 per minute); past it
   * those answers become RATE_LIMITED for that address.
   */
  verifyFailureLimitPerIp: RateLimitPolicy
  /**
   * What verification does when the rate-limit store fails or misses its deadline:
   * `open` (default) answers the verdict without a rate-limit decision (`rateLimit: null`,
   * logged as a warning) — a limiter outage is not an API outage; `closed` answers
   * "verification unavailable" (503, or 403 `UNAVAILABLE` on the auth-request form).
   * Either way a store failure is never reported as RATE_LIMITED.
   */
  rateLimitStoreFailure: 'open' | 'closed'
  /** Deadline of one rate-limit store operation, in ms. Default 50. */
  rateLimitStoreTimeoutMs: number
  /**
   * How long a verified key's record (key row, app, rate-limit overrides) is reused in
   * memory, in ms. Default 60 000; 0 disables the cache. Expiry and grace deadlines are
   * checked against the clock on every verification, whatever the record's age. Changes
   * made through this process drop the entry at once (lifecycle events); changes made by
   * other processes on the same database are found in the audit log within
   * {@link ServerSettings.keyCacheSyncMs}.
   */
  keyCacheMs: number
  /**
   * How often the key-record cache is checked against the audit log for changes made by
   * other service processes on the same database (revocations, rotations, expiry and
   * limit changes, app transfers), in ms; the bound on how long such a change can go
   * unseen here. Default 1000; 0 checks before every verification.
   */
  keyCacheSyncMs: number
  /**
   * Memory bound of the key-record cache, in bytes of V8 heap as estimated per record (measured
   * with bench/key-cache-memory.mjs: about 370 bytes for a key without rotation, so the default
   * holds about 180 000 keys). When full, a new record gets in with probability 1/16 and replaces
   * one chosen at random, so a working set larger than the bound still hits in about
   * bound/working-set of its verifications whatever the order of the keys (least-recently-used
   * eviction hits in none under a key walk larger than the bound). See `services/key-cache.ts`.
   * Default 64 MiB (67 108 864); at least 65 536.
   */
  keyCacheMaxBytes: number
  /** How long a verifier-token lookup is reused, in ms; at most 5000 (a revoked verifier stops within it). Default 5000. */
  verifierCacheMs: number
  /** Shortest interval between two writes of one key's `last_used_at`, in ms. Default 60 000. */
  lastUsedWriteIntervalMs: number
  /** How often usage recorded in memory (server-side verifications, `last_used_at`) is written, in ms of wall time. Default 5000. */
  usageFlushIntervalMs: number
  /**
   * How long usage is kept (as daily counts), in ms; also the oldest a reported event may be.
   * Default 90 days. At least {@link ServerSettings.usageHourRetentionMs}.
   */
  usageRetentionMs: number
  /**
   * How long usage is kept per minute, in ms (only minutes already added into hours are
   * deleted). Default 48 hours (or `usageHourRetentionMs` when shorter); at least an hour and at
   * most {@link ServerSettings.usageHourRetentionMs}.
   */
  usageMinuteRetentionMs: number
  /**
   * How long usage is kept per hour, in ms (only hours already added into days are deleted).
   * Default 35 days (a 28-day baseline plus a week), or `usageRetentionMs` when that is shorter;
   * at least a day.
   */
  usageHourRetentionMs: number
  /**
   * How often closed hours and days are rolled up and old usage deleted, in ms of wall time
   * (see `UsageService.maintain`). Default 60 000; 0 = only when `rollupUsage()` is called.
   */
  usageRollupIntervalMs: number
  /** Most usage rows deleted per retention transaction (other writes run between two). Default 5000. */
  usagePruneBatchRows: number
  /**
   * Pause between two transactions of a rollup or retention pass, in ms. Default 0 (the pass
   * only yields to other work). Tests and benchmarks set it to stretch a pass.
   */
  usageMaintenancePauseMs: number
  /** Most events accepted in one `POST /v1/usage` batch. Default 5000. */
  maxUsageBatch: number
  /**
   * Most bulk writes (usage batches, the usage flush, rollups, retention) waiting for the
   * database writer at once, behind the write it is running. One more is refused at once:
   * `POST /v1/usage` answers 503 with `Retry-After` and stores nothing of that batch (the
   * verifier sends it again); verification and interactive writes are not affected. Default 64
   * (with batches of `maxUsageBatch` events, a bound on the memory and the wait they hold).
   */
  writeQueueLimit: number
  /** Largest per-key or per-app override of the rate limit, in requests per minute. Default 1 000 000. */
  maxRpm: number
}

/** A per-key verification rate limit: `limit` requests per `windowMs` ms (token bucket). */
export interface VerifyRateLimit {
  /** Bucket capacity and requests per window. */
  limit: number
  /** Window in ms (the bucket refills `limit` tokens per window). */
  windowMs: number
}

/** Smallest accepted {@link ServerSettings.keyCacheMaxBytes}: 64 KiB. */
export const MIN_KEY_CACHE_BYTES = 65_536

/** One minute in milliseconds. */
export const MINUTE_MS = 60_000
/** One hour in milliseconds. */
export const HOUR_MS = 60 * MINUTE_MS

/** Defaults of {@link ServerSettings}. */
export const DEFAULT_SETTINGS: ServerSettings = {
  keyPrefix: DEFAULT_KEY_PREFIX,
  keyEnvVar: DEFAULT_KEY_ENV_VAR,
  publicUrl: null,
  docsUrl: null,
  cliPackage: null,
  getKeyCommand: null,
  sessionTtlMs: 30 * DAY_MS,
  keyTtlMs: {dev: 90 * DAY_MS, test: 30 * DAY_MS, stage: 90 * DAY_MS, prod: 365 * DAY_MS, ci: 7 * DAY_MS},
  maxKeyTtlMs: 730 * DAY_MS,
  maxKeyTtlMsByEnv: {dev: 180 * DAY_MS, test: 90 * DAY_MS, stage: 180 * DAY_MS, prod: 730 * DAY_MS, ci: 30 * DAY_MS},
  rotationGraceMs: DAY_MS,
  maxRotationGraceMs: 7 * DAY_MS,
  tokenTtlMs: 90 * DAY_MS,
  maxTokenTtlMs: 365 * DAY_MS,
  loginLimitPerUsername: {capacity: 10, refillIntervalMs: 30_000},
  loginLimitPerIp: {capacity: 50, refillIntervalMs: 2_000},
  loginBackoff: {freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE_MS, forgetAfterMs: DAY_MS},
  knownNetworksPerUser: 20,
  passwordHashing: {shared: {active: DEFAULT_HASH_CONCURRENCY, queued: 2 * DEFAULT_HASH_CONCURRENCY}, reserved: {active: 1, queued: 1}},
  scryptCost: DEFAULT_SCRYPT_COST,
  trustProxy: false,
  verifyRateLimits: {
    dev: {limit: 60, windowMs: MINUTE_MS},
    test: {limit: 120, windowMs: MINUTE_MS},
    stage: {limit: 600, windowMs: MINUTE_MS},
    prod: {limit: 6000, windowMs: MINUTE_MS},
    ci: {limit: 600, windowMs: MINUTE_MS},
  },
  verifyFailureLimitPerIp: {capacity: 100, refillIntervalMs: 600},
  rateLimitStoreFailure: 'open',
  rateLimitStoreTimeoutMs: 50,
  keyCacheMs: 60_000,
  keyCacheSyncMs: 1000,
  keyCacheMaxBytes: 64 * 1024 * 1024,
  verifierCacheMs: 5000,
  lastUsedWriteIntervalMs: MINUTE_MS,
  usageFlushIntervalMs: 5000,
  usageRetentionMs: 90 * DAY_MS,
  usageMinuteRetentionMs: 2 * DAY_MS,
  usageHourRetentionMs: 35 * DAY_MS,
  usageRollupIntervalMs: MINUTE_MS,
  usagePruneBatchRows: 5000,
  usageMaintenancePauseMs: 0,
  maxUsageBatch: 5000,
  writeQueueLimit: 64,
  maxRpm: MAX_RPM,
}

/** Longest verifier-token cache, in ms (the staleness bound of a revoked verifier token). */
export const MAX_VERIFIER_CACHE_MS = 5000

/** Partial settings as accepted by {@link resolveSettings}; `keyTtlMs` and `maxKeyTtlMsByEnv` may be partial too. */
export type ServerSettingsInput = Partial<Omit<ServerSettings, 'keyTtlMs' | 'maxKeyTtlMsByEnv' | 'verifyRateLimits' | 'loginBackoff' | 'passwordHashing'>> & {
  keyTtlMs?: Partial<Record<KeyEnvironment, number>>
  maxKeyTtlMsByEnv?: Partial<Record<KeyEnvironment, number>>
  verifyRateLimits?: Partial<Record<KeyEnvironment, VerifyRateLimit>>
  loginBackoff?: Partial<SignInBackoffPolicy>
  passwordHashing?: {shared?: Partial<HashLaneLimits>; reserved?: Partial<HashLaneLimits>}
}

/** Longest key lifetime for `env`, in ms: the smaller of the per-env maximum and the overall ceiling. */
export function maxKeyLifetimeMs(settings: ServerSettings, env: KeyEnvironment): number {
  return Math.min(settings.maxKeyTtlMsByEnv[env], settings.maxKeyTtlMs)
}

/**
 * Merges `input` over {@link DEFAULT_SETTINGS} and checks it.
 * @throws RangeError when the key prefix breaks its rule, a duration, limit or count is not a positive
 *   integer (the rotation grace default may be 0), or a default exceeds its maximum.
 */
export function resolveSettings(input: ServerSettingsInput = {}): ServerSettings {
  const settings: ServerSettings = {
    ...DEFAULT_SETTINGS,
    ...input,
    keyTtlMs: {...DEFAULT_SETTINGS.keyTtlMs, ...input.keyTtlMs},
    maxKeyTtlMsByEnv: {...DEFAULT_SETTINGS.maxKeyTtlMsByEnv, ...input.maxKeyTtlMsByEnv},
    verifyRateLimits: {...DEFAULT_SETTINGS.verifyRateLimits, ...input.verifyRateLimits},
    loginBackoff: {...DEFAULT_SETTINGS.loginBackoff, ...input.loginBackoff},
    passwordHashing: {
      shared: {...DEFAULT_SETTINGS.passwordHashing.shared, ...input.passwordHashing?.shared},
      reserved: {...DEFAULT_SETTINGS.passwordHashing.reserved, ...input.passwordHashing?.reserved},
    },
  }
  // Shorter usage retention without finer windows given: the finer windows shrink to fit it.
  if (input.usageHourRetentionMs === undefined) settings.usageHourRetentionMs = Math.min(DEFAULT_SETTINGS.usageHourRetentionMs, settings.usageRetentionMs)
  if (input.usageMinuteRetentionMs === undefined) settings.usageMinuteRetentionMs = Math.min(DEFAULT_SETTINGS.usageMinuteRetentionMs, settings.usageHourRetentionMs)
  if (!PREFIX_PATTERN.test(settings.keyPrefix)) throw new RangeError(`settings.keyPrefix "${settings.keyPrefix}" must be 2–8 lowercase letters`)
  const durations: Array<[string, number]> = [
    ['sessionTtlMs', settings.sessionTtlMs],
    ['maxKeyTtlMs', settings.maxKeyTtlMs],
    ['loginLimitPerUsername.refillIntervalMs', settings.loginLimitPerUsername.refillIntervalMs],
    ['loginLimitPerIp.refillIntervalMs', settings.loginLimitPerIp.refillIntervalMs],
    ['loginLimitPerUsername.capacity', settings.loginLimitPerUsername.capacity],
    ['loginLimitPerIp.capacity', settings.loginLimitPerIp.capacity],
    ['loginBackoff.baseDelayMs', settings.loginBackoff.baseDelayMs],
    ['loginBackoff.maxDelayMs', settings.loginBackoff.maxDelayMs],
    ['loginBackoff.forgetAfterMs', settings.loginBackoff.forgetAfterMs],
    ['knownNetworksPerUser', settings.knownNetworksPerUser],
    ['passwordHashing.shared.active', settings.passwordHashing.shared.active],
    ['passwordHashing.reserved.active', settings.passwordHashing.reserved.active],
    ['maxRotationGraceMs', settings.maxRotationGraceMs],
    ['tokenTtlMs', settings.tokenTtlMs],
    ['maxTokenTtlMs', settings.maxTokenTtlMs],
    ...Object.entries(settings.keyTtlMs).map(([env, ms]): [string, number] => [`keyTtlMs.${env}`, ms]),
    ...Object.entries(settings.maxKeyTtlMsByEnv).map(([env, ms]): [string, number] => [`maxKeyTtlMsByEnv.${env}`, ms]),
    ...Object.entries(settings.verifyRateLimits).flatMap(([env, rl]): Array<[string, number]> => [
      [`verifyRateLimits.${env}.limit`, rl.limit],
      [`verifyRateLimits.${env}.windowMs`, rl.windowMs],
    ]),
    ['verifyFailureLimitPerIp.capacity', settings.verifyFailureLimitPerIp.capacity],
    ['verifyFailureLimitPerIp.refillIntervalMs', settings.verifyFailureLimitPerIp.refillIntervalMs],
    ['rateLimitStoreTimeoutMs', settings.rateLimitStoreTimeoutMs],
    ['lastUsedWriteIntervalMs', settings.lastUsedWriteIntervalMs],
    ['usageFlushIntervalMs', settings.usageFlushIntervalMs],
    ['usageRetentionMs', settings.usageRetentionMs],
    ['usageMinuteRetentionMs', settings.usageMinuteRetentionMs],
    ['usageHourRetentionMs', settings.usageHourRetentionMs],
    ['maxUsageBatch', settings.maxUsageBatch],
    ['maxRpm', settings.maxRpm],
  ]
  for (const [name, value] of durations) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`settings.${name} must be a positive integer number of ms, got ${value}`)
  }
  if (!Number.isSafeInteger(settings.keyCacheMaxBytes) || settings.keyCacheMaxBytes < MIN_KEY_CACHE_BYTES) {
    throw new RangeError(`settings.keyCacheMaxBytes must be an integer number of bytes of at least ${MIN_KEY_CACHE_BYTES}, got ${settings.keyCacheMaxBytes}`)
  }
  if (!Number.isSafeInteger(settings.rotationGraceMs) || settings.rotationGraceMs < 0 || settings.rotationGraceMs > settings.maxRotationGraceMs) {
    throw new RangeError(`settings.rotationGraceMs must be an integer number of ms between 0 and maxRotationGraceMs (${settings.maxRotationGraceMs}), got ${settings.rotationGraceMs}`)
  }
  for (const [name, value] of [
    ['keyCacheMs', settings.keyCacheMs],
    ['keyCacheSyncMs', settings.keyCacheSyncMs],
    ['verifierCacheMs', settings.verifierCacheMs],
    ['usageRollupIntervalMs', settings.usageRollupIntervalMs],
    ['usageMaintenancePauseMs', settings.usageMaintenancePauseMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`settings.${name} must be a non-negative integer number of ms, got ${value}`)
  }
  for (const [name, value] of [
    ['loginBackoff.freeFailures', settings.loginBackoff.freeFailures],
    ['passwordHashing.shared.queued', settings.passwordHashing.shared.queued],
    ['passwordHashing.reserved.queued', settings.passwordHashing.reserved.queued],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`settings.${name} must be a non-negative integer, got ${value}`)
  }
  if (!Number.isSafeInteger(settings.usagePruneBatchRows) || settings.usagePruneBatchRows <= 0) {
    throw new RangeError(`settings.usagePruneBatchRows must be a positive integer (rows deleted per transaction), got ${settings.usagePruneBatchRows}`)
  }
  if (settings.usageMinuteRetentionMs < HOUR_MS || settings.usageMinuteRetentionMs > settings.usageHourRetentionMs) {
    throw new RangeError(`settings.usageMinuteRetentionMs must be between an hour (${HOUR_MS}) and usageHourRetentionMs (${settings.usageHourRetentionMs}), got ${settings.usageMinuteRetentionMs}`)
  }
  if (settings.usageHourRetentionMs < DAY_MS || settings.usageHourRetentionMs > settings.usageRetentionMs) {
    throw new RangeError(`settings.usageHourRetentionMs must be between a day (${DAY_MS}) and usageRetentionMs (${settings.usageRetentionMs}), got ${settings.usageHourRetentionMs}`)
  }
  if (!Number.isSafeInteger(settings.writeQueueLimit) || settings.writeQueueLimit < 1) throw new RangeError(`settings.writeQueueLimit must be a positive integer (bulk writes waiting), got ${settings.writeQueueLimit}`)
  if (settings.verifierCacheMs > MAX_VERIFIER_CACHE_MS) throw new RangeError(`settings.verifierCacheMs must be at most ${MAX_VERIFIER_CACHE_MS} ms, got ${settings.verifierCacheMs}`)
  if (settings.rateLimitStoreFailure !== 'open' && settings.rateLimitStoreFailure !== 'closed') {
    throw new RangeError(`settings.rateLimitStoreFailure must be "open" or "closed", got ${String(settings.rateLimitStoreFailure)}`)
  }
  for (const [name, value] of [['publicUrl', settings.publicUrl], ['docsUrl', settings.docsUrl]] as const) {
    if (value !== null && !isHttpUrl(value)) throw new RangeError(`settings.${name} must be an http or https URL without query or fragment, got "${value}"`)
  }
  if (settings.publicUrl !== null) settings.publicUrl = settings.publicUrl.replace(/\/+$/, '')
  if (settings.cliPackage !== null && !NPM_PACKAGE_NAME.test(settings.cliPackage)) {
    throw new RangeError(`settings.cliPackage must be an npm package name such as @acme/apikey, got "${settings.cliPackage}"`)
  }
  if (settings.getKeyCommand !== null && !COMMAND_TEXT.test(settings.getKeyCommand)) {
    throw new RangeError('settings.getKeyCommand must be 1–200 printable ASCII characters without " and \\ (it is sent in HTTP headers and JSON)')
  }
  if (settings.tokenTtlMs > settings.maxTokenTtlMs) throw new RangeError(`settings.tokenTtlMs (${settings.tokenTtlMs}) exceeds maxTokenTtlMs (${settings.maxTokenTtlMs})`)
  return settings
}

/** An npm package name, optionally scoped (npm's rules for new packages: lowercase, URL-safe). */
const NPM_PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]{0,213}$/
/** Text of a configured command: printable ASCII without `"` and `\`, 1–200 characters. */
const COMMAND_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,200}$/

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '' && url.username === '' && url.password === '' && COMMAND_TEXT.test(value)
    )
  } catch {
    return false
  }
}

/**
 * The command callers without a key are told to run: {@link ServerSettings.getKeyCommand} when set,
 * else `npx --yes <cliPackage> init` when {@link ServerSettings.cliPackage} is set, else `apikey init`.
 */
export function getKeyCommandOf(settings: Pick<ServerSettings, 'getKeyCommand' | 'cliPackage'>): string {
  if (settings.getKeyCommand !== null) return settings.getKeyCommand
  return settings.cliPackage === null ? 'apikey init' : `npx --yes ${settings.cliPackage} init`
}

/** How a project adds the CLI: `npm install --save-dev <cliPackage>`, or null when no package is configured. */
export function installCommandOf(settings: Pick<ServerSettings, 'cliPackage'>): string | null {
  return settings.cliPackage === null ? null : `npm install --save-dev ${settings.cliPackage}`
}

/** Where the service keeps its files. */
export interface ServerPaths {
  /** Data directory: `$XDG_DATA_HOME/apikey` or `~/.local/share/apikey`. */
  dataDir: string
  /** SQLite database file: `<dataDir>/apikey.db`. */
  dbPath: string
}

/** Inputs of {@link resolveServerPaths}. */
export interface ServerPathsEnv {
  /** Environment variables; only `XDG_DATA_HOME` is read. */
  env?: Record<string, string | undefined>
  /** Home directory; defaults to `os.homedir()`. */
  homedir?: string
}

/**
 * Resolves the data directory and database path following the XDG Base
 * Directory Specification: `$XDG_DATA_HOME/apikey` when `XDG_DATA_HOME` is set
 * to an absolute path (relative values are ignored, as the spec requires),
 * else `<home>/.local/share/apikey`.
 */
export function resolveServerPaths(input: ServerPathsEnv = {}): ServerPaths {
  const xdg = input.env?.XDG_DATA_HOME
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(input.homedir ?? homedir(), '.local', 'share')
  const dataDir = join(base, 'apikey')
  return {dataDir, dbPath: join(dataDir, 'apikey.db')}
}

/** Default data directory (see {@link resolveServerPaths}). */
export function defaultDataDir(input: ServerPathsEnv = {}): string {
  return resolveServerPaths(input).dataDir
}

/** Default database path, `<defaultDataDir>/apikey.db` (see {@link resolveServerPaths}). */
export function defaultDbPath(input: ServerPathsEnv = {}): string {
  return resolveServerPaths(input).dbPath
}
