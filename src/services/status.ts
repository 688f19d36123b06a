/**
 * `apikey status`: server, user, project, where the session token and the
 * project's key live, and which source wins.
 * Never fails because the service is down: it reports that instead.
 */
import {isAuthFailure} from '../core/errors.js'
import type {Deps} from '../lib/deps.js'
import {locateKey, type KeySourceReport} from './key-sources.js'
import {resolveServer, type ServerSource} from './server-url.js'

/** Result of {@link status}; the `--json` output of `apikey status`. */
export interface StatusResult {
  server: {url: string; source: ServerSource} | null
  session: {
    /** `signed-in`, `not-signed-in`, `rejected` (token expired/revoked), `unknown` (service unreachable). */
    state: 'signed-in' | 'not-signed-in' | 'rejected' | 'unknown'
    /** Which store's token is used. */
    source: 'env' | 'keychain' | 'file' | null
    /** Every place a token exists for this server. */
    locations: string[]
    user: string | null
    teams: string[]
    /** Why the keychain could not be checked, when it could not. */
    keychain?: string
    expiresAt: number | null
    error?: string
  }
  project: {path: string; app: string; env: string; store: string; envFile: string; variable: string} | null
  key: {source: string | null; start: string | null; sources: KeySourceReport[]}
  warnings: string[]
}

/** Collects the status; network problems become `unknown` with the error text. */
export async function status(deps: Deps, input: {server?: string; timeoutMs: number}): Promise<StatusResult> {
  const warnings: string[] = []
  const project = await deps.project()
  // status must work when other things are broken: a corrupt config.json is reported, not fatal.
  const config = await deps.config().catch((error: Error) => {
    warnings.push(error.message)
    return {}
  })
  const server = resolveServer(input.server, deps.env, project, config)
  const session: StatusResult['session'] = {state: 'not-signed-in', source: null, locations: [], user: null, teams: [], expiresAt: null}
  if (server) {
    const store = await deps.credentials()
    try {
      const locations = await store.locations(server.url)
      session.locations = locations.entries.map((e) => e.where)
      if (locations.keychain.status !== 'checked') session.keychain = locations.keychain.message
      if (locations.file.problem) warnings.push(`${locations.file.path}: ${locations.file.problem}`)
      const found = await store.resolve(server.url)
      if (found) {
        session.source = found.source
        try {
          const api = await deps.api({server: server.url, token: found.token, timeoutMs: input.timeoutMs})
          const me = await api.me()
          session.state = 'signed-in'
          session.user = me.user.username
          session.teams = me.teams.map((t) => t.slug)
          session.expiresAt = me.sessionExpiresAt
        } catch (error) {
          session.state = isAuthFailure(error) ? 'rejected' : 'unknown'
          session.error = (error as Error).message
        }
      }
      if (locations.conflict) warnings.push(`session tokens for ${server.url} exist in several places (${session.locations.join(', ')}); the first in order env → keychain → file is used`)
    } catch (error) {
      session.state = 'unknown'
      session.error = (error as Error).message
    }
  }
  const located = await locateKey(deps, {...(project ? {project} : {}), ...(server ? {serverHost: server.host} : {})})
  warnings.push(...located.warnings)
  return {
    server: server ? {url: server.url, source: server.source} : null,
    session,
    project: project ? {path: project.path, ...project.project} : null,
    key: {
      source: located.chosen?.location ?? null,
      start: located.sources.find((s) => s.state === 'found')?.start ?? null,
      sources: located.sources.filter((s) => s.source !== 'argument'),
    },
    warnings,
  }
}
