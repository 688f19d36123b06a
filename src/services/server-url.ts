/**
 * Which key service a command talks to, and why (every answer
 * names its source).
 */
import {usageError} from '../core/errors.js'
import {checkInput} from '../core/secrets.js'
import type {CliConfig} from '../lib/config.js'
import type {Env} from '../lib/io.js'
import {isHttpUrl, type FoundProjectFile} from '../lib/project-file.js'

/** Where the server URL came from. */
export type ServerSource = 'flag' | 'env' | 'project' | 'config'

/** A resolved server URL. */
export interface ResolvedServer {
  /** Normalised base URL without a trailing slash, e.g. `http://127.0.0.1:4000`. */
  url: string
  source: ServerSource
  /** Host (with port) used to name keychain entries: `apikey:<host>`. */
  host: string
}

/**
 * Normalises a server URL: http(s) only, no credentials, no query or fragment,
 * no trailing slash, and no trailing `/v1` (the API's version segment, which
 * people copy from a request URL: `https://keys.example.com/v1` means the
 * service at `https://keys.example.com`).
 * @throws ApikeyError `usage` naming `flag` when the URL is not valid, `validation` (exit 2) when it
 *   holds a key or token (core/secrets.ts; the value is not shown).
 */
export function normaliseServerUrl(value: string, flag = '--server'): string {
  // From a flag, APIKEY_SERVER, apikey.json or a prompt alike: a key or token never becomes part of an address.
  checkInput(value, flag)
  if (!isHttpUrl(value)) throw usageError(`${flag} must be an http:// or https:// URL, got "${value}"`, [`apikey login --server https://keys.example.com`])
  const url = new URL(value)
  if (url.username || url.password) throw usageError(`${flag} must not contain credentials`)
  url.search = ''
  url.hash = ''
  url.pathname = withoutApiVersion(url.pathname)
  return url.toString().replace(/\/+$/, '')
}

/**
 * A base path without a trailing API version segment: `/v1`, `/v1/` → `/`;
 * `/apikey/v1` → `/apikey/`. Other paths are returned unchanged.
 */
export function withoutApiVersion(pathname: string): string {
  return pathname.replace(/\/v1\/*$/, '/')
}

/**
 * Resolves the server: `--server` → `APIKEY_SERVER` → `apikey.json` → last login (`config.json`).
 * @returns undefined when none is set.
 * @throws ApikeyError `usage` when a given URL is invalid.
 */
export function resolveServer(flag: string | undefined, env: Env, project: FoundProjectFile | undefined, config: CliConfig): ResolvedServer | undefined {
  const candidates: Array<[string | undefined, ServerSource, string]> = [
    [flag, 'flag', '--server'],
    [env.APIKEY_SERVER, 'env', 'APIKEY_SERVER'],
    [project?.project.server, 'project', project?.path ?? 'apikey.json'],
    [config.server, 'config', 'config.json'],
  ]
  for (const [value, source, name] of candidates) {
    if (value === undefined || value === '') continue
    const url = normaliseServerUrl(value, name)
    return {url, source, host: new URL(url).host}
  }
  return undefined
}

/** Usage error for a command that needs a server and has none. */
export function noServerError(): Error {
  return usageError('no key service URL is set', ['apikey login --server https://keys.example.com', 'or set APIKEY_SERVER, or run inside a project with apikey.json'])
}
