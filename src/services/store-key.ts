/**
 * Storing an API key safely, shared by `apikey init`,
 * `apikey keys create --store`, `apikey keys rotate` (update in place) and
 * `apikey ci key --output dotenv`.
 *
 * Two steps, so that every check that can refuse runs BEFORE a key is issued:
 * {@link prepareKeyStore} asks git (tracked → refuse, exit 5; not ignored → add
 * the narrowest rule with consent) or probes the keychain; then
 * {@link writeKeyToStore} writes through the locked, atomic, read-back `.env`
 * editor or the time-boxed keychain.
 */
import {access, constants, realpath, stat} from 'node:fs/promises'
import {dirname} from 'node:path'
import {ApikeyError} from '../core/errors.js'
import type {Deps} from '../lib/deps.js'
import type {KeyStore} from '../lib/project-file.js'
import {keychainEntry} from './key-sources.js'

/** Where a key was stored (part of the `--json` output of init, keys create/rotate, ci key). */
export type StoredKey =
  | {
      store: 'dotenv'
      /** Absolute path of the env file. */
      path: string
      variable: string
      change: 'added' | 'updated' | 'unchanged'
      created: boolean
      git: {state: string; addedRule?: {file: string; line: string}}
    }
  | {store: 'keychain'; service: string; account: string}

/** What {@link prepareKeyStore} needs to know. */
export interface StoreTarget {
  store: KeyStore
  /** Absolute path of the env file (for `dotenv`). */
  envPath: string
  /** Variable name in the env file (for `dotenv`). */
  variable: string
  /** Server host for the keychain entry name (`apikey:<host>`). */
  serverHost: string
  /** App slug and key environment for the keychain account (`<app>/<env>`). */
  app: string
  env: string
}

/** Consent to edit `.gitignore` (see `ensureIgnored`). */
export interface GitignoreConsent {
  /** `true` (`--yes` or an earlier choice), `false` (no TTY), or a question asked only when a rule is needed. */
  mayEditGitignore: boolean | (() => Promise<boolean>)
  /** `false` for `--no-gitignore`: never edit it, refuse instead. */
  allowGitignoreEdit: boolean
}

/** A store that passed its checks and can be written. */
export type PreparedStore =
  | {store: 'dotenv'; path: string; variable: string; git: {state: string; addedRule?: {file: string; line: string}}}
  | {store: 'keychain'; service: string; account: string}

/**
 * Checks that a key can be stored at `target` without risk, before issuing it.
 * Warnings (not a repository, personal-only ignore rules…) are appended to `warnings`.
 * @throws ApikeyError `unsafe` (exit 5) when the env file is tracked by git or
 *   may not be protected; `keychain_unavailable` (exit 1) when the keychain
 *   cannot be used; `io` when `.gitignore` cannot be written.
 */
export async function prepareKeyStore(deps: Deps, target: StoreTarget, consent: GitignoreConsent, warnings: string[]): Promise<PreparedStore> {
  if (target.store === 'dotenv') {
    const {ensureIgnored} = await import('../lib/git/index.js')
    // git sees the command's environment (HOME, GIT_CONFIG_*: the user's ignore rules), not whatever process runs it.
    const options = {cwd: deps.cwd, env: deps.env as NodeJS.ProcessEnv, mayEditGitignore: consent.mayEditGitignore, allowGitignoreEdit: consent.allowGitignoreEdit}
    const safety = await ensureIgnored(target.envPath, options)
    warnings.push(...safety.warnings)
    // The writer follows a symbolic link: the file it really writes must be safe too.
    const real = await realpath(target.envPath).catch(() => target.envPath)
    if (real !== target.envPath) {
      const targetSafety = await ensureIgnored(real, options)
      warnings.push(...targetSafety.warnings)
      if (targetSafety.verdict.state === 'not-a-repo') warnings.push(`${target.envPath} is a link to ${real}, outside any git repository`)
    }
    await preflightDotenv(target.envPath, target.variable, warnings)
    const git = {state: safety.verdict.state, ...(safety.addedRule ? {addedRule: {file: safety.addedRule.file, line: safety.addedRule.line}} : {})}
    return {store: 'dotenv', path: target.envPath, variable: target.variable, git}
  }
  const keychain = await deps.keychain()
  const probe = await keychain.probe()
  if (!probe.available) {
    throw new ApikeyError(`the OS keychain is not available here: ${probe.message}`, {
      code: 'keychain_unavailable',
      suggestions: ['use --store dotenv   (a gitignored .env, checked with git)'],
    })
  }
  return {store: 'keychain', ...keychainEntry(target.serverHost, target.app, target.env)}
}

/**
 * Writes `key` to a prepared store: a line-level, locked, atomic, read-back
 * `.env` edit, or a keychain entry that is read back.
 * @throws ApikeyError `io`, `conflict`, `unsafe` from the `.env` writer;
 *   `keychain_unavailable` / `keychain_error` from the keychain.
 */
export async function writeKeyToStore(deps: Deps, prepared: PreparedStore, key: string): Promise<StoredKey> {
  if (prepared.store === 'dotenv') {
    const {writeDotenvVariable} = await import('../lib/dotenv/index.js')
    const written = await writeDotenvVariable(prepared.path, prepared.variable, key)
    for (const w of written.warnings) deps.warn(w)
    return {store: 'dotenv', path: prepared.path, variable: prepared.variable, change: written.change, created: written.created, git: prepared.git}
  }
  const keychain = await deps.keychain()
  await keychain.set(prepared.service, prepared.account, key)
  return {store: 'keychain', service: prepared.service, account: prepared.account}
}

/**
 * The error for a key that was issued but could not be stored: it exists on
 * the service and nobody has it, so the message names it and the way out.
 * @param issued - id and display start of the issued key (never the key).
 * @param retry - what to run after fixing the cause.
 */
export function unstoredKeyError(issued: {id: string; start: string}, error: unknown, retry: string): ApikeyError {
  const e = error instanceof ApikeyError ? error : new ApikeyError((error as Error).message, {code: 'io', cause: error})
  return new ApikeyError(`key ${issued.id} (${issued.start}) was issued but could not be stored: ${e.message}`, {
    code: e.code,
    exitCode: e.exitCode,
    suggestions: [...e.suggestions, retry],
    cause: error,
  })
}

/**
 * Checks, before a key is issued, that the env file can be read and written:
 * not a directory, decodable, its directory writable; warns when an existing
 * file is readable by other users. (A lock held by a concurrent `apikey init`
 * is waited for by the writer, not refused here.)
 * @throws ApikeyError `io` naming the file and the reason.
 */
async function preflightDotenv(envPath: string, variable: string, warnings: string[]): Promise<void> {
  const {readDotenvVariable} = await import('../lib/dotenv/index.js')
  await readDotenvVariable(envPath, variable)
  try {
    await access(dirname(envPath), constants.W_OK)
  } catch (error) {
    throw new ApikeyError(`cannot write ${envPath}: its directory is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      code: 'io',
      suggestions: ['fix the directory permissions, or choose another file with --dotenv-file, or use --store keychain'],
    })
  }
  const info = await stat(envPath).catch(() => undefined)
  if (info !== undefined && (info.mode & 0o077) !== 0) {
    warnings.push(`${envPath} is readable by other users (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); its mode is kept: run chmod 600 ${envPath}`)
  }
}
