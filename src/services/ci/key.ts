/**
 * `apikey ci key`: a per-build key for a CI job, without a person.
 *
 * Authenticated by an app-scoped provisioning token in `APIKEY_TOKEN`
 * (`apikey tokens create --app APP --scope ci`); the server from `--server`,
 * `APIKEY_SERVER` or `apikey.json`. No prompt, keychain or config file is
 * used: credentials resolve from the environment first. The key is
 * tagged with the build's metadata and delivered to exactly one place:
 * `$GITHUB_ENV`, a gitignored `.env`, JSON on stdout, or the bare key.
 */
import {randomBytes} from 'node:crypto'
import {access, appendFile, constants, readFile, stat} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {ApikeyError, usageError} from '../../core/errors.js'
import type {KeyEnvironment} from '../../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR, type KeyKind, type KeyMetadata} from '../../core/wire.js'
import {maskSecret} from '../../lib/api/redact.js'
import type {Deps} from '../../lib/deps.js'
import {VARIABLE_PATTERN} from '../../lib/project-file.js'
import {durationFlag, resolveApp, withFlagNames} from '../common.js'
import {noServerError, resolveServer} from '../server-url.js'
import {prepareKeyStore, unstoredKeyError, writeKeyToStore, type StoredKey} from '../store-key.js'
import {detectBuildMetadata, type MetadataSource} from './metadata.js'

/** Where `apikey ci key` delivers the key. */
export type CiOutput = 'github-env' | 'dotenv' | 'json' | 'raw'

/** Every {@link CiOutput} as a flag value (`raw` is `--raw`). */
export const CI_OUTPUTS = ['github-env', 'dotenv', 'json'] as const

/** Input of {@link ciKey} (the flags of `apikey ci key`). */
export interface CiKeyInput {
  app?: string
  server?: string
  output?: (typeof CI_OUTPUTS)[number]
  raw: boolean
  envFile?: string
  variable?: string
  /** `--version` of the build; default package.json's. */
  version?: string
  name?: string
  expiresIn?: string
  /** Consent to add the env file to `.gitignore` (`--output dotenv`). */
  yes: boolean
  timeoutMs: number
}

/** Result of {@link ciKey}; the `--json` output of `apikey ci key` (the key itself only with `--output json` / `--raw`). */
export interface CiKeyResult {
  server: string
  app: string
  /** Variable the key is delivered as (`API_KEY` by default). */
  variable: string
  id: string
  start: string
  env: KeyEnvironment
  kind: KeyKind
  name: string | null
  expiresAt: number | null
  metadata: KeyMetadata
  /** Where each metadata value came from. */
  metadataSources: Partial<Record<keyof KeyMetadata, MetadataSource>>
  output:
    | {type: 'github-env'; file: string}
    | {type: 'dotenv'; stored: StoredKey}
    | {type: 'json'}
    | {type: 'raw'}
  /** The key: present only for `--output json` and `--raw`. */
  key?: string
  warnings: string[]
}

/** Longest build metadata value the service stores, in characters. */
export const MAX_METADATA_LENGTH = 500

/** Variables `--var` may not name: they change how programs, the shell or the CI runner behave. */
export const DANGEROUS_VARIABLES = ['PATH', 'NODE_OPTIONS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'HOME', 'SHELL'] as const
/** Prefixes of variables owned by CI runners. */
export const DANGEROUS_VARIABLE_PREFIXES = ['GITHUB_', 'RUNNER_', 'CI_'] as const
/** The rule, in words, for messages. */
export const VARIABLE_RULE = `not one of ${DANGEROUS_VARIABLES.join(', ')} and not starting with ${DANGEROUS_VARIABLE_PREFIXES.join(', ')} (they would change how later steps or the runner behave)`

/** Refuses a variable name that would hijack later steps (e.g. PATH, NODE_OPTIONS, GITHUB_*). @throws ApikeyError `usage` naming the flag and the rule. */
export function refuseDangerousVariable(name: string, flag: string): void {
  const upper = name.toUpperCase()
  if ((DANGEROUS_VARIABLES as readonly string[]).includes(upper) || DANGEROUS_VARIABLE_PREFIXES.some((p) => upper.startsWith(p))) {
    throw usageError(`${flag} "${name}" cannot hold the key: the variable must be ${VARIABLE_RULE}`, [`e.g. ${flag === '--var' ? `--var ${DEFAULT_KEY_ENV_VAR}` : `"variable": "${DEFAULT_KEY_ENV_VAR}"`}`], {flag})
  }
}

/**
 * Checks, before a key is issued, that `$GITHUB_ENV` can be appended to: its
 * directory exists and the file is writable (or can be created there).
 * @throws ApikeyError `usage` (exit 2) naming $GITHUB_ENV and the reason.
 */
export async function preflightGithubEnv(file: string): Promise<void> {
  const refuse = (why: string): never => {
    throw usageError(`--output github-env: $GITHUB_ENV (${file}) ${why}; no key was issued`, ['run this as a step of a GitHub Actions job (the runner sets GITHUB_ENV to a writable file)', 'elsewhere use --output dotenv, --output json or --raw'], {flag: '--output', envVar: 'GITHUB_ENV'})
  }
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : refuse(`cannot be examined (${error.code ?? error.message})`)))
  if (info !== undefined) {
    if (!info.isFile()) refuse('is not a regular file')
    await access(file, constants.W_OK).catch((error: NodeJS.ErrnoException) => refuse(`is not writable (${error.code ?? error.message})`))
    return
  }
  const dir = dirname(file)
  const dirInfo = await stat(dir).catch(() => undefined)
  if (dirInfo === undefined || !dirInfo.isDirectory()) refuse(`cannot be created: its directory ${dir} does not exist`)
  await access(dir, constants.W_OK).catch((error: NodeJS.ErrnoException) => refuse(`cannot be created: its directory ${dir} is not writable (${error.code ?? error.message})`))
}

/** `ci key` has no `--store`: suggestions of the shared .env writer that say `--store keychain` are replaced. */
function stripStoreSuggestions(error: unknown): unknown {
  if (!(error instanceof ApikeyError) || !error.suggestions.some((s) => s.includes('--store'))) return error
  const suggestions = error.suggestions.filter((s) => !s.includes('--store'))
  suggestions.push('or keep the key off disk: --output github-env (GitHub Actions), or export API_KEY="$(npx --no -- apikey ci key --raw)"')
  return new ApikeyError(error.message, {code: error.code, exitCode: error.exitCode, suggestions, details: error.details, cause: error})
}

async function withoutStoreSuggestions<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    throw stripStoreSuggestions(error)
  }
}

/**
 * The service's suggestions for a rejected provisioning token name raw API
 * routes (`POST /v1/tokens`); the CLI names the command. A token of another
 * app (the service names it in the problem's `app` member) gets the two ways out: a key of
 * the token's own app, or a token of this app from its team.
 */
async function withProvisioningSuggestions<T>(work: Promise<T>, app: string): Promise<T> {
  try {
    return await work
  } catch (error) {
    const extensions = error instanceof ApikeyError ? ((error.details['extensions'] ?? {}) as Record<string, unknown>) : {}
    if (error instanceof ApikeyError && error.code === 'forbidden' && extensions['credential'] === 'provisioning_token') {
      const tokenApp = typeof extensions['app'] === 'string' ? extensions['app'] : undefined
      if (tokenApp !== undefined && tokenApp !== app) {
        throw new ApikeyError(error.message, {
          code: error.code,
          exitCode: error.exitCode,
          suggestions: [
            `this token issues keys of app ${tokenApp} only: apikey ci key --app ${tokenApp}`,
            `for app ${app}, a member of its team creates a provisioning token: apikey tokens create --app ${app} --scope ci, stored as this job's APIKEY_TOKEN secret`,
          ],
          details: error.details,
          cause: error,
        })
      }
    }
    if (!(error instanceof ApikeyError) || !error.suggestions.some((s) => /\/v1\/|tokens create --app APP/.test(s))) throw error
    const suggestions = error.suggestions.map((s) =>
      /POST \/v1\/tokens|tokens create --app APP/.test(s) ? `ask a member of the app's team for a new provisioning token: apikey tokens create --app ${app} --scope ci` : s,
    )
    throw new ApikeyError(error.message, {code: error.code, exitCode: error.exitCode, suggestions, details: error.details, cause: error})
  }
}

/**
 * `::add-mask::` workflow commands for a secret, one per line of it (GitHub
 * masks per line). Empty lines are skipped.
 */
export function maskCommands(secret: string): string[] {
  return secret
    .split(/\r\n|\r|\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => `::add-mask::${line}`)
}

/**
 * The text appended to `$GITHUB_ENV` for one variable: `NAME=value`, or the
 * heredoc form with a random delimiter when the value has a line break
 * (GitHub Actions "Multiline strings").
 */
export function githubEnvEntry(name: string, value: string): string {
  if (!/[\r\n]/.test(value)) return `${name}=${value}\n`
  let delimiter: string
  do delimiter = `ghadelimiter_${randomBytes(12).toString('hex')}`
  while (value.includes(delimiter))
  return `${name}<<${delimiter}\n${value}\n${delimiter}\n`
}

/**
 * Issues and delivers a per-build key. Returns the `--json` result and,
 * separately, the key (`secret`) for the caller's `::add-mask::` lines.
 * @throws ApikeyError `usage` (2) without an output choice (naming the options), without a
 *   server or app, for bad flags, or `--output github-env` outside GitHub Actions;
 *   `not_signed_in` (4) without `APIKEY_TOKEN`; `unauthenticated` (4) for a rejected token;
 *   `forbidden` (1) for a token of another app; `unsafe` (5) for an unprotected `.env`.
 */
export async function ciKey(deps: Deps, input: CiKeyInput): Promise<{result: CiKeyResult; secret: string}> {
  // 1. Everything that can be refused without the network.
  if (input.output !== undefined && input.raw) throw usageError('choose one of --output and --raw', [], {flag: '--output'})
  if (input.output === undefined && !input.raw) {
    throw usageError('where should the key go? choose --output github-env, --output dotenv, --output json, or --raw (bare key on stdout)', [
      'GitHub Actions: apikey ci key --output github-env',
      'GitLab CI / others: apikey ci key --output dotenv --yes',
    ], {flag: '--output'})
  }
  const output: CiOutput = input.raw ? 'raw' : input.output!
  if (input.variable !== undefined && !VARIABLE_PATTERN.test(input.variable)) throw usageError(`--var "${input.variable}" is not a valid environment variable name`, [], {flag: '--var'})
  if (input.variable !== undefined) refuseDangerousVariable(input.variable, '--var')
  const expiresInMs = input.expiresIn === undefined ? undefined : durationFlag('--expires-in', input.expiresIn)
  const githubEnv = deps.env.GITHUB_ENV
  if (output === 'github-env' && (githubEnv === undefined || githubEnv === '')) {
    throw usageError('--output github-env appends to the file named by $GITHUB_ENV, which is not set (it is set in GitHub Actions steps)', ['outside GitHub Actions use --output dotenv or --output json'], {flag: '--output'})
  }
  // The destination is checked before a key is issued.
  if (output === 'github-env') await preflightGithubEnv(resolve(deps.cwd, githubEnv!))
  const token = deps.env.APIKEY_TOKEN
  if (token === undefined || token === '') {
    throw new ApikeyError('APIKEY_TOKEN is not set: apikey ci key needs an app-scoped provisioning token', {
      code: 'not_signed_in',
      suggestions: ['create one: apikey tokens create --app APP --scope ci', 'store it as a masked CI secret and pass it as APIKEY_TOKEN'],
    })
  }
  const project = await deps.project()
  // No config file in CI: --server, APIKEY_SERVER or apikey.json only.
  const server = resolveServer(input.server, deps.env, project, {})
  if (server === undefined) throw usageError('no key service URL: pass --server or set APIKEY_SERVER (or commit apikey.json)', [], {flag: '--server'})
  const app = await resolveApp(deps, input.app)
  if (input.variable === undefined && project?.project.variable !== undefined) refuseDangerousVariable(project.project.variable, 'apikey.json "variable"')
  deps.debug(`ci: server ${server.url} (from ${server.source}), app ${app}, token from APIKEY_TOKEN (${maskSecret(token)})`)

  // 2. Build metadata.
  const {detectCiVendor} = await import('./vendor.js')
  const {runGit} = await import('../../lib/git/index.js')
  const git = async (args: string[]): Promise<string | undefined> => {
    try {
      const r = await runGit(args, {cwd: deps.cwd, env: deps.env as NodeJS.ProcessEnv, timeoutMs: 5000})
      return r.status === 0 ? r.stdout.trim() || undefined : undefined
    } catch {
      return undefined
    }
  }
  const detected = await detectBuildMetadata({env: deps.env, cwd: project?.dir ?? deps.cwd, ci: detectCiVendor(deps.env), git, ...(input.version === undefined ? {} : {version: input.version})})
  const warnings: string[] = []
  // Over-long values (a huge branch name, a generated version) are cut, not fatal to the job.
  for (const [field, value] of Object.entries(detected.metadata) as Array<[keyof KeyMetadata, string | undefined]>) {
    if (value !== undefined && value.length > MAX_METADATA_LENGTH) {
      detected.metadata[field] = `${value.slice(0, MAX_METADATA_LENGTH - 1)}…`
      warnings.push(`build metadata "${field}" is ${value.length} characters long; the service keeps at most ${MAX_METADATA_LENGTH}: it was shortened`)
    }
  }
  deps.debug(`ci: metadata ${JSON.stringify(detected.metadata)}`)

  const api = await deps.api({server: server.url, token, timeoutMs: input.timeoutMs})
  const variable = input.variable ?? project?.project.variable ?? (output === 'github-env' || output === 'dotenv' ? (await api.meta()).keyEnvVar : DEFAULT_KEY_ENV_VAR)

  // 3. Check the destination before issuing.
  const prepared =
    output === 'dotenv'
      ? await withoutStoreSuggestions(prepareKeyStore(
          deps,
          {
            store: 'dotenv',
            envPath: input.envFile !== undefined ? resolve(deps.cwd, input.envFile) : resolve(project?.dir ?? deps.cwd, project?.project.envFile ?? '.env'),
            variable,
            serverHost: server.host,
            app,
            env: 'ci',
          },
          {mayEditGitignore: input.yes, allowGitignoreEdit: true},
          warnings,
        ))
      : undefined

  // 4. Issue.
  const m = detected.metadata
  const name = input.name ?? `${m.ciProvider ?? 'ci'}${m.build ? ` #${m.build}` : ''}${m.commit ? ` @${m.commit.slice(0, 12)}` : ''}`.slice(0, 100)
  const issued = await withFlagNames(
    withProvisioningSuggestions(
      api.createKey(app, {
        env: 'ci',
        kind: 'ci',
        name,
        metadata: m,
        ...(expiresInMs === undefined ? {} : {expiresAt: deps.now() + expiresInMs}),
      }),
      app,
    ),
    {expiresAt: '--expires-in', name: '--name', 'metadata.version': '--version'},
  )

  // 5. Deliver.
  let delivered: CiKeyResult['output']
  try {
    if (output === 'github-env') {
      const file = githubEnv!
      const existing = await readFile(file, 'utf8').catch(() => '')
      const separator = existing === '' || existing.endsWith('\n') ? '' : '\n'
      await appendFile(file, separator + githubEnvEntry(variable, issued.key), {mode: 0o600})
      delivered = {type: 'github-env', file}
    } else if (output === 'dotenv') {
      delivered = {type: 'dotenv', stored: await writeKeyToStore(deps, prepared!, issued.key)}
    } else delivered = {type: output}
  } catch (error) {
    // A provisioning token can only issue keys (not revoke them): say when the undelivered key stops working.
    const stripped = stripStoreSuggestions(error)
    throw unstoredKeyError(
      issued,
      stripped,
      `fix the cause and run the job again; the undelivered key ${issued.id} cannot be revoked with a provisioning token and expires on its own ${deps.time(issued.expiresAt, 'stderr', 'at')} (a member of the app's team can revoke it sooner: apikey keys revoke ${issued.id} --yes)`,
    )
  }
  const result: CiKeyResult = {
    server: server.url,
    app,
    variable,
    id: issued.id,
    start: issued.start,
    env: issued.env,
    kind: issued.kind,
    name: issued.name,
    expiresAt: issued.expiresAt,
    metadata: issued.metadata,
    metadataSources: detected.sources,
    output: delivered,
    ...(output === 'json' || output === 'raw' ? {key: issued.key} : {}),
    warnings,
  }
  return {result, secret: issued.key}
}
