/**
 * Names of keychain entries:
 *
 * | what | service | account |
 * |---|---|---|
 * | an app's API key | `apikey:<server host>` | `<app>/<env>` (e.g. `weather-app/dev`) |
 * | the developer session token | `apikey:<server host>` | `session` |
 *
 * `<server host>` is the URL's host with a non-default port (`keys.example.com`,
 * `127.0.0.1:4000`), lower case. `session` can never collide with an API-key
 * account: those always contain a `/`.
 */
import {usageError} from '../../core/errors.js'
import {isKeyEnvironment, isValidSlug, KEY_ENVIRONMENTS} from '../../core/key-format.js'

/** Account name of the developer session token. */
export const SESSION_ACCOUNT = 'session'

/** Prefix of every service name we write. */
export const SERVICE_PREFIX = 'apikey:'

/**
 * Host (with non-default port, lower case) of a key service URL.
 * @throws ApikeyError `usage` when `serverUrl` is not an http(s) URL.
 */
export function serverHost(serverUrl: string): string {
  let url: URL
  try {
    url = new URL(serverUrl)
  } catch {
    throw usageError(`not a valid server URL: "${serverUrl}"`, ['apikey login --server https://keys.example.com'])
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
    throw usageError(`the server URL must be http:// or https://, got "${serverUrl}"`, ['apikey login --server https://keys.example.com'])
  }
  return url.host.toLowerCase()
}

/**
 * Keychain service name for a key service: `apikey:<server host>`.
 * @throws ApikeyError `usage` when `serverUrl` is not an http(s) URL.
 */
export function keychainService(serverUrl: string): string {
  return `${SERVICE_PREFIX}${serverHost(serverUrl)}`
}

/**
 * Keychain account name of an app's API key: `<app>/<env>`.
 * @throws ApikeyError `usage` when `app` is not a valid slug or `env` not a key environment.
 */
export function apiKeyAccount(app: string, env: string): string {
  if (!isValidSlug(app)) throw usageError(`not a valid app slug: "${app}"`)
  if (!isKeyEnvironment(env)) throw usageError(`not a key environment: "${env}" (one of ${KEY_ENVIRONMENTS.join(', ')})`)
  return `${app}/${env}`
}
