/**
 * `apikey keys rotate`: issue a replacement key; the old one keeps working
 * until the end of a grace period (rotation with an overlap).
 *
 * Run inside the project, when a stored copy of the key (the project's `.env`
 * or the keychain entry) IS the rotated key, the new key replaces it in place
 * through the same safe writer as `apikey init` — otherwise the new key is
 * returned once, to be stored by the caller.
 */
import {resolve} from 'node:path'
import {ApikeyError} from '../../core/errors.js'
import {parseKey} from '../../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR, type AppView, type KeyRotation, type KeyView} from '../../core/wire.js'
import type {Deps} from '../../lib/deps.js'
import {durationFlag, signedInApi, withFlagNames, withListCommand} from '../common.js'
import {keychainEntry} from '../key-sources.js'
import {refuseSecret} from '../secret-args.js'
import {prepareKeyStore, writeKeyToStore, type PreparedStore, type StoredKey} from '../store-key.js'

/** Input of {@link rotateKey}. */
export interface RotateKeyInput {
  id: string
  /** `--grace` as given (`24h`, `0`); default: the service's default. */
  grace?: string
  /** Consent to add the env file to `.gitignore` when updating it. */
  yes: boolean
  server?: string
  timeoutMs: number
}

/** Result of {@link rotateKey}; the `--json` output of `apikey keys rotate`. */
export interface RotateKeyResult {
  server: string
  app: {slug: string; team: string}
  /** The old key: still valid until `rotation.graceEndsAt` (ms since epoch). */
  oldKey: KeyView & {rotation: KeyRotation}
  /** The replacement, without its secret. */
  newKey: KeyView
  /** Local copies of the old key that now hold the new key. */
  updated: StoredKey[]
  /** Local copies of the old key that were found but could not be (safely) updated: where they are. */
  notUpdated: string[]
  /** The new key itself — present only when no local copy was updated (shown this once). */
  key?: string
  warnings: string[]
}

/** A local copy of the key being rotated. */
interface LocalCopy {
  prepared: PreparedStore
}

/**
 * Rotates a key.
 * @throws ApikeyError `usage` (2) for a bad `--grace`; `not_signed_in` (4);
 *   `not_found` (1) for an unknown id; `forbidden` (1) naming the owning team.
 */
export async function rotateKey(deps: Deps, input: RotateKeyInput): Promise<RotateKeyResult> {
  refuseSecret(input.id, 'key id', 'KEY_ID')
  const graceMs = input.grace === undefined ? undefined : durationFlag('--grace', input.grace, {allowZero: true})
  const {api, server} = await signedInApi(deps, input)
  const before = await withListCommand(deps, 'keys', async () => api.getKey(input.id))
  const warnings: string[] = []
  const notUpdated: string[] = []
  const copies = await findLocalCopies(deps, before.key, before.app, server.host, warnings, input.yes, notUpdated)
  // A copy is identified by its display start, then confirmed by the service (the key authenticates itself).
  const confirmed: LocalCopy[] = []
  for (const copy of copies) {
    try {
      const who = await api.whoamiKey(copy.key)
      if (who.key.id === before.key.id) confirmed.push({prepared: copy.prepared})
    } catch {
      // Not this key (or not valid any more): leave it alone.
    }
  }

  const answer = await withListCommand(deps, 'keys', async () => withFlagNames(api.rotateKey(input.id, graceMs === undefined ? {} : {graceMs}), {graceMs: '--grace'}))
  const updated: StoredKey[] = []
  for (const copy of confirmed) {
    try {
      updated.push(await writeKeyToStore(deps, copy.prepared, answer.newKey.key))
    } catch (error) {
      const where = copy.prepared.store === 'dotenv' ? copy.prepared.path : `the keychain (${copy.prepared.service} ${copy.prepared.account})`
      warnings.push(`could not update ${where}: ${(error as Error).message}`)
      notUpdated.push(where)
    }
  }
  const project = await deps.project()
  const variable = project?.project.variable ?? DEFAULT_KEY_ENV_VAR
  const envValue = deps.env[variable]
  if (envValue !== undefined && envValue !== '' && parseKey(envValue).start === before.key.start) {
    warnings.push(`${variable} in your environment still holds the old key; it stops working ${deps.time(answer.oldKey.rotation.graceEndsAt, 'stderr', 'at')}: update it`)
  }
  const {key: secret, ...newKey} = answer.newKey
  return {
    server: server.url,
    app: {slug: before.app.slug, team: before.app.team.slug},
    oldKey: answer.oldKey,
    newKey,
    updated,
    notUpdated,
    ...(updated.length === 0 ? {key: secret} : {}),
    warnings,
  }
}

/**
 * Stored copies (project `.env`, keychain entry) whose display start matches
 * the key being rotated, each already checked for a safe write.
 */
async function findLocalCopies(
  deps: Deps,
  key: KeyView,
  app: AppView,
  serverHost: string,
  warnings: string[],
  yes: boolean,
  notUpdated: string[],
): Promise<Array<{key: string; prepared: PreparedStore}>> {
  const project = await deps.project()
  if (project === undefined || project.project.app !== app.slug) return []
  const variable = project.project.variable
  const found: Array<{key: string; prepared: PreparedStore}> = []
  const envPath = resolve(project.dir, project.project.envFile)
  const {readDotenvVariable} = await import('../../lib/dotenv/index.js')
  const inDotenv = await readDotenvVariable(envPath, variable).catch(() => undefined)
  if (inDotenv !== undefined && parseKey(inDotenv).start === key.start) {
    try {
      const prepared = await prepareKeyStore(
        deps,
        {store: 'dotenv', envPath, variable, serverHost, app: app.slug, env: key.env},
        {mayEditGitignore: yes ? true : deps.prompter.interactive ? () => deps.prompter.confirm({message: `${envPath} is not ignored by git. Add it to .gitignore?`, flag: '--yes', default: true}) : false, allowGitignoreEdit: true},
        warnings,
      )
      found.push({key: inDotenv, prepared})
    } catch (error) {
      if (!(error instanceof ApikeyError)) throw error
      warnings.push(`${envPath} holds the old key but is not safe to write (${error.message}); the new key is printed instead`)
      notUpdated.push(envPath)
    }
  }
  const entry = keychainEntry(serverHost, app.slug, key.env)
  if (project.project.store === 'keychain' || found.length === 0) {
    try {
      const keychain = await deps.keychain()
      const inKeychain = await keychain.get(entry.service, entry.account)
      if (inKeychain !== null && parseKey(inKeychain).start === key.start) found.push({key: inKeychain, prepared: {store: 'keychain', ...entry}})
    } catch {
      // No keychain here: nothing to update in it.
    }
  }
  return found
}
