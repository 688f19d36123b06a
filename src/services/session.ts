/**
 * Developer sessions: sign in, sign out, and the token a command should use
 * (`APIKEY_TOKEN` → keychain → 0600 file).
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {checkInput} from '../core/secrets.js'
import {USERNAME_PATTERN, USERNAME_RULE} from '../core/validation.js'
import type {MeResponse, MembershipView, UserView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {readSecretFromStdin} from '../lib/stdin.js'
import {noServerError, resolveServer, type ResolvedServer, type ServerSource} from './server-url.js'

/** Input of {@link login}. */
export interface LoginInput {
  server?: string
  username?: string
  passwordStdin: boolean
  /** Store the token in the 0600 file even when a keychain is available. */
  preferFile?: boolean
  timeoutMs: number
}

/** Result of {@link login}; the `--json` output of `apikey login`. */
export interface LoginResult {
  server: {url: string; source: ServerSource}
  user: UserView
  teams: MembershipView[]
  /** Session expiry, ms since epoch. */
  expiresAt: number
  /** Where the session token was stored; `env` when APIKEY_TOKEN already signs this user in (nothing stored). */
  tokenStorage: {location: 'keychain' | 'file' | 'env'; path?: string}
  /** True when a session for this server was already in use and nothing was asked or stored (then `user` is who is signed in). */
  alreadySignedIn?: boolean
  /** With `alreadySignedIn`: the command that signs in as someone else (replacing the session). */
  switchWith?: string
  warnings: string[]
}

/** Who a stored or APIKEY_TOKEN session signs in, or undefined (none, unreadable, or rejected by the service). */
async function signedInAs(deps: Deps, api: Awaited<ReturnType<Deps['api']>>, serverUrl: string): Promise<{me: MeResponse; source: 'env' | 'keychain' | 'file'; where: string} | undefined> {
  let found
  try {
    found = await (await deps.credentials()).resolve(serverUrl)
  } catch {
    // A keychain that cannot be read is not a reason to refuse signing in.
    return undefined
  }
  if (found === null || found === undefined || /[\s\u0000-\u001f\u007f]/.test(found.token)) return undefined
  const me = await api
    .withToken(found.token)
    .me()
    .catch(() => undefined)
  return me === undefined ? undefined : {me, source: found.source, where: found.where}
}

/** Where a session token lives, for people. */
function describeSource(source: 'env' | 'keychain' | 'file', where: string): string {
  return source === 'env' ? 'through APIKEY_TOKEN' : source === 'keychain' ? 'session in the OS keychain' : `session in ${where}`
}

/**
 * Signs in with a password and stores the session token.
 * @throws ApikeyError `usage` (exit 2) for a missing value without a TTY,
 *   `invalid_credentials` (exit 4) for a wrong username or password,
 *   `network`/`timeout` (exit 1) when the service cannot be reached.
 */
export async function login(deps: Deps, input: LoginInput): Promise<LoginResult> {
  const project = await deps.project()
  const config = await deps.config()
  let server = resolveServer(input.server, deps.env, project, config)
  const warnings: string[] = []
  if (server === undefined) {
    if (!deps.prompter.interactive) throw noServerError()
    const {normaliseServerUrl} = await import('./server-url.js')
    const url = normaliseServerUrl(await deps.prompter.input({message: 'Key service URL', flag: '--server', validate: (v) => (normaliseServerUrl(v), true)}))
    server = {url, source: 'flag', host: new URL(url).host}
  }
  const api = await deps.api({server: server.url, timeoutMs: input.timeoutMs})
  // Make sure the URL is an apikey service before sending a password to it.
  await api.meta()

  // Already signed in (APIKEY_TOKEN, keychain or file, whichever wins)? Without a password to
  // use — none on stdin, or no --password-stdin and no other username asked for — say so and
  // stop: nothing is asked, nothing replaced. With a password, sign in again (replacing it).
  let stdinPassword: string | undefined
  const current = await signedInAs(deps, api, server.url)
  if (current !== undefined) {
    if (input.passwordStdin) stdinPassword = await readSecretFromStdin(deps.stdin, '--password-stdin', {allowEmpty: true})
    const sameUser = input.username === undefined || input.username === current.me.user.username
    const noPassword = input.passwordStdin ? stdinPassword === '' : sameUser
    if (noPassword && sameUser) {
      await deps.saveConfig({...config, server: server.url, username: current.me.user.username})
      return {
        server: {url: server.url, source: server.source},
        user: current.me.user,
        teams: current.me.teams,
        expiresAt: current.me.sessionExpiresAt,
        tokenStorage: {location: current.source, ...(current.source === 'file' ? {path: current.where} : {})},
        alreadySignedIn: true,
        switchWith: `apikey login --server ${server.url} --username NAME`,
        warnings,
      }
    }
    if (!sameUser) warnings.push(`signed in to ${server.url} as ${current.me.user.username} (${describeSource(current.source, current.where)}); signing in as ${input.username} replaces that session`)
  }
  const username =
    input.username ??
    (await deps.prompter.input({
      message: `Username on ${server.url}`,
      flag: '--username',
      ...(config.username === undefined ? {} : {default: config.username}),
      rule: 'username',
      validate: (v) => USERNAME_PATTERN.test(v) || USERNAME_RULE,
    }))
  // A pasted password is never echoed: the guard names the rule, not the value.
  checkInput(username, '--username', {rule: 'username'})
  if (!USERNAME_PATTERN.test(username)) throw usageError(`--username "${username}" is not valid: ${USERNAME_RULE}`)
  let password: string
  if (!input.passwordStdin) password = await deps.prompter.password({message: `Password for ${username} on ${server.url}`, flag: '--password-stdin'})
  else if (stdinPassword === undefined) password = await readSecretFromStdin(deps.stdin, '--password-stdin')
  else if (stdinPassword === '') throw emptyStdin()
  else password = stdinPassword
  checkInput(username, '--username', {rule: 'username', password})
  let session
  try {
    session = await api.login({username, password})
  } catch (error) {
    if (error instanceof ApikeyError && error.code === 'invalid_credentials') {
      throw new ApikeyError(`sign-in to ${server.url} failed: unknown username or wrong password`, {
        code: 'invalid_credentials',
        suggestions: [`apikey login --server ${server.url} --username ${username}`],
      })
    }
    throw error
  }
  const store = await deps.credentials()
  const saved = await store.save(server.url, session.token, {preferFile: input.preferFile === true})
  if (deps.env.APIKEY_TOKEN) warnings.push('APIKEY_TOKEN is set in the environment: it takes precedence over the session just stored; unset it to use this sign-in')
  await deps.saveConfig({...config, server: server.url, username})
  return {
    server: {url: server.url, source: server.source},
    user: session.user,
    teams: session.teams,
    expiresAt: session.expiresAt,
    tokenStorage: saved.location === 'file' ? {location: 'file', ...(saved.path === undefined ? {} : {path: saved.path})} : {location: 'keychain'},
    warnings,
  }
}

function emptyStdin(): ApikeyError {
  return usageError('--password-stdin: standard input was empty', [`printf '%s' "$PASSWORD" | apikey login … --password-stdin`])
}

/** A usable session: the server and the token to send. */
export interface ActiveSession {
  server: ResolvedServer
  token: string
  tokenSource: 'env' | 'keychain' | 'file'
}

/**
 * Finds the session token for the resolved server. Credentials resolve before
 * any prompt decision.
 * @returns undefined when not signed in.
 * @throws ApikeyError `keychain_unavailable` when the keychain cannot be read:
 *   not the same as "not signed in".
 */
export async function currentSession(deps: Deps, server: ResolvedServer): Promise<ActiveSession | undefined> {
  const store = await deps.credentials()
  const found = await store.resolve(server.url)
  if (found === null || found === undefined) return undefined
  if (/[\s\u0000-\u001f\u007f]/.test(found.token)) {
    throw new ApikeyError(`the session token from ${found.where} contains whitespace or a line break, so it was not sent`, {
      code: 'unauthenticated',
      suggestions: [found.source === 'env' ? 'set APIKEY_TOKEN to the token alone' : `apikey login --server ${server.url}`],
    })
  }
  return {server, token: found.token, tokenSource: found.source}
}

/** The error for a command that needs a session and has none. */
export function notSignedIn(serverUrl: string): ApikeyError {
  return new ApikeyError(`not signed in to ${serverUrl}`, {
    code: 'not_signed_in',
    suggestions: [`apikey login --server ${serverUrl}`, 'or set APIKEY_TOKEN'],
  })
}

/** Result of {@link logout}. */
export interface LogoutResult {
  server: string
  /** Whether the service revoked the session (false when unreachable or already invalid). */
  revokedOnServer: boolean
  /** Places the token was removed from. */
  cleared: string[]
  warnings: string[]
}

/** Revokes the session on the service (best effort) and forgets it locally. */
export async function logout(deps: Deps, input: {server?: string; timeoutMs: number}): Promise<LogoutResult> {
  const server = resolveServer(input.server, deps.env, await deps.project(), await deps.config())
  const warnings: string[] = []
  if (server === undefined) return {server: '', revokedOnServer: false, cleared: [], warnings: ['no key service is configured: nothing to sign out of']}
  const store = await deps.credentials()
  // A keychain that cannot be read is an error here, not "no session".
  const found = await store.resolve(server.url)
  let revokedOnServer = false
  if (found) {
    try {
      const api = await deps.api({server: server.url, token: found.token, timeoutMs: input.timeoutMs})
      await api.logout()
      revokedOnServer = true
    } catch (error) {
      warnings.push(`could not revoke the session on ${server.url}: ${(error as Error).message}; it expires on its own`)
    }
  }
  const cleared = await store.clear(server.url)
  for (const f of cleared.failed) warnings.push(`could not remove the session from the ${f.place}: ${f.message}`)
  if (cleared.envStillSet) warnings.push('APIKEY_TOKEN is still set in this environment; unset it to sign out completely')
  return {server: server.url, revokedOnServer, cleared: cleared.cleared, warnings}
}
