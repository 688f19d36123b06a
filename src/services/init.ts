/**
 * `apikey init`: in one command, sign in, register or find the app, issue this
 * developer's own key, store it where it cannot be committed (a gitignored
 * `.env`, verified by git itself, or the OS keychain) and write the
 * secret-free `apikey.json` for teammates (design §1, §6).
 *
 * Order matters for safety: every check that can refuse (flags, git, keychain
 * probe) runs before the key is issued, so a refusal leaves no orphan key and
 * nothing half-written.
 */
import {access, constants} from 'node:fs/promises'
import {dirname, join, relative, resolve} from 'node:path'
import {ApikeyError, usageError} from '../core/errors.js'
import {isKeyEnvironment, isValidSlug, KEY_ENVIRONMENTS, SLUG_RULE, type KeyEnvironment} from '../core/key-format.js'
import {isValidAppName, isValidEmail} from '../core/validation.js'
import type {AppView, MeResponse} from '../core/wire.js'
import type {ApiClient} from '../lib/api/client.js'
import type {Deps} from '../lib/deps.js'
import {PROJECT_FILE_NAME, VARIABLE_PATTERN, writeProjectFile, type KeyStore, type ProjectFile} from '../lib/project-file.js'
import {prepareKeyStore, unstoredKeyError, writeKeyToStore, type StoredKey} from './store-key.js'
import {guessAppSlugs, titleFromSlug} from './project-guess.js'
import {noServerError, normaliseServerUrl, resolveServer, type ResolvedServer} from './server-url.js'
import {currentSession, login, notSignedIn} from './session.js'

/** Input of {@link init} (the flags of `apikey init`). */
export interface InitInput {
  server?: string
  app?: string
  name?: string
  team?: string
  contact?: string
  description?: string
  env?: string
  store?: KeyStore
  envFile?: string
  variable?: string
  /** Consent to edit `.gitignore` without asking. */
  yes: boolean
  /** Never edit `.gitignore` (refuse instead when the env file is not ignored). */
  noGitignore: boolean
  timeoutMs: number
}

/** Where the key was stored (see `services/store-key.ts`). */
export type {StoredKey} from './store-key.js'

/** Result of {@link init}; the `--json` output of `apikey init`. */
export interface InitResult {
  server: string
  user: string
  app: {slug: string; name: string; team: string; teamName: string; contactEmail: string; created: boolean}
  key: {id: string; start: string; env: KeyEnvironment; expiresAt: number | null}
  stored: StoredKey
  projectFile: {path: string; written: boolean}
  warnings: string[]
}

/**
 * Runs init.
 * @throws ApikeyError `usage` (2) for invalid or unaskable input, `not_signed_in` (4),
 *   `unsafe` (5) when the env file is tracked by git or may not be protected,
 *   `forbidden` (1) when the app belongs to a team the developer is not in,
 *   `keychain_unavailable` (1), `network`/`timeout` (1).
 */
export async function init(deps: Deps, input: InitInput): Promise<InitResult> {
  validateFlags(input)
  const warnings: string[] = []
  const project = await deps.project()
  const config = await deps.config()
  const projectDir = project?.dir ?? deps.cwd

  // 1. Server and session.
  let server = resolveServer(input.server, deps.env, project, config)
  if (server === undefined) {
    if (!deps.prompter.interactive) throw noServerError()
    const url = normaliseServerUrl(await deps.prompter.input({message: 'Key service URL', flag: '--server'}))
    server = {url, source: 'flag', host: new URL(url).host}
  }
  const {api, me} = await signedIn(deps, server, input.timeoutMs, warnings)
  const meta = await api.meta()

  // 2. App: from apikey.json, --app, or a question with a guessed default.
  const slug = project?.project.app ?? input.app ?? (await askSlug(deps, projectDir))
  if (project && input.app !== undefined && input.app !== project.project.app) {
    warnings.push(`--app ${input.app} ignored: ${project.path} names app "${project.project.app}"`)
  }
  if (!isValidSlug(slug)) throw usageError(`--app "${slug}" is not a valid app slug: ${SLUG_RULE}`)
  const env = (input.env ?? project?.project.env ?? 'dev') as KeyEnvironment
  const variable = input.variable ?? project?.project.variable ?? meta.keyEnvVar
  // FC-15: a Windows-style path given on the command line means the same file here.
  const envFile = (input.envFile ?? project?.project.envFile ?? '.env').replace(/\\/g, '/')

  const {app, created} = await findOrRegisterApp(deps, api, me, slug, input, warnings)

  // 3. Where to store the key, checked before issuing it.
  // Choosing the .env option at this question is also the consent to protect it in .gitignore,
  // so a new app costs at most four questions: slug, team (only with several), contact, store.
  let consentFromChoice = false
  let store: KeyStore | undefined = input.store ?? project?.project.store
  if (store === undefined) {
    if (deps.prompter.interactive) {
      store = await deps.prompter.select<KeyStore>({
        message: 'Where should your key be stored?',
        flag: '--store',
        choices: [
          {value: 'dotenv', name: `${envFile}, added to .gitignore if needed (git itself is asked)`},
          {value: 'keychain', name: 'OS keychain (nothing on disk in the project)'},
        ],
        default: 'dotenv',
      })
      consentFromChoice = store === 'dotenv'
    } else store = 'dotenv'
  }
  const envPath = resolve(projectDir, envFile)
  const mayEdit = input.yes || consentFromChoice
    ? true
    : deps.prompter.interactive
      ? () => deps.prompter.confirm({message: `${relative(deps.cwd, envPath) || envFile} is not ignored by git. Add it to .gitignore?`, flag: '--yes', default: true})
      : false
  const prepared = await prepareKeyStore(
    deps,
    {store, envPath, variable, serverHost: server.host, app: app.slug, env},
    {mayEditGitignore: mayEdit, allowGitignoreEdit: !input.noGitignore},
    warnings,
  )

  // 4. Issue this developer's own key.
  const issued = await api.createKey(app.slug, {
    env,
    kind: 'dev',
    name: `${me.user.username}@${deps.hostname}`,
    metadata: {hostname: deps.hostname},
  })

  // 5. Store it; if that fails the key exists but nobody has it: say so.
  let stored: StoredKey
  try {
    stored = await writeKeyToStore(deps, prepared, issued.key)
  } catch (error) {
    throw unstoredKeyError(issued, error, 'fix the cause and run apikey init again (the unstored key expires on its own)')
  }

  if (deps.env[variable] !== undefined && deps.env[variable] !== issued.key) {
    warnings.push(`${variable} is set in your shell environment and shadows the new key in ${store === 'dotenv' ? envFile : 'the keychain'}; unset ${variable} to use it`)
  }

  // 6. The secret-free project file for teammates.
  const projectPath = project?.path ?? join(projectDir, PROJECT_FILE_NAME)
  const projectFile: ProjectFile = project?.project ?? {server: server.url, app: app.slug, env, store, envFile, variable}
  const written = project ? false : await writeProjectFile(projectPath, projectFile)

  return {
    server: server.url,
    user: me.user.username,
    app: {slug: app.slug, name: app.name, team: app.team.slug, teamName: app.team.name, contactEmail: app.contactEmail, created},
    key: {id: issued.id, start: issued.start, env: issued.env, expiresAt: issued.expiresAt},
    stored,
    projectFile: {path: projectPath, written},
    warnings,
  }
}

/**
 * Checks, before a key is issued, that the env file can be read and written:
 * not a directory, decodable, its directory writable. (A lock held by a
 * concurrent `apikey init` is waited for by the writer, not refused here.)
 * @throws ApikeyError `io` naming the file and the reason.
 */
async function preflightDotenv(envPath: string, variable: string): Promise<void> {
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
}

/** Flag checks that need no network (exit 2 naming the flag and the rule). */
function validateFlags(input: InitInput): void {
  if (input.app !== undefined && !isValidSlug(input.app)) throw usageError(`--app "${input.app}" is not a valid app slug: ${SLUG_RULE}`)
  if (input.team !== undefined && !isValidSlug(input.team)) throw usageError(`--team "${input.team}" is not a valid team slug: ${SLUG_RULE}`)
  if (input.contact !== undefined && !isValidEmail(input.contact)) throw usageError(`--contact "${input.contact}" is not a valid email address (the app's point of contact)`)
  if (input.name !== undefined && !isValidAppName(input.name)) throw usageError('--name must be 1–100 printable characters')
  if (input.env !== undefined && !isKeyEnvironment(input.env)) throw usageError(`--env "${input.env}" must be one of ${KEY_ENVIRONMENTS.join(', ')}`)
  if (input.variable !== undefined && !VARIABLE_PATTERN.test(input.variable)) throw usageError(`--var "${input.variable}" is not a valid environment variable name (letters, digits, _; not starting with a digit)`)
  if (input.envFile !== undefined && (input.envFile === '' || input.envFile.includes('\0'))) throw usageError('--dotenv-file must be a file path')
}

/** Returns an API client with a valid session, signing in first when allowed. */
async function signedIn(deps: Deps, server: ResolvedServer, timeoutMs: number, warnings: string[]): Promise<{api: ApiClient; me: MeResponse}> {
  const session = await currentSession(deps, server)
  if (session !== undefined) {
    const api = await deps.api({server: server.url, token: session.token, timeoutMs})
    try {
      return {api, me: await api.me()}
    } catch (error) {
      const rejected = error instanceof ApikeyError && error.exitCode === 4
      if (!rejected) throw error
      if (session.tokenSource === 'env' || !deps.prompter.interactive) {
        throw new ApikeyError(`the session token from ${session.tokenSource === 'env' ? 'APIKEY_TOKEN' : `the ${session.tokenSource}`} was rejected by ${server.url} (expired or revoked)`, {
          code: 'unauthenticated',
          suggestions: [`apikey login --server ${server.url}`],
        })
      }
      warnings.push('your session expired: signing in again')
    }
  } else if (!deps.prompter.interactive) {
    throw notSignedIn(server.url)
  }
  await login(deps, {server: server.url, passwordStdin: false, timeoutMs})
  const fresh = await currentSession(deps, server)
  if (fresh === undefined) throw notSignedIn(server.url)
  const api = await deps.api({server: server.url, token: fresh.token, timeoutMs})
  return {api, me: await api.me()}
}

async function askSlug(deps: Deps, dir: string): Promise<string> {
  const guesses = await guessAppSlugs(dir)
  return deps.prompter.input({
    message: 'App slug (its name in keys, fixed once registered)',
    flag: '--app',
    ...(guesses[0] === undefined ? {} : {default: guesses[0]}),
    validate: (v) => isValidSlug(v) || SLUG_RULE,
  })
}

/** Finds the app (and checks membership) or registers it. */
async function findOrRegisterApp(
  deps: Deps,
  api: ApiClient,
  me: MeResponse,
  slug: string,
  input: InitInput,
  warnings: string[],
): Promise<{app: AppView; created: boolean}> {
  const existing = await getAppOrUndefined(api, slug)
  if (existing) return {app: checkMembership(existing, me, input, warnings), created: false}

  if (me.teams.length === 0) {
    throw new ApikeyError(`you (${me.user.username}) are not a member of any team, and an app needs an owning team`, {
      code: 'forbidden',
      suggestions: ['ask the platform team to add you: apikey server users add NAME --team TEAM'],
    })
  }
  let team = input.team
  if (team === undefined) {
    team =
      me.teams.length === 1
        ? me.teams[0]!.slug
        : await deps.prompter.select({
            message: `Which team owns ${slug}?`,
            flag: '--team',
            choices: me.teams.map((t) => ({value: t.slug, name: `${t.slug} (${t.name})`})),
          })
  }
  const membership = me.teams.find((t) => t.slug === team)
  if (membership === undefined) {
    throw new ApikeyError(`you are not a member of team "${team}"; your teams: ${me.teams.map((t) => t.slug).join(', ')}`, {
      code: 'forbidden',
      suggestions: [`apikey init --team ${me.teams[0]!.slug} …`],
    })
  }
  const contact =
    input.contact ??
    (await deps.prompter.input({
      message: `Point of contact email for ${slug}`,
      flag: '--contact',
      ...(membership.contactEmail ? {default: membership.contactEmail} : {}),
      validate: (v) => isValidEmail(v) || 'enter a valid email address',
    }))
  if (!isValidEmail(contact)) throw usageError(`--contact "${contact}" is not a valid email address`)
  try {
    const app = await api.createApp({
      slug,
      name: input.name ?? titleFromSlug(slug),
      team,
      contactEmail: contact,
      ...(input.description === undefined ? {} : {description: input.description}),
    })
    return {app, created: true}
  } catch (error) {
    // Someone registered it between our lookup and our create (two inits at once).
    if (error instanceof ApikeyError && error.code === 'conflict') {
      const raced = await getAppOrUndefined(api, slug)
      if (raced) return {app: checkMembership(raced, me, input, warnings), created: false}
    }
    throw error
  }
}

async function getAppOrUndefined(api: ApiClient, slug: string): Promise<AppView | undefined> {
  try {
    return await api.getApp(slug)
  } catch (error) {
    if (error instanceof ApikeyError && error.code === 'not_found') return undefined
    throw error
  }
}

function checkMembership(app: AppView, me: MeResponse, input: InitInput, warnings: string[]): AppView {
  if (!me.teams.some((t) => t.slug === app.team.slug)) {
    throw new ApikeyError(
      `app "${app.slug}" is owned by team "${app.team.slug}" (${app.team.name}; contact ${app.contactEmail}), and you are not a member: keys are not shared between teams`,
      {
        code: 'forbidden',
        suggestions: [`register your own app: apikey init --app ${app.slug}-${me.teams[0]?.slug ?? 'mine'}`, `or ask ${app.contactEmail} to add you to team ${app.team.slug}`],
        details: {owningTeam: app.team.slug, contactEmail: app.contactEmail},
      },
    )
  }
  if (input.team !== undefined && input.team !== app.team.slug) warnings.push(`--team ${input.team} ignored: ${app.slug} is already owned by team ${app.team.slug}`)
  if (input.contact !== undefined && input.contact !== app.contactEmail) warnings.push(`--contact ignored: ${app.slug} already has point of contact ${app.contactEmail}`)
  return app
}
