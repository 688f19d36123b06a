/**
 * Where the developer's session token lives.
 *
 * Lookup order, first hit wins:
 * 1. `APIKEY_TOKEN` in the environment — used for every server, without
 *    touching the keychain or the disk;
 * 2. the OS keychain: service `apikey:<server host>`, account `session`;
 * 3. `credentials.json` (mode 0600) in the config directory.
 *
 * Saving prefers the keychain; the file is used only when the keychain cannot
 * be used (or the caller asks for it), and always after a visible warning.
 * A keychain that exists but cannot be read (locked, timed out) is reported as
 * such and never mistaken for "not signed in".
 */
import {createHash} from 'node:crypto'
import {ApikeyError, usageError} from '../../core/errors.js'
import {configDir as defaultConfigDir} from '../config.js'
import {keychainService, serverHost, SESSION_ACCOUNT} from '../keychain/naming.js'
import type {SecretStore} from '../keychain/keychain.js'
import {isKeychainAbsent, type UnavailableReason} from '../keychain/classify.js'
import {credentialsPath, readCredentialsFile, updateCredentialsFile} from './file.js'

/** Environment variable holding a session token (CI, scripts). */
export const TOKEN_ENV_VAR = 'APIKEY_TOKEN'

/** A place a session token can come from. */
export type TokenSource = 'env' | 'keychain' | 'file'

/** A session token and where it came from. */
export interface ResolvedToken {
  /** The token; never empty. */
  token: string
  source: TokenSource
  /** Server host the token is for (`keys.example.com`, `127.0.0.1:4000`). */
  host: string
  /** Human-readable place: `APIKEY_TOKEN`, `Secret Service (service "apikey:host", account "session")`, or the file path. */
  where: string
}

/** Options of {@link CredentialStore.save}. */
export interface SaveOptions {
  /** Write the 0600 file even when the keychain works (still warns). */
  preferFile?: boolean
}

/** Where {@link CredentialStore.save} put the token. */
export type SaveResult =
  | {location: 'keychain'; store: string; service: string; account: string; where: string; removedStale: TokenSource[]}
  | {
      location: 'file'
      path: string
      where: string
      /** Why the keychain was not used (also in the warning). */
      reason: string
      removedStale: TokenSource[]
    }

/** What {@link CredentialStore.clear} did. */
export interface ClearResult {
  /** Places a token was removed from. */
  cleared: Array<'keychain' | 'file'>
  /** Places that may still hold a token because they could not be checked or changed. */
  failed: Array<{place: 'keychain' | 'file'; message: string}>
  /** `APIKEY_TOKEN` is set: it keeps supplying a token until unset. */
  envStillSet: boolean
}

/** One place that holds a token, as listed by {@link CredentialStore.locations}. */
export interface TokenLocation {
  source: TokenSource
  where: string
  /** First 8 hex digits of SHA-256 of the token: tells tokens apart without showing them. */
  fingerprint: string
  /** This is the token {@link CredentialStore.resolve} returns. */
  active: boolean
}

/** Every place a token exists for one server. */
export interface TokenLocations {
  host: string
  /** Places holding a token, in lookup order. */
  entries: TokenLocation[]
  /** Source that wins, or null when none holds a token. */
  active: TokenSource | null
  /** More than one place holds a token for this server (the others are shadowed, and may be stale). */
  conflict: boolean
  /** Whether the keychain could be checked. */
  keychain: {status: 'checked'; store: string} | {status: 'unavailable' | 'error'; store: string; reason: UnavailableReason | 'error'; message: string}
  /** The fallback file: path, and a problem if it is corrupt or too open. */
  file: {path: string; exists: boolean; problem?: string}
}

/** Inputs of {@link createCredentialStore}. */
export interface CredentialStoreOptions {
  /** Environment (for `APIKEY_TOKEN`, and the config directory when `configDir` is not given). */
  env: Record<string, string | undefined>
  /** The OS keychain (see `createKeychain`). */
  keychain: SecretStore
  /** Prints one warning line to stderr (never receives a token). */
  warn: (message: string) => void
  /** Config directory holding `credentials.json`; default `$XDG_CONFIG_HOME/apikey` or `~/.config/apikey`. */
  configDir?: string
  /** Clock in ms since epoch; default `Date.now`. */
  now?: () => number
}

/** The developer session token store. */
export interface CredentialStore {
  /** Path of the fallback file. */
  readonly path: string
  /**
   * The session token for `serverUrl`: `APIKEY_TOKEN` → keychain → file.
   * A keychain that is absent (no D-Bus, no Secret Service, module missing) is
   * skipped quietly; one that exists but cannot be read is a warning
   * when the file has a token.
   * @returns null when no place holds a token (not signed in).
   * @throws ApikeyError `keychain_unavailable` / `keychain_error` when the keychain could not be read and no later source has a token (that is not "not signed in"); `io` when the file is corrupt; `usage` for an invalid URL.
   */
  resolve(serverUrl: string): Promise<ResolvedToken | null>
  /**
   * Like {@link CredentialStore.resolve}, but a missing token is an error.
   * @throws ApikeyError `not_signed_in` (exit 4) naming `apikey login --server URL`; otherwise as `resolve`.
   */
  requireToken(serverUrl: string): Promise<ResolvedToken>
  /**
   * Stores a session token: in the keychain when its probe succeeds and the
   * write reads back, else in the 0600 file after calling `warn` (never
   * silently). Removes a now-stale copy from the other place when it can.
   * @throws ApikeyError `usage` for an empty token or one with whitespace; `io` when the file cannot be written.
   */
  save(serverUrl: string, token: string, options?: SaveOptions): Promise<SaveResult>
  /** Removes the token for `serverUrl` from the keychain and the file; never throws for a keychain problem (reported in `failed`). */
  clear(serverUrl: string): Promise<ClearResult>
  /** Lists every place a token for `serverUrl` exists and flags conflicts. Never throws for store problems (they are reported). */
  locations(serverUrl: string): Promise<TokenLocations>
}

function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8)
}

/** No keychain on this machine (skipped quietly) — as opposed to one that cannot be read now. */
function isAbsent(error: ApikeyError): boolean {
  return isKeychainAbsent(error)
}

function asApikeyError(error: unknown): ApikeyError {
  if (error instanceof ApikeyError) return error
  return new ApikeyError(`unexpected keychain failure: ${(error as Error)?.message ?? String(error)}`, {code: 'keychain_error', cause: error})
}

function loginCommand(serverUrl: string): string {
  return `apikey login --server ${new URL(serverUrl).origin}`
}

/**
 * Creates the session token store. Nothing is read until the first call.
 */
export function createCredentialStore(options: CredentialStoreOptions): CredentialStore {
  const {env, keychain, warn} = options
  const now = options.now ?? Date.now
  const path = credentialsPath(options.configDir ?? defaultConfigDir(env))
  let warnedEmptyEnv = false
  let warnedMode = false

  const keychainWhere = (service: string) => `${keychain.name} (service "${service}", account "${SESSION_ACCOUNT}")`

  function envToken(): string | undefined {
    const raw = env[TOKEN_ENV_VAR]
    if (raw === undefined) return undefined
    const token = raw.trim()
    if (token === '') {
      if (!warnedEmptyEnv) warn(`${TOKEN_ENV_VAR} is set but empty; ignoring it`)
      warnedEmptyEnv = true
      return undefined
    }
    return token
  }

  async function readFile() {
    const contents = await readCredentialsFile(path)
    if (contents.exists && contents.mode !== undefined && (contents.mode & 0o077) !== 0 && process.platform !== 'win32' && !warnedMode) {
      warnedMode = true
      warn(`${path} is readable by other users (mode ${contents.mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`)
    }
    return contents
  }

  /** The keychain token, or null; `problem` when the keychain exists but could not be read. */
  async function readKeychain(service: string): Promise<{token: string | null; problem?: ApikeyError; absent?: ApikeyError}> {
    try {
      const value = await keychain.get(service, SESSION_ACCOUNT)
      if (value !== null && value.trim() === '') {
        warn(`${keychainWhere(service)} holds an empty session token; ignoring it`)
        return {token: null}
      }
      return {token: value === null ? null : value.trim()}
    } catch (error) {
      const e = asApikeyError(error)
      return isAbsent(e) ? {token: null, absent: e} : {token: null, problem: e}
    }
  }

  async function resolve(serverUrl: string): Promise<ResolvedToken | null> {
    const host = serverHost(serverUrl)
    const fromEnv = envToken()
    if (fromEnv !== undefined) return {token: fromEnv, source: 'env', host, where: TOKEN_ENV_VAR}

    const service = keychainService(serverUrl)
    const fromKeychain = await readKeychain(service)
    if (fromKeychain.token !== null) return {token: fromKeychain.token, source: 'keychain', host, where: keychainWhere(service)}

    const file = await readFile()
    const entry = file.tokens[host]
    if (entry !== undefined) {
      if (fromKeychain.problem) warn(`${fromKeychain.problem.message}; using the session token from ${path}`)
      return {token: entry.token.trim(), source: 'file', host, where: path}
    }
    if (fromKeychain.problem) {
      const p = fromKeychain.problem
      throw new ApikeyError(`cannot tell whether you are signed in to ${host}: ${p.message}`, {
        code: p.code,
        suggestions: [...p.suggestions.filter((s) => !s.includes('--store dotenv')), `or set ${TOKEN_ENV_VAR}, or sign in again: ${loginCommand(serverUrl)}`],
        details: {...p.details, host},
        cause: p,
      })
    }
    return null
  }

  async function removeFromFile(host: string): Promise<boolean> {
    let removed = false
    const current = await readCredentialsFile(path)
    if (current.tokens[host] === undefined) return false
    await updateCredentialsFile(path, (contents) => {
      if (contents.tokens[host] === undefined) return
      delete contents.tokens[host]
      removed = true
    })
    return removed
  }

  return {
    path,
    resolve,

    async requireToken(serverUrl) {
      const found = await resolve(serverUrl)
      if (found !== null) return found
      const host = serverHost(serverUrl)
      throw new ApikeyError(`not signed in to ${host}: no session token in ${TOKEN_ENV_VAR}, the OS keychain or ${path}`, {
        code: 'not_signed_in',
        suggestions: [loginCommand(serverUrl), `or set ${TOKEN_ENV_VAR} (for CI)`],
        details: {host},
      })
    },

    async save(serverUrl, rawToken, saveOptions = {}) {
      const host = serverHost(serverUrl)
      const token = rawToken.trim()
      if (token === '') throw usageError('refusing to save an empty session token')
      if (/[\s\u0000-\u001f\u007f]/.test(token)) throw usageError('a session token must not contain whitespace or control characters')
      const service = keychainService(serverUrl)
      let reason: string
      if (saveOptions.preferFile) {
        reason = 'file storage was requested'
      } else {
        const probe = await keychain.probe()
        if (probe.available) {
          try {
            await keychain.set(service, SESSION_ACCOUNT, token)
            const removedStale: TokenSource[] = []
            try {
              if (await removeFromFile(host)) removedStale.push('file')
            } catch (error) {
              warn(`saved to the keychain, but could not remove the older token from ${path}: ${(error as Error).message}`)
            }
            return {location: 'keychain', store: keychain.name, service, account: SESSION_ACCOUNT, where: keychainWhere(service), removedStale}
          } catch (error) {
            reason = asApikeyError(error).message
          }
        } else {
          reason = probe.message
        }
      }
      warn(`storing the session token in plaintext in ${path} (mode 0600), because ${reason}`)
      await updateCredentialsFile(path, (contents) => {
        contents.tokens[host] = {token, savedAt: now()}
      })
      const removedStale: TokenSource[] = []
      if (saveOptions.preferFile) {
        // A keychain copy would win over the file on the next lookup; remove it when we can.
        try {
          if (await keychain.delete(service, SESSION_ACCOUNT)) removedStale.push('keychain')
        } catch {
          // Unreachable keychain: `locations()` will show any leftover.
        }
      }
      return {location: 'file', path, where: path, reason, removedStale}
    },

    async clear(serverUrl) {
      const host = serverHost(serverUrl)
      const service = keychainService(serverUrl)
      const result: ClearResult = {cleared: [], failed: [], envStillSet: envToken() !== undefined}
      try {
        if (await keychain.delete(service, SESSION_ACCOUNT)) result.cleared.push('keychain')
      } catch (error) {
        const e = asApikeyError(error)
        if (!isAbsent(e)) result.failed.push({place: 'keychain', message: e.message})
      }
      try {
        if (await removeFromFile(host)) result.cleared.push('file')
      } catch (error) {
        result.failed.push({place: 'file', message: asApikeyError(error).message})
      }
      return result
    },

    async locations(serverUrl) {
      const host = serverHost(serverUrl)
      const service = keychainService(serverUrl)
      const found: Array<{source: TokenSource; where: string; token: string}> = []
      const fromEnv = envToken()
      if (fromEnv !== undefined) found.push({source: 'env', where: TOKEN_ENV_VAR, token: fromEnv})

      let keychainStatus: TokenLocations['keychain'] = {status: 'checked', store: keychain.name}
      const fromKeychain = await readKeychain(service)
      if (fromKeychain.token !== null) found.push({source: 'keychain', where: keychainWhere(service), token: fromKeychain.token})
      const keychainFailure = fromKeychain.problem ?? fromKeychain.absent
      if (keychainFailure) {
        keychainStatus = {
          status: keychainFailure.code === 'keychain_unavailable' ? 'unavailable' : 'error',
          store: keychain.name,
          reason: keychainFailure.code === 'keychain_unavailable' ? (keychainFailure.details.reason as UnavailableReason) : 'error',
          message: keychainFailure.message,
        }
      }

      const fileInfo: TokenLocations['file'] = {path, exists: false}
      try {
        const file = await readCredentialsFile(path)
        fileInfo.exists = file.exists
        if (file.mode !== undefined && (file.mode & 0o077) !== 0 && process.platform !== 'win32') fileInfo.problem = `readable by other users (mode ${file.mode.toString(8).padStart(4, '0')})`
        const entry = file.tokens[host]
        if (entry !== undefined) found.push({source: 'file', where: path, token: entry.token.trim()})
      } catch (error) {
        fileInfo.exists = true
        fileInfo.problem = asApikeyError(error).message
      }

      const entries: TokenLocation[] = found.map((f, i) => ({source: f.source, where: f.where, fingerprint: fingerprint(f.token), active: i === 0}))
      return {host, entries, active: entries[0]?.source ?? null, conflict: entries.length > 1, keychain: keychainStatus, file: fileInfo}
    },
  }
}
