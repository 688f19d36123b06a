/**
 * `apikey keys create`: issue one more key for an app (a test, stage, prod or
 * ci key, or a second dev key), shown once or stored through the same safe
 * writer as `apikey init`.
 */
import {relative, resolve} from 'node:path'
import {usageError} from '../../core/errors.js'
import {isKeyEnvironment, KEY_ENVIRONMENTS, parseKey, type KeyEnvironment} from '../../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR, type KeyKind, type KeyMetadata} from '../../core/wire.js'
import type {Deps} from '../../lib/deps.js'
import type {FoundProjectFile} from '../../lib/project-file.js'
import {VARIABLE_PATTERN, type KeyStore} from '../../lib/project-file.js'
import {durationFlag, resolveApp, signedInApi, withFlagNames} from '../common.js'
import {describeStoredKey, endReplacedKey, INIT_GRACE, replacedKeyMessage, type ReplacedKey, type StoredKeyFacts} from '../replaced-key.js'
import {prepareKeyStore, unstoredKeyError, writeKeyToStore, type PreparedStore, type StoredKey} from '../store-key.js'

/** Input of {@link createKey} (the flags of `apikey keys create`). */
export interface CreateKeyInput {
  app?: string
  env?: string
  /** `--expires-in` as given, e.g. `30d`. */
  expiresIn?: string
  name?: string
  store?: KeyStore
  envFile?: string
  variable?: string
  /** Consent to add the env file to `.gitignore`. */
  yes: boolean
  /** `--replace`: overwrite a different key already stored at the target. */
  replace?: boolean
  /** `--grace` as given: how long a replaced key of yours keeps working; default {@link INIT_GRACE}. */
  grace?: string
  noGitignore: boolean
  server?: string
  timeoutMs: number
}

/** Result of {@link createKey}; the `--json` output of `apikey keys create`. */
export interface CreateKeyResult {
  server: string
  app: string
  id: string
  start: string
  env: KeyEnvironment
  kind: KeyKind
  name: string | null
  createdAt: number
  expiresAt: number | null
  /** Where the key was stored, or null when it is only printed. */
  stored: StoredKey | null
  /** The key itself — present only when it was not stored (it is shown this once). */
  key?: string
  /**
   * With a stored key: whether `apikey whoami` and `apikey run` find it without flags
   * (`byDefault`), and else the commands that use it (null when no flag selects it: a
   * keychain entry of another app or environment than apikey.json's).
   */
  lookup?: {byDefault: boolean; whoami: string | null; run: string | null}
  /** The key the new one replaced at the store (`--replace`), and what became of it. */
  replaced?: ReplacedKey
  warnings: string[]
}

/**
 * Whether `whoami` and `run` (which read `--var`/apikey.json "variable"/API_KEY, the
 * project's env file and the keychain entry of apikey.json's app and env) find a key stored
 * at `prepared`, and the commands that do when they do not.
 */
export function lookupOf(cwd: string, project: FoundProjectFile | undefined, prepared: PreparedStore, app: string, env: KeyEnvironment): NonNullable<CreateKeyResult['lookup']> {
  if (prepared.store === 'keychain') {
    const byDefault = project?.project.app === app && project.project.env === env
    return {byDefault, whoami: byDefault ? 'apikey whoami' : null, run: byDefault ? 'apikey run -- CMD' : null}
  }
  const defaultVariable = project?.project.variable ?? DEFAULT_KEY_ENV_VAR
  const defaultPath = project ? resolve(project.dir, project.project.envFile) : resolve(cwd, '.env')
  const flags: string[] = []
  if (prepared.variable !== defaultVariable) flags.push(`--var ${prepared.variable}`)
  if (resolve(prepared.path) !== defaultPath) flags.push(`--dotenv-file ${relative(cwd, prepared.path) || prepared.path}`)
  const extra = flags.map((f) => ` ${f}`).join('')
  return {byDefault: flags.length === 0, whoami: `apikey whoami${extra}`, run: `apikey run${extra} -- CMD`}
}

/** The kind a key of `env` gets: dev keys are personal, ci keys per build, the rest service keys. */
export function kindForEnv(env: KeyEnvironment): KeyKind {
  return env === 'dev' ? 'dev' : env === 'ci' ? 'ci' : 'service'
}

/**
 * Issues a key; with `store` it is stored (checks before issuing), otherwise returned once.
 * @throws ApikeyError `usage` (2) for bad flags (naming the flag and rule); `not_signed_in` (4);
 *   `unsafe` (5) when the env file is tracked or may not be protected; `forbidden` (1) for another team's app.
 */
export async function createKey(deps: Deps, input: CreateKeyInput): Promise<CreateKeyResult> {
  const project = await deps.project()
  const envText = input.env ?? project?.project.env
  if (envText === undefined) throw usageError('--env is required outside a project', [`pass --env ${KEY_ENVIRONMENTS.join('|')}`], {flag: '--env'})
  if (!isKeyEnvironment(envText)) throw usageError(`--env "${envText}" must be one of ${KEY_ENVIRONMENTS.join(', ')}`, [], {flag: '--env'})
  const env = envText
  const expiresInMs = input.expiresIn === undefined ? undefined : durationFlag('--expires-in', input.expiresIn)
  const graceMs = durationFlag('--grace', input.grace ?? INIT_GRACE, {allowZero: true})
  if (input.variable !== undefined && !VARIABLE_PATTERN.test(input.variable)) throw usageError(`--var "${input.variable}" is not a valid environment variable name`, [], {flag: '--var'})
  if (input.name !== undefined && (input.name.trim() === '' || input.name.length > 100)) throw usageError('--name must be 1–100 characters', [], {flag: '--name'})
  const app = await resolveApp(deps, input.app)
  const {api, server} = await signedInApi(deps, input)
  const warnings: string[] = []

  const prepared =
    input.store === undefined
      ? undefined
      : await (async () => {
          const variable = input.variable ?? project?.project.variable ?? (await api.meta()).keyEnvVar
          const envPath = input.envFile !== undefined ? resolve(deps.cwd, input.envFile) : resolve(project?.dir ?? deps.cwd, project?.project.envFile ?? '.env')
          const mayEdit = input.yes
            ? true
            : deps.prompter.interactive
              ? () => deps.prompter.confirm({message: `${envPath} is not ignored by git. Add it to .gitignore?`, flag: '--yes', default: true})
              : false
          return prepareKeyStore(deps, {store: input.store!, envPath, variable, serverHost: server.host, app, env}, {mayEditGitignore: mayEdit, allowGitignoreEdit: !input.noGitignore}, warnings)
        })()

  let lookup: CreateKeyResult['lookup']
  let replacedFacts: StoredKeyFacts | undefined
  if (prepared !== undefined) {
    // Never overwrite a different stored key silently.
    const existing = await storedValue(deps, prepared)
    if (existing !== undefined) {
      const where = prepared.store === 'dotenv' ? `${prepared.variable} in ${prepared.path}` : `the keychain entry (service ${prepared.service}, account ${prepared.account})`
      const start = parseKey(existing).start ?? 'a value that is not a valid key'
      if (input.replace !== true) {
        throw usageError(`${where} already holds a key (${start}); it was not replaced and no key was issued`, [
          'pass --replace to replace it (an active key of yours for the same app and env is then ended after --grace, default 1h)',
          prepared.store === 'dotenv' ? 'or store the new key elsewhere: --dotenv-file PATH or --var NAME' : 'or print the new key instead: leave out --store',
        ], {flag: '--replace', stored: start})
      }
      replacedFacts = await describeStoredKey(api, existing)
    }
    lookup = lookupOf(deps.cwd, project, prepared, app, env)
    const projectEnv = project?.project.env
    if (!lookup.byDefault) {
      const where =
        prepared.store === 'keychain'
          ? `the keychain entry of apikey.json's app and env${project ? ` (${project.project.app}/${project.project.env})` : ''}`
          : `${project?.project.variable ?? DEFAULT_KEY_ENV_VAR} in ${relative(deps.cwd, project ? resolve(project.dir, project.project.envFile) : resolve(deps.cwd, '.env')) || '.env'}`
      warnings.push(
        lookup.run === null
          ? `apikey whoami and apikey run read ${where}, so they will not use this key`
          : `apikey whoami and apikey run read ${where}, not this key; to use it: ${lookup.run}, ${lookup.whoami}`,
      )
    } else if (projectEnv !== undefined && projectEnv !== env) {
      warnings.push(`the new key is a ${env} key but apikey.json "env" is ${projectEnv}: commands that read the project's key (whoami, run) will use this ${env} key from now on`)
    }
  }

  const metadata: KeyMetadata = env === 'dev' ? {hostname: deps.hostname} : {}
  const issued = await withFlagNames(
    api.createKey(app, {
      env,
      kind: kindForEnv(env),
      ...(input.name === undefined ? {} : {name: input.name}),
      ...(expiresInMs === undefined ? {} : {expiresAt: deps.now() + expiresInMs}),
      metadata,
    }),
    {expiresAt: '--expires-in', name: '--name', env: '--env'},
  )
  let stored: StoredKey | null = null
  if (prepared !== undefined) {
    try {
      stored = await writeKeyToStore(deps, prepared, issued.key)
    } catch (error) {
      throw unstoredKeyError(issued, error, `fix the cause, then revoke it (apikey keys revoke ${issued.id} --yes) and create another`)
    }
  }
  // The replaced key is stored nowhere any more: end it as init does (or name it with the command that ends it).
  let replaced: ReplacedKey | undefined
  if (stored !== null && replacedFacts !== undefined) {
    const username = (await api.me()).user.username
    replaced = await endReplacedKey(api, replacedFacts, {id: issued.id, app, env, username, graceMs})
    warnings.push(replacedKeyMessage(replaced, (ms, preposition) => deps.time(ms, 'stderr', preposition), input.grace !== undefined))
  }
  return {
    server: server.url,
    app,
    id: issued.id,
    start: issued.start,
    env: issued.env,
    kind: issued.kind,
    name: issued.name,
    createdAt: issued.createdAt,
    expiresAt: issued.expiresAt,
    stored,
    ...(stored === null ? {key: issued.key} : {}),
    ...(stored === null || lookup === undefined ? {} : {lookup}),
    ...(replaced === undefined ? {} : {replaced}),
    warnings,
  }
}

/** The value already stored at a prepared target, or undefined when there is none. */
async function storedValue(deps: Deps, prepared: PreparedStore): Promise<string | undefined> {
  if (prepared.store === 'dotenv') {
    const {readDotenvVariable} = await import('../../lib/dotenv/index.js')
    const value = await readDotenvVariable(prepared.path, prepared.variable)
    return value === undefined || value === '' ? undefined : value
  }
  const keychain = await deps.keychain()
  const value = await keychain.get(prepared.service, prepared.account)
  return value === null || value === '' ? undefined : value
}
