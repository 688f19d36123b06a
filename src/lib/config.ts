/**
 * The CLI's non-secret configuration: where it lives and what it holds.
 *
 * Paths follow the XDG Base Directory specification: `$XDG_CONFIG_HOME/apikey`
 * (default `~/.config/apikey`). Secrets never go in `config.json`.
 */
import {mkdir, readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {ApikeyError} from '../core/errors.js'
import {writeFileAtomic} from './fs/atomic-write.js'
import type {Env} from './io.js'

/** The CLI's config directory (XDG), e.g. `/home/ann/.config/apikey`. */
export function configDir(env: Env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config')
  return join(base, 'apikey')
}

/** Contents of `config.json`. */
export interface CliConfig {
  /** Base URL of the key service last signed in to, e.g. `http://127.0.0.1:4000`. */
  server?: string
  /** Username last signed in with. */
  username?: string
}

/** Path of `config.json` inside {@link configDir}. */
export function configPath(env: Env): string {
  return join(configDir(env), 'config.json')
}

/**
 * Reads `config.json`; a missing file is an empty config.
 * @throws ApikeyError `io` naming the file when it exists but is not a JSON object.
 */
export async function readConfig(env: Env): Promise<CliConfig> {
  const path = configPath(env)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ApikeyError(`cannot read ${path}: ${(error as Error).message}`, {code: 'io', cause: error})
  }
  try {
    const value = JSON.parse(text) as unknown
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object')
    const obj = value as Record<string, unknown>
    const config: CliConfig = {}
    if (typeof obj.server === 'string') config.server = obj.server
    if (typeof obj.username === 'string') config.username = obj.username
    return config
  } catch (error) {
    throw new ApikeyError(`${path} is not valid: ${(error as Error).message}`, {
      code: 'io',
      suggestions: [`fix or delete ${path}, then run: apikey login --server URL`],
    })
  }
}

/**
 * Writes `config.json` atomically (`writeFileAtomic`), directory mode 0700, file mode 0600.
 * @throws ApikeyError `io` naming the file when it cannot be written.
 */
export async function writeConfig(env: Env, config: CliConfig): Promise<void> {
  const path = configPath(env)
  try {
    await mkdir(dirname(path), {recursive: true, mode: 0o700})
    await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, {mode: 0o600})
  } catch (error) {
    throw new ApikeyError(`could not write the CLI configuration ${path}: ${(error as Error).message}`, {
      code: 'io',
      cause: error,
      details: {path},
      suggestions: [`check the permissions of ${dirname(path)} (it should be yours, mode 0700)`],
    })
  }
}
