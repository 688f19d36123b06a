/**
 * `apikey.json`: the committed, secret-free project file that lets every
 * teammate run `apikey init` and get a personal key for the same app.
 * It holds no key and no token.
 *
 * ```json
 * { "server": "https://keys.example.com", "app": "weather-app", "env": "dev",
 *   "store": "dotenv", "envFile": ".env", "variable": "API_KEY" }
 * ```
 */
import {readFile, stat} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {ApikeyError} from '../core/errors.js'
import {isKeyEnvironment, isValidSlug, KEY_ENVIRONMENTS, KEY_SCAN_PATTERN, SLUG_RULE, type KeyEnvironment} from '../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR, PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX} from '../core/wire.js'
import {writeFileAtomic} from './fs/atomic-write.js'

/** A session or provisioning token (prefixes from core) anywhere in a text. */
const COMMITTED_TOKEN_PATTERN = new RegExp(`\\b(?:${SESSION_TOKEN_PREFIX}|${PROVISIONING_TOKEN_PREFIX})[0-9A-Za-z]{20,}`)

/** File name of the project file. */
export const PROJECT_FILE_NAME = 'apikey.json'

/** Where a developer's key is stored. */
export const KEY_STORES = ['dotenv', 'keychain'] as const
/** One of {@link KEY_STORES}. */
export type KeyStore = (typeof KEY_STORES)[number]

/** Is `value` one of {@link KEY_STORES}? */
export function isKeyStore(value: string): value is KeyStore {
  return (KEY_STORES as readonly string[]).includes(value)
}

/** Contents of `apikey.json`. */
export interface ProjectFile {
  /** Base URL of the key service. */
  server: string
  /** App slug on that service. */
  app: string
  /** Environment of developer keys (default `dev`). */
  env: KeyEnvironment
  /** Preferred store for developer keys (default `dotenv`). */
  store: KeyStore
  /** Path of the env file, relative to the project file's directory (default `.env`). */
  envFile: string
  /** Environment variable name the app reads its key from. */
  variable: string
}

/** A project file found on disk. */
export interface FoundProjectFile {
  /** Absolute path of `apikey.json`. */
  path: string
  /** Directory holding it (the project root). */
  dir: string
  project: ProjectFile
}

/** Environment variable names: POSIX portable names. */
export const VARIABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Looks for `apikey.json` in `cwd` and its parents, stopping at the first
 * directory that holds a `.git` entry (the repository root) or at `/`.
 * @returns the parsed file, or `undefined` when there is none.
 * @throws ApikeyError `project_file` (exit 1) naming the file and what is wrong when it is corrupt.
 */
export async function findProjectFile(cwd: string): Promise<FoundProjectFile | undefined> {
  let dir = resolve(cwd)
  for (;;) {
    const path = join(dir, PROJECT_FILE_NAME)
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
      throw new ApikeyError(`cannot read ${path}: ${error.message}`, {code: 'project_file', cause: error})
    })
    if (text !== undefined) return {path, dir, project: parseProjectFile(text, path)}
    const isRepoRoot = await stat(join(dir, '.git')).then(
      () => true,
      () => false,
    )
    const parent = dirname(dir)
    if (isRepoRoot || parent === dir) return undefined
    dir = parent
  }
}

/**
 * Parses and validates the text of `apikey.json`.
 * @throws ApikeyError `project_file` naming `path`, the field and the rule.
 */
export function parseProjectFile(text: string, path: string): ProjectFile {
  const fail = (what: string): never => {
    throw new ApikeyError(`${path} is not a valid apikey project file: ${what}`, {
      code: 'project_file',
      suggestions: [`fix ${path} (it is plain JSON), or delete it and run: apikey init`],
      details: {path},
    })
  }
  let value: unknown
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    return fail(`invalid JSON (${(error as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('expected a JSON object')
  const obj = value as Record<string, unknown>
  const str = (field: string): string | undefined => {
    const v = obj[field]
    if (v === undefined) return undefined
    if (typeof v !== 'string') return fail(`"${field}" must be a string`)
    return v
  }
  const server = str('server')
  if (server === undefined) return fail('"server" is missing (the key service URL)')
  if (!isHttpUrl(server)) return fail(`"server" must be an http(s) URL, got "${server}"`)
  const app = str('app')
  if (app === undefined) return fail('"app" is missing (the app slug)')
  if (!isValidSlug(app)) return fail(`"app" "${app}" is not a valid slug: ${SLUG_RULE}`)
  const env = str('env') ?? 'dev'
  if (!isKeyEnvironment(env)) return fail(`"env" must be one of ${KEY_ENVIRONMENTS.join(', ')}, got "${env}"`)
  const store = str('store') ?? 'dotenv'
  if (!isKeyStore(store)) return fail(`"store" must be ${KEY_STORES.map((s) => `"${s}"`).join(' or ')}, got "${store}"`)
  const envFile = str('envFile') ?? '.env'
  if (envFile === '' || envFile.includes('\0')) return fail('"envFile" must be a non-empty path')
  const variable = str('variable') ?? DEFAULT_KEY_ENV_VAR
  if (!VARIABLE_PATTERN.test(variable)) return fail(`"variable" "${variable}" is not a valid environment variable name`)
  for (const field of ['key', 'token', 'secret', 'password']) {
    if (field in obj) return fail(`"${field}" must not be in this file: it is committed; keys live in .env or the keychain`)
  }
  // Whatever the field is called, an API key or a token in a committed file is a leak.
  KEY_SCAN_PATTERN.lastIndex = 0
  if (KEY_SCAN_PATTERN.test(text) || COMMITTED_TOKEN_PATTERN.test(text)) {
    return fail('it contains an API key or a token; this file is committed: remove it, and rotate that key (apikey init --new-key)')
  }
  return {server, app, env, store, envFile, variable}
}

/** Is `value` an absolute http: or https: URL? */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** Serialises a project file with stable key order and a trailing newline. */
export function formatProjectFile(project: ProjectFile): string {
  const {server, app, env, store, envFile, variable} = project
  return `${JSON.stringify({server, app, env, store, envFile, variable}, null, 2)}\n`
}

/**
 * Writes `apikey.json` atomically (`writeFileAtomic`), mode 0644 (it is committed).
 * @returns whether the content changed.
 * @throws ApikeyError `io` naming the file when it cannot be written.
 */
export async function writeProjectFile(path: string, project: ProjectFile): Promise<boolean> {
  const text = formatProjectFile(project)
  const before = await readFile(path, 'utf8').catch(() => undefined)
  if (before === text) return false
  try {
    await writeFileAtomic(path, text, {mode: 0o644})
  } catch (error) {
    throw new ApikeyError(`could not write ${path}: ${(error as Error).message}`, {
      code: 'io',
      cause: error,
      details: {path},
      suggestions: [`check that you may write to ${dirname(path)}`],
    })
  }
  return true
}
