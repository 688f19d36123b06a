/**
 * The OS keychain adapter: a small {@link SecretStore} over
 * `@napi-rs/keyring` 2.x where every call is time-boxed.
 *
 * - Linux entries are pinned to the Secret Service (`{linux: {store:
 *   'secret-service'}}`), so a missing store throws instead of silently falling
 *   back to the volatile kernel keyring.
 * - Each call runs in a short-lived helper process killed after the time box
 *   (see `helper.ts`); secrets travel over its stdin/stdout, never its
 *   command line.
 * - `null` means "no such entry"; `keychain_unavailable` means the store cannot
 *   be used; anything else is `keychain_error`.
 * - Writes are size-checked first and read back.
 */
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {ApikeyError, usageError} from '../../core/errors.js'
import {classifyKeychainError, redactSecrets, unavailableError, type UnavailableReason} from './classify.js'
import {runHelper, type HelperOp, type HelperOpResult, type HelperOutcome} from './helper.js'

/** Default time box of one keychain call (helper start included), in ms. */
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 3000

/**
 * Largest secret we write, in bytes of UTF-8. Our API keys are ~84
 * bytes and session tokens well under 200; the limit leaves room for longer
 * tokens while staying inside every platform's store. Windows Credential
 * Manager caps a credential blob at 2,560 bytes of UTF-16, so there the
 * effective limit is also {@link WINDOWS_MAX_SECRET_UTF16_UNITS} code units.
 */
export const MAX_SECRET_BYTES = 2048

/** Windows Credential Manager limit: 2,560-byte blob = 1,280 UTF-16 code units. */
export const WINDOWS_MAX_SECRET_UTF16_UNITS = 1280

/** Environment variable that overrides {@link DEFAULT_KEYCHAIN_TIMEOUT_MS} (positive integer, ms). */
export const TIMEOUT_ENV_VAR = 'APIKEY_KEYCHAIN_TIMEOUT_MS'

/** Options of {@link createKeychain}. */
export interface KeychainOptions {
  /**
   * Time box of each call, in ms (default: `APIKEY_KEYCHAIN_TIMEOUT_MS` from
   * `env`, else {@link DEFAULT_KEYCHAIN_TIMEOUT_MS}). It covers starting the
   * helper process, so keep it above ~500 ms.
   */
  timeoutMs?: number
  /**
   * Environment of the keychain helper (D-Bus address, HOME, …); default
   * `process.env`. `NODE_OPTIONS` is never passed on.
   */
  env?: Record<string, string | undefined>
  /** Platform whose store and limits apply; default `process.platform`. */
  platform?: NodeJS.Platform
}

/** Why a probe found the keychain unusable: an {@link UnavailableReason}, a failed read-back, or another keychain error. */
export type ProbeFailureReason = UnavailableReason | 'read-back' | 'error'

/** Result of {@link SecretStore.probe}. */
export type ProbeResult =
  | {
      available: true
      /** Display name of the store, e.g. `Secret Service`. */
      store: string
      /** Duration of the probe, in ms. */
      elapsedMs: number
    }
  | {
      available: false
      store: string
      reason: ProbeFailureReason
      /** One-line explanation (no secret, no stack trace). */
      message: string
      /** The error a caller should throw when it needs the keychain (`keychain_unavailable` or `keychain_error`). */
      error: ApikeyError
      elapsedMs: number
    }

/**
 * A time-boxed secret store (the OS keychain). Entries are addressed by
 * `service` and `account` (see `naming.ts`).
 */
export interface SecretStore {
  /** Display name of the store: `Secret Service`, `macOS Keychain`, `Windows Credential Manager`. */
  readonly name: string
  /** Time box of each call, in ms. */
  readonly timeoutMs: number
  /**
   * Can this store be used? Writes, reads back and deletes a throw-away entry
   * (service `apikey:probe`), time-boxed. Runs once per store instance (the
   * composition root builds one per process); later calls return the cached
   * result. Never throws.
   */
  probe(): Promise<ProbeResult>
  /**
   * The secret of an entry, or `null` when there is no such entry.
   * @throws ApikeyError `keychain_unavailable` when the store cannot be read (no D-Bus, no Secret Service, locked, timeout, module missing); `keychain_error` otherwise.
   */
  get(service: string, account: string): Promise<string | null>
  /**
   * Creates or replaces an entry, then reads it back.
   * @throws ApikeyError `keychain_error` when the secret is empty or longer than {@link MAX_SECRET_BYTES} (checked before any write), or the read-back is missing or different; `keychain_unavailable` when the store cannot be used.
   */
  set(service: string, account: string, secret: string): Promise<void>
  /**
   * Deletes an entry.
   * @returns true when an entry was deleted, false when there was none.
   * @throws ApikeyError `keychain_unavailable` / `keychain_error` as for {@link SecretStore.get}.
   */
  delete(service: string, account: string): Promise<boolean>
}

/** Display name of the keychain on `platform`. */
export function keychainName(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'macOS Keychain'
  if (platform === 'win32') return 'Windows Credential Manager'
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') return 'Secret Service'
  return 'OS keychain'
}

/**
 * Checks a secret against the size limit before it is written.
 * @throws ApikeyError `keychain_error` naming the limit (bytes) and the `--store dotenv` alternative; `validation` when the secret is empty.
 */
export function checkSecretSize(secret: string, platform: NodeJS.Platform = process.platform, storeName = keychainName(platform)): void {
  if (secret.length === 0) throw new ApikeyError('refusing to store an empty secret in the OS keychain', {code: 'validation'})
  const bytes = Buffer.byteLength(secret, 'utf8')
  const tooLongForWindows = platform === 'win32' && secret.length > WINDOWS_MAX_SECRET_UTF16_UNITS
  if (bytes > MAX_SECRET_BYTES || tooLongForWindows) {
    const limit = tooLongForWindows && bytes <= MAX_SECRET_BYTES ? `${WINDOWS_MAX_SECRET_UTF16_UNITS} UTF-16 code units on Windows` : `${MAX_SECRET_BYTES} bytes`
    throw new ApikeyError(`the secret is too long for the OS keychain (${storeName}): ${bytes} bytes, the limit is ${limit}; nothing was written`, {
      code: 'keychain_error',
      suggestions: ['keep it in the gitignored .env instead: apikey init --store dotenv'],
      details: {reason: 'too-long', sizeBytes: bytes, limitBytes: MAX_SECRET_BYTES, store: storeName},
    })
  }
}

function resolveTimeout(options: KeychainOptions, env: Record<string, string | undefined>): number {
  if (options.timeoutMs !== undefined) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw usageError(`keychain timeout must be a positive number of ms, got ${options.timeoutMs}`)
    return options.timeoutMs
  }
  const raw = env[TIMEOUT_ENV_VAR]
  if (raw === undefined || raw.trim() === '') return DEFAULT_KEYCHAIN_TIMEOUT_MS
  const value = Number(raw.trim())
  if (!Number.isInteger(value) || value <= 0 || value > 600_000) {
    throw usageError(`${TIMEOUT_ENV_VAR} must be a whole number of milliseconds between 1 and 600000, got "${raw}"`, [`${TIMEOUT_ENV_VAR}=${DEFAULT_KEYCHAIN_TIMEOUT_MS}`])
  }
  return value
}

function checkName(kind: 'service' | 'account', value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512 || value.includes('\u0000')) {
    throw usageError(`keychain ${kind} name must be 1–512 characters without NUL, got ${JSON.stringify(value)}`)
  }
}

function entryLabel(service: string, account: string): string {
  return `entry "${service}" / "${account}"`
}

/**
 * Creates the OS keychain adapter. Nothing is loaded or spawned until the
 * first call; `@napi-rs/keyring` is only ever loaded in the helper process, so
 * a missing native binary only makes the keychain report itself unavailable.
 * @throws ApikeyError `usage` when `timeoutMs` or `APIKEY_KEYCHAIN_TIMEOUT_MS` is invalid.
 */
export function createKeychain(options: KeychainOptions = {}): SecretStore {
  const env = options.env ?? process.env
  const platform = options.platform ?? process.platform
  const name = keychainName(platform)
  const timeoutMs = resolveTimeout(options, env)
  /** Set once the store proved unusable in this process: later calls fail fast instead of waiting again. */
  let broken: {reason: UnavailableReason; detail: string | undefined} | undefined
  let probeCache: Promise<ProbeResult> | undefined
  let modulePath: string | undefined

  /** Absolute path of the binding's entry module, or undefined (and `broken` set) when the package is not installed. */
  function resolveModule(): string | undefined {
    if (modulePath !== undefined) return modulePath
    try {
      modulePath = createRequire(import.meta.url).resolve('@napi-rs/keyring')
      return modulePath
    } catch {
      broken = {reason: 'not-installed', detail: 'package @napi-rs/keyring is not installed'}
      return undefined
    }
  }

  /**
   * On Secret Service platforms the binding's libdbus finds the session bus
   * only through DBUS_SESSION_BUS_ADDRESS (X11 autolaunch is compiled out), so
   * without it (and without a `$XDG_RUNTIME_DIR/bus` socket, to stay safe if
   * that lookup is ever added) we skip the helper: the common CI/container case
   * costs no process start.
   */
  function sessionBusConfigured(): boolean {
    if (platform !== 'linux' && platform !== 'freebsd' && platform !== 'openbsd') return true
    if (env.DBUS_SESSION_BUS_ADDRESS) return true
    return Boolean(env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus')))
  }

  /** Runs ops in the helper; returns the per-op results or throws the classified failure. */
  async function run(ops: HelperOp[], action: string, secrets: string[]): Promise<HelperOpResult[]> {
    const context = {action, storeName: name, secrets, timeoutMs}
    if (broken === undefined && !sessionBusConfigured()) broken = {reason: 'no-dbus', detail: undefined}
    const path = broken ? undefined : resolveModule()
    if (broken || path === undefined) throw unavailableError(broken?.reason ?? 'not-installed', context, broken?.detail)
    const outcome: HelperOutcome = await runHelper({modulePath: path, linuxStore: 'secret-service', ops}, env, timeoutMs)
    switch (outcome.kind) {
      case 'timeout':
        broken = {reason: 'timeout', detail: undefined}
        throw unavailableError('timeout', context)
      case 'load-failed':
        broken = {reason: 'not-installed', detail: redactSecrets(outcome.message, secrets)}
        throw unavailableError('not-installed', context, broken.detail)
      case 'crashed':
        broken = {reason: 'helper-failed', detail: redactSecrets(outcome.message, secrets)}
        throw unavailableError('helper-failed', context, broken.detail)
      case 'results': {
        const failed = outcome.results.find((r): r is Extract<HelperOpResult, {ok: false}> => !r.ok)
        if (failed) {
          const error = classifyKeychainError(failed, context)
          if (error.code === 'keychain_unavailable') broken = {reason: error.details.reason as UnavailableReason, detail: (error.cause as Error | undefined)?.message}
          throw error
        }
        if (outcome.results.length !== ops.length) throw classifyKeychainError('the keychain helper answered too few results', context)
        return outcome.results
      }
    }
  }

  async function doProbe(): Promise<ProbeResult> {
    const started = Date.now()
    const service = 'apikey:probe'
    const account = `probe-${process.pid}-${randomBytes(4).toString('hex')}`
    const secret = `probe-${randomBytes(12).toString('hex')}`
    const fail = (reason: ProbeFailureReason, error: ApikeyError): ProbeResult => ({available: false, store: name, reason, message: error.message, error, elapsedMs: Date.now() - started})
    try {
      const results = await run(
        [
          {op: 'set', service, account, secret},
          {op: 'get', service, account},
          {op: 'delete', service, account},
        ],
        'write a test entry to',
        [secret],
      )
      if (results[1]?.ok !== true || results[1].value !== secret || results[2]?.ok !== true || results[2].value !== true) {
        return fail(
          'read-back',
          new ApikeyError(`the OS keychain (${name}) accepted a test entry but reading it back ${results[1]?.ok && results[1].value === secret ? 'and deleting it failed' : 'did not return it'}; it cannot be trusted to keep secrets`, {
            code: 'keychain_error',
            suggestions: ['keep the API key in the gitignored .env instead: apikey init --store dotenv'],
            details: {reason: 'read-back', store: name},
          }),
        )
      }
      return {available: true, store: name, elapsedMs: Date.now() - started}
    } catch (error) {
      const classified = classifyKeychainError(error, {storeName: name, secrets: [secret]})
      const reason = classified.code === 'keychain_unavailable' ? (classified.details.reason as UnavailableReason) : 'error'
      return fail(reason, classified)
    }
  }

  return {
    name,
    timeoutMs,
    probe: () => (probeCache ??= doProbe()),

    async get(service, account) {
      checkName('service', service)
      checkName('account', account)
      const [result] = await run([{op: 'get', service, account}], `read ${entryLabel(service, account)} from`, [])
      const value = result?.ok ? result.value : null
      return typeof value === 'string' ? value : null
    },

    async set(service, account, secret) {
      checkName('service', service)
      checkName('account', account)
      checkSecretSize(secret, platform, name)
      const label = entryLabel(service, account)
      const results = await run(
        [
          {op: 'set', service, account, secret},
          {op: 'get', service, account},
        ],
        `write ${label} to`,
        [secret],
      )
      const readBack = results[1]?.ok ? results[1].value : undefined
      if (readBack !== secret) {
        const what = readBack === null || readBack === undefined ? 'found nothing' : 'found a different value'
        throw new ApikeyError(`the OS keychain (${name}) reported ${label} as written, but reading it back ${what}; the secret is not stored`, {
          code: 'keychain_error',
          suggestions: ['retry once; if it fails again, keep the API key in the gitignored .env: apikey init --store dotenv'],
          details: {reason: 'read-back', store: name, service, account},
        })
      }
    },

    async delete(service, account) {
      checkName('service', service)
      checkName('account', account)
      const [result] = await run([{op: 'delete', service, account}], `delete ${entryLabel(service, account)} from`, [])
      return result?.ok === true && result.value === true
    },
  }
}
