/**
 * Finding the developer's API key: `--key`/argument → environment
 * variable → `.env` → OS keychain. The answer always names its source, and
 * warns when a higher source shadows a different stored key.
 */
import {join, resolve} from 'node:path'
import {parseKey} from '../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import type {FoundProjectFile} from '../lib/project-file.js'

/** Where a key can come from, highest precedence first. */
export type KeySourceName = 'argument' | 'env' | 'dotenv' | 'keychain'

/** One place a key may live, and what was found there. */
export interface KeySourceReport {
  source: KeySourceName
  /** Human description: `--key`, `API_KEY`, `/repo/.env`, `apikey:host apikey weather-app/dev`. */
  location: string
  /** `found`, `empty` (nothing there), `unavailable` (present but could not be read, e.g. a locked keychain), `skipped` (not applicable, or no keychain on this machine). */
  state: 'found' | 'empty' | 'unavailable' | 'skipped'
  /** Display start of the key found there (never the key). */
  start?: string
  /** Why the source could not be read. */
  reason?: string
}

/** A key chosen from the sources. */
export interface ResolvedKey {
  key: string
  source: KeySourceName
  location: string
}

/** Result of {@link locateKey}. */
export interface KeyLocation {
  /** The key that wins, if any. */
  chosen?: ResolvedKey
  /** Every place looked at, in precedence order. */
  sources: KeySourceReport[]
  /** Shadowing and conflict warnings (already worded for people). */
  warnings: string[]
}

/** Keychain naming: service `apikey:<server host>`, account `<app>/<env>`. */
export function keychainEntry(serverHost: string, app: string, env: string): {service: string; account: string} {
  return {service: `apikey:${serverHost}`, account: `${app}/${env}`}
}

/** Options of {@link locateKey}. */
export interface LocateKeyOptions {
  /** Key given on the command line. */
  argument?: string
  /** The project file, for the variable name, env file and keychain entry. */
  project?: FoundProjectFile
  /** Override of the env file path (relative to cwd). */
  envFile?: string
  /** Override of the variable name. */
  variable?: string
  /** Server host for the keychain entry name (from the resolved server). */
  serverHost?: string
  /** Stop after the first source that has a key (no shadowing report). Default false. */
  firstOnly?: boolean
}

/**
 * Looks in every source in order and reports each (never the key itself).
 * A keychain that is unavailable is reported as `unavailable` and skipped
 * quietly; a missing `.env` is not an error.
 */
export async function locateKey(deps: Deps, options: LocateKeyOptions): Promise<KeyLocation> {
  const variable = options.variable ?? options.project?.project.variable ?? DEFAULT_KEY_ENV_VAR
  const envFilePath = options.envFile
    ? resolve(deps.cwd, options.envFile)
    : options.project
      ? resolve(options.project.dir, options.project.project.envFile)
      : join(deps.cwd, '.env')
  const sources: KeySourceReport[] = []
  const values: Array<{report: KeySourceReport; key: string}> = []
  const record = (report: KeySourceReport, key?: string) => {
    if (key !== undefined && key !== '') {
      report.state = 'found'
      const start = parseKey(key).start
      if (start !== undefined) report.start = start
      values.push({report, key})
    }
    sources.push(report)
  }
  const done = () => options.firstOnly === true && values.length > 0

  record({source: 'argument', location: '--key / argument', state: options.argument === undefined ? 'empty' : 'found'}, options.argument)
  if (!done()) {
    const fromEnv = deps.env[variable]
    record({source: 'env', location: `environment variable ${variable}`, state: fromEnv === undefined || fromEnv === '' ? 'empty' : 'found'}, fromEnv || undefined)
  }
  if (!done()) {
    const report: KeySourceReport = {source: 'dotenv', location: `${envFilePath} (${variable})`, state: 'empty'}
    try {
      const {readDotenvVariable} = await import('../lib/dotenv/index.js')
      record(report, await readDotenvVariable(envFilePath, variable))
    } catch (error) {
      report.state = 'unavailable'
      report.reason = (error as Error).message
      record(report)
    }
  }
  if (!done()) {
    const app = options.project?.project.app
    const env = options.project?.project.env
    if (app === undefined || env === undefined || options.serverHost === undefined) {
      record({source: 'keychain', location: 'OS keychain', state: 'skipped', reason: 'no apikey.json here, so no keychain entry to look for'})
    } else {
      const entry = keychainEntry(options.serverHost, app, env)
      const report: KeySourceReport = {source: 'keychain', location: `OS keychain (service ${entry.service}, account ${entry.account})`, state: 'empty'}
      try {
        const keychain = await deps.keychain()
        record(report, (await keychain.get(entry.service, entry.account)) ?? undefined)
      } catch (error) {
        // No keychain on this machine at all (no D-Bus, no Secret Service): skip quietly.
        // Present but unreadable (locked, timed out): report it.
        const {isKeychainAbsent} = await import('../lib/keychain/index.js')
        report.state = isKeychainAbsent(error) ? 'skipped' : 'unavailable'
        report.reason = (error as Error).message
        record(report)
      }
    }
  }

  const warnings: string[] = []
  const [winner, ...others] = values
  for (const other of others) {
    if (other.key === winner!.key) continue
    warnings.push(
      `${describe(winner!.report)} shadows a different key in ${describe(other.report)} (${other.report.start ?? 'not a valid key'}); ${hint(winner!.report, variable)}`,
    )
  }
  // A stored key of another environment (or app) than apikey.json names: say so, it is easily missed.
  const project = options.project?.project
  if (project !== undefined) {
    for (const {report, key} of values) {
      if (report.source !== 'dotenv' && report.source !== 'keychain') continue
      const parsed = parseKey(key)
      if (!parsed.valid) continue
      if (parsed.env !== project.env || parsed.app !== project.app) {
        const what = parsed.app === project.app ? `a ${parsed.env} key` : `a ${parsed.env} key of app ${parsed.app}`
        warnings.push(
          `${describe(report)} holds ${what} (${parsed.start}) but apikey.json says app ${project.app}, env ${project.env}: get a ${project.env} key with apikey init --replace, or change "env" in apikey.json`,
        )
      }
    }
  }
  const chosen = winner === undefined ? undefined : {key: winner.key, source: winner.report.source, location: winner.report.location}
  return {...(chosen ? {chosen} : {}), sources, warnings}
}

function describe(report: KeySourceReport): string {
  return report.source === 'argument' ? 'the key given on the command line' : report.location
}

function hint(report: KeySourceReport, variable: string): string {
  switch (report.source) {
    case 'env':
      return `unset ${variable} to use the stored key`
    case 'dotenv':
      return 'remove it from the .env file to use the keychain entry'
    default:
      return 'the first one is used'
  }
}
