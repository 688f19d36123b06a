/**
 * `apikey init`: in one command, sign in, register or find the app, issue this
 * developer's own key, store it where it cannot be committed (a gitignored
 * `.env`, verified by git itself, or the OS keychain) and write the
 * secret-free `apikey.json` for teammates.
 *
 * Order matters for safety: every check that can refuse (flags, git, keychain
 * probe) runs before the key is issued, so a refusal leaves no orphan key and
 * nothing half-written.
 */
import {isAbsolute, join, relative, resolve} from 'node:path'
import {ApikeyError, isAuthFailure, usageError} from '../core/errors.js'
import {isKeyEnvironment, isValidSlug, KEY_ENVIRONMENTS, parseKey, SLUG_RULE, type KeyEnvironment} from '../core/key-format.js'
import {isValidAppName, isValidEmail} from '../core/validation.js'
import type {AppView, MeResponse} from '../core/wire.js'
import type {ApiClient} from '../lib/api/client.js'
import type {Deps} from '../lib/deps.js'
import {PROJECT_FILE_NAME, VARIABLE_PATTERN, writeProjectFile, type KeyStore, type ProjectFile} from '../lib/project-file.js'
import {durationFlag} from './common.js'
import {describeStoredKey, endReplacedKey, INIT_GRACE, replacedKeyMessage, type ReplacedKey, type StoredKeyFacts} from './replaced-key.js'
import {prepareKeyStore, unstoredKeyError, writeKeyToStore, type PreparedStore, type StoredKey} from './store-key.js'
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
  /** Issue a new key even when a valid key of yours is already stored. */
  newKey?: boolean
  /**
   * `--grace` as given (`1h`, `0`): how long a replaced key of yours keeps working
   * after the new key is stored; default {@link INIT_GRACE}.
   */
  grace?: string
  /** `--replace`: consent to replace a stored key of another app or environment. */
  replace?: boolean
  timeoutMs: number
}

/** What became of a replaced key (see `services/replaced-key.ts`). */
export {INIT_GRACE, replacedKeyMessage, type ReplacedKey} from './replaced-key.js'

/** Where the key was stored (see `services/store-key.ts`). */
export type {StoredKey} from './store-key.js'

/** Result of {@link init}; the `--json` output of `apikey init`. */
export interface InitResult {
  server: string
  user: string
  app: {slug: string; name: string; team: string; teamName: string; contactEmail: string; created: boolean}
  key: {id: string; start: string; env: KeyEnvironment; expiresAt: number | null}
  /** True when a valid key of this developer was already stored there and was kept (no new key issued). */
  reused: boolean
  /** The key the new one replaced at the store, when there was one (see {@link ReplacedKey}). */
  replaced?: ReplacedKey
  stored: StoredKey
  projectFile: {path: string; written: boolean}
  warnings: string[]
}

/**
 * Runs init. Order: sign in → find the app (membership checked) → collect what
 * a new app needs → choose the store and run every check that can refuse →
 * register the app → reuse the developer's stored key or issue one → store it
 * → write apikey.json. A refusal or Ctrl+C before the end registers nothing
 * and issues nothing.
 * @throws ApikeyError `usage` (2) for invalid or unaskable input, `not_signed_in` (4),
 *   `unsafe` (5) when the env file is tracked by git or may not be protected,
 *   `forbidden` (1) when the app belongs to a team the developer is not in,
 *   `keychain_unavailable` (1), `network`/`timeout` (1).
 */
export async function init(deps: Deps, input: InitInput): Promise<InitResult> {
  validateFlags(input)
  const graceMs = durationFlag('--grace', input.grace ?? INIT_GRACE, {allowZero: true})
  const warnings: string[] = []
  const project = await deps.project()
  const config = await deps.config()
  const projectDir = project?.dir ?? deps.cwd
  if (project && input.app !== undefined && input.app !== project.project.app) {
    throw usageError(`--app ${input.app} conflicts with ${project.path}, which names app "${project.project.app}"`, [
      `run apikey init without --app to get your key for ${project.project.app}`,
      `or, if this project is a different app, change "app" in ${project.path}`,
    ])
  }

  // 1. Server and session.
  let server = resolveServer(input.server, deps.env, project, config)
  if (server === undefined) {
    if (!deps.prompter.interactive) throw noServerError()
    const url = normaliseServerUrl(await deps.prompter.input({message: 'Key service URL', flag: '--server', validate: (v) => (normaliseServerUrl(v), true)}))
    server = {url, source: 'flag', host: new URL(url).host}
  }
  const {api, me} = await signedIn(deps, server, input.timeoutMs, warnings)
  const meta = await api.meta()

  // 2. The app: from apikey.json, --app, or a question with a guessed default.
  const slug = project?.project.app ?? input.app ?? (await askSlug(deps, projectDir))
  if (!isValidSlug(slug)) throw usageError(`--app "${slug}" is not a valid app slug: ${SLUG_RULE}`)
  const env = (input.env ?? project?.project.env ?? 'dev') as KeyEnvironment
  const variable = input.variable ?? project?.project.variable ?? meta.keyEnvVar
  if (project && input.variable !== undefined && input.variable !== project.project.variable) {
    warnings.push(`--var ${input.variable} differs from "${project.project.variable}" in ${project.path}: your app must read ${input.variable}`)
  }
  // A Windows-style path given on the command line means the same file here.
  const envFile = (input.envFile ?? project?.project.envFile ?? '.env').replace(/\\/g, '/')
  const envPath = resolve(projectDir, envFile)
  const inside = relative(projectDir, envPath)
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw usageError(`the env file ${envPath} is not inside the project ${projectDir}`, [
      'use a path inside the project with --dotenv-file (or "envFile" in apikey.json)',
      'or keep the key out of files: --store keychain',
    ])
  }
  const existing = await getAppOrUndefined(api, slug)
  const plan = existing ? undefined : await planNewApp(deps, me, slug, input)
  if (existing) checkMembership(existing, me, input, project !== undefined, warnings)

  // 3. Where to store the key: every check that can refuse runs before anything is created.
  // Choosing the .env option at this question is also the consent to protect it in .gitignore,
  // so a new app costs at most four questions: slug, team (only with several), contact, store.
  let consentFromChoice = false
  let store: KeyStore | undefined = input.store ?? project?.project.store
  if (store === undefined) {
    // The keychain is offered only where one answers (a time-boxed write/read/delete probe).
    const keychain = deps.prompter.interactive ? await (await deps.keychain()).probe() : undefined
    if (keychain !== undefined && !keychain.available) {
      deps.warn(`the OS keychain is not reachable here (${keychain.message}): the key goes to ${envFile}`)
      store = 'dotenv'
    } else if (deps.prompter.interactive) {
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
  const mayEdit =
    input.yes || consentFromChoice
      ? true
      : deps.prompter.interactive
        ? () => deps.prompter.confirm({message: `${relative(deps.cwd, envPath) || envFile} is not ignored by git. Add it to .gitignore?`, flag: '--yes', default: true})
        : false
  const prepared = await prepareKeyStore(
    deps,
    {store, envPath, variable, serverHost: server.host, app: slug, env},
    {mayEditGitignore: mayEdit, allowGitignoreEdit: !input.noGitignore},
    warnings,
  )

  // A stored key of another app or environment is replaced only with consent.
  const current = await storedValue(deps, prepared)
  const currentKey = current === undefined ? undefined : parseKey(current)
  if (currentKey?.valid === true && (currentKey.app !== slug || currentKey.env !== env)) {
    const where = prepared.store === 'dotenv' ? `${prepared.variable} in ${prepared.path}` : `the keychain entry (service ${prepared.service}, account ${prepared.account})`
    const what = `${where} holds a ${currentKey.env} key${currentKey.app === slug ? '' : ` of app ${currentKey.app}`} (${currentKey.start})`
    if (input.replace !== true) {
      if (!deps.prompter.interactive) {
        throw usageError(`${what}; a new ${env} key would replace it: nothing was issued or changed`, [
          `pass --replace to replace it with a ${env} key`,
          prepared.store === 'dotenv' ? 'or store the new key elsewhere: --dotenv-file PATH or --var NAME' : 'or keep it: leave out --env',
        ], {flag: '--replace', stored: currentKey.start})
      }
      const ok = await deps.prompter.confirm({message: `${what}. Replace it with a new ${env} key?`, flag: '--replace', default: false})
      if (!ok) throw new ApikeyError(`not replaced: ${where} still holds the ${currentKey.env} key; nothing was issued`, {code: 'cancelled'})
    }
  }

  // 4. Register the app now that nothing can refuse any more.
  const {app, created} = existing ? {app: existing, created: false} : await registerApp(api, me, plan!, input, project !== undefined, warnings)

  // 5. Keep the developer's own valid key when one is stored there already; else issue one.
  const stored0 = current === undefined ? undefined : await describeStoredKey(api, current)
  const kept = input.newKey ? undefined : storedKeyToKeep(deps, prepared, stored0, {app: slug, env, username: me.user.username})
  let keyInfo: InitResult['key']
  let stored: StoredKey
  let replaced: ReplacedKey | undefined
  if (kept) {
    keyInfo = kept.key
    stored = kept.stored
    warnings.push(`you already have a valid key for ${slug} (${kept.key.start}) in ${kept.where}: kept it; pass --new-key for another`)
  } else {
    const issued = await api.createKey(app.slug, {env, kind: 'dev', name: `${me.user.username}@${deps.hostname}`, metadata: {hostname: deps.hostname}})
    try {
      stored = await writeKeyToStore(deps, prepared, issued.key)
    } catch (error) {
      // Nobody holds the key: revoke it rather than leave it active (best effort).
      const revoked = await api.revokeKey(issued.id).then(
        () => true,
        () => false,
      )
      throw unstoredKeyError(issued, error, revoked ? 'the unstored key was revoked; fix the cause and run apikey init again' : 'fix the cause and run apikey init again (the unstored key expires on its own)')
    }
    keyInfo = {id: issued.id, start: issued.start, env: issued.env, expiresAt: issued.expiresAt}
    if (stored0 !== undefined) {
      replaced = await endReplacedKey(api, stored0, {id: issued.id, app: slug, env, username: me.user.username, graceMs})
      if (replaced.outcome !== 'ended') warnings.push(replacedKeyMessage(replaced, (ms, preposition) => deps.time(ms, 'stderr', preposition)))
    }
    if (deps.env[variable] !== undefined && deps.env[variable] !== issued.key) {
      warnings.push(`${variable} is set in your shell environment and shadows the new key in ${store === 'dotenv' ? envFile : 'the keychain'}; unset ${variable} to use it`)
    }
  }

  // 6. The secret-free project file for teammates.
  const projectPath = project?.path ?? join(projectDir, PROJECT_FILE_NAME)
  // apikey.json is shared with the team: it is never changed here, so a key of another env is named now, with the ways to agree.
  if (project !== undefined && project.project.env !== undefined && project.project.env !== env) {
    warnings.push(
      `${project.path} still says env ${project.project.env}: it is shared with the team and was not changed, so status, whoami and run will say your stored ${env} key differs; to make them agree, run apikey init --env ${project.project.env} --replace, or edit "env" in ${PROJECT_FILE_NAME}`,
    )
  }
  const projectFile: ProjectFile = project?.project ?? {server: server.url, app: app.slug, env, store, envFile, variable}
  const written = project ? false : await writeProjectFile(projectPath, projectFile)

  return {
    server: server.url,
    user: me.user.username,
    app: {slug: app.slug, name: app.name, team: app.team.slug, teamName: app.team.name, contactEmail: app.contactEmail, created},
    key: keyInfo,
    reused: kept !== undefined,
    ...(replaced === undefined ? {} : {replaced}),
    stored,
    projectFile: {path: projectPath, written},
    warnings,
  }
}

/** The value at the prepared store, or undefined when there is none. */
async function storedValue(deps: Deps, prepared: PreparedStore): Promise<string | undefined> {
  if (prepared.store === 'dotenv') {
    const {readDotenvVariable} = await import('../lib/dotenv/index.js')
    const value = await readDotenvVariable(prepared.path, prepared.variable)
    return value === undefined || value === '' ? undefined : value
  }
  const keychain = await deps.keychain()
  const value = await keychain.get(prepared.service, prepared.account).catch(() => null)
  return value === null || value === '' ? undefined : value
}

/**
 * The stored key to keep instead of issuing one: the developer's own, for this
 * app and env, active, not rotated, and not expiring within 14 days.
 */
function storedKeyToKeep(
  deps: Deps,
  prepared: PreparedStore,
  facts: StoredKeyFacts | undefined,
  want: {app: string; env: string; username: string},
): {key: InitResult['key']; stored: StoredKey; where: string} | undefined {
  const k = facts?.who?.key
  if (facts === undefined || k === undefined || facts.app !== want.app || facts.env !== want.env) return undefined
  if (k.status !== 'active' || k.createdBy !== want.username) return undefined
  if (k.rotation) return undefined
  if (k.expiresAt !== null && k.expiresAt - deps.now() < 14 * 86_400_000) return undefined
  const stored: StoredKey =
    prepared.store === 'dotenv'
      ? {store: 'dotenv', path: prepared.path, variable: prepared.variable, change: 'unchanged', created: false, git: prepared.git}
      : {store: 'keychain', service: prepared.service, account: prepared.account}
  return {key: {id: k.id, start: k.start, env: k.env, expiresAt: k.expiresAt}, stored, where: prepared.store === 'dotenv' ? prepared.path : 'the OS keychain'}
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
      if (!isAuthFailure(error)) throw error
      if (session.tokenSource === 'env' || !deps.prompter.interactive) {
        throw new ApikeyError(`the session token from ${session.tokenSource === 'env' ? 'APIKEY_TOKEN' : `the ${session.tokenSource}`} was rejected by ${server.url} (expired or revoked)`, {
          code: 'unauthenticated',
          suggestions: [...(session.tokenSource === 'env' ? ['unset APIKEY_TOKEN (to use the session stored by apikey login)'] : []), `apikey login --server ${server.url}`],
        })
      }
      warnings.push('your session expired: signing in again')
    }
  } else if (!deps.prompter.interactive) {
    throw notSignedIn(server.url)
  } else if (server.source === 'project' && (await deps.config()).server !== server.url) {
    // A committed apikey.json decides where a password would go: say so and ask first.
    const ok = await deps.prompter.confirm({
      message: `This project's apikey.json names the key service ${server.url}, which you have not signed in to before. Sign in there?`,
      flag: '--server',
      default: false,
    })
    if (!ok) throw new ApikeyError(`not signing in to ${server.url}`, {code: 'cancelled', suggestions: ['check "server" in apikey.json, or sign in first: apikey login --server URL']})
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

/** What registering a new app needs, asked or taken from flags (nothing is created yet). */
interface NewAppPlan {
  slug: string
  team: string
  contact: string
}

/** Collects team and point of contact for a new app (questions only on a terminal). */
async function planNewApp(deps: Deps, me: MeResponse, slug: string, input: InitInput): Promise<NewAppPlan> {
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
  return {slug, team, contact}
}

/** Registers the planned app; a 409 from a concurrent `apikey init` finds the app instead. */
async function registerApp(api: ApiClient, me: MeResponse, plan: NewAppPlan, input: InitInput, hasProject: boolean, warnings: string[]): Promise<{app: AppView; created: boolean}> {
  try {
    const app = await api.createApp({
      slug: plan.slug,
      name: input.name ?? titleFromSlug(plan.slug),
      team: plan.team,
      contactEmail: plan.contact,
      ...(input.description === undefined ? {} : {description: input.description}),
    })
    return {app, created: true}
  } catch (error) {
    // Someone registered it between our lookup and our create (two inits at once).
    if (error instanceof ApikeyError && error.code === 'conflict') {
      const raced = await getAppOrUndefined(api, plan.slug)
      if (raced) return {app: checkMembership(raced, me, input, hasProject, warnings), created: false}
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

function checkMembership(app: AppView, me: MeResponse, input: InitInput, hasProject: boolean, warnings: string[]): AppView {
  if (!me.teams.some((t) => t.slug === app.team.slug)) {
    throw new ApikeyError(
      `app "${app.slug}" is owned by team "${app.team.slug}" (${app.team.name}; contact ${app.contactEmail}), and you are not a member: keys are not shared between teams`,
      {
        code: 'forbidden',
        suggestions: hasProject
          ? [`ask ${app.contactEmail} to add you to team ${app.team.slug}`, `or, if your copy of this project is a different app, change "app" in apikey.json and run apikey init`]
          : [`register your own app: apikey init --app ${app.slug}-${me.teams[0]?.slug ?? 'mine'}`, `or ask ${app.contactEmail} to add you to team ${app.team.slug}`],
        details: {owningTeam: app.team.slug, contactEmail: app.contactEmail},
      },
    )
  }
  if (input.team !== undefined && input.team !== app.team.slug) warnings.push(`--team ${input.team} ignored: ${app.slug} is already owned by team ${app.team.slug}`)
  if (input.contact !== undefined && input.contact !== app.contactEmail) warnings.push(`--contact ignored: ${app.slug} already has point of contact ${app.contactEmail}`)
  return app
}
