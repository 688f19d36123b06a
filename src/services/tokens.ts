/**
 * `apikey tokens create|list|revoke`: app-scoped provisioning tokens (`akp_…`)
 * that let a CI job issue per-build keys for one app, without a person's
 * session (builds are told apart).
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {PROVISIONING_TOKEN_PREFIX, type TokenScope, type TokenView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {durationFlag, needsYes, resolveApp, signedInApi, withFlagNames, withListCommand} from './common.js'
import {refuseSecret} from './secret-args.js'

/** Input of {@link createToken}. */
export interface CreateTokenInput {
  app?: string
  scope: TokenScope
  /** `--expires-in` as given, e.g. `90d`; default: the service's. */
  expiresIn?: string
  name?: string
  server?: string
  timeoutMs: number
}

/** Result of {@link createToken}; the `--json` output of `apikey tokens create`. `token` is shown this once. */
export interface CreateTokenResult extends TokenView {
  server: string
  token: string
}

/**
 * Creates a provisioning token.
 * @throws ApikeyError `usage` (2) for bad flags; `not_signed_in` (4); `forbidden` (1) for another team's app.
 */
export async function createToken(deps: Deps, input: CreateTokenInput): Promise<CreateTokenResult> {
  const expiresInMs = input.expiresIn === undefined ? undefined : durationFlag('--expires-in', input.expiresIn)
  if (input.name !== undefined && (input.name.trim() === '' || input.name.length > 100)) throw usageError('--name must be 1–100 characters', [], {flag: '--name'})
  const app = await resolveApp(deps, input.app)
  const {api, server} = await signedInApi(deps, input)
  const answer = await withFlagNames(
    api.createToken({
      app,
      scope: input.scope,
      ...(input.name === undefined ? {} : {name: input.name}),
      ...(expiresInMs === undefined ? {} : {expiresAt: deps.now() + expiresInMs}),
    }),
    {expiresAt: '--expires-in', name: '--name', app: '--app', scope: '--scope'},
  )
  if (!answer.token.startsWith(PROVISIONING_TOKEN_PREFIX)) throw new ApikeyError('the service answered with something that is not a provisioning token', {code: 'server_error'})
  return {server: server.url, ...answer}
}

/** Result of {@link listTokens}; the `--json` output of `apikey tokens list`. */
export interface ListTokensResult {
  server: string
  /** The app filter, or null for every app the caller may see. */
  app: string | null
  tokens: TokenView[]
}

/** Lists provisioning tokens (without secrets). @throws ApikeyError `not_signed_in` (4); `forbidden` (1). */
export async function listTokens(deps: Deps, input: {app?: string; server?: string; timeoutMs: number}): Promise<ListTokensResult> {
  const app = input.app !== undefined || (await deps.project()) !== undefined ? await resolveApp(deps, input.app) : undefined
  const {api, server} = await signedInApi(deps, input)
  return {server: server.url, app: app ?? null, tokens: (await api.listTokens(app)).tokens}
}

/** Result of {@link revokeToken}; the `--json` output of `apikey tokens revoke`. */
export interface RevokeTokenResult {
  server: string
  token: TokenView
  alreadyRevoked: boolean
}

/**
 * Revokes a provisioning token after confirmation (or `--yes`).
 * @throws ApikeyError `usage` (2) without a terminal and without `--yes`; `cancelled` (3); `not_found` (1).
 */
export async function revokeToken(deps: Deps, input: {id: string; yes: boolean; server?: string; timeoutMs: number}): Promise<RevokeTokenResult> {
  refuseSecret(input.id, 'token id', 'TOKEN_ID')
  if (!input.yes && !deps.prompter.interactive) throw needsYes(`revoking token ${input.id}`)
  const {api, server} = await signedInApi(deps, input)
  if (!input.yes) {
    const ok = await deps.prompter.confirm({message: `Revoke provisioning token ${input.id}? CI jobs using it can no longer get keys.`, flag: '--yes', default: false})
    if (!ok) throw new ApikeyError(`not revoked: ${input.id} is unchanged`, {code: 'cancelled'})
  }
  const answer = await withListCommand(deps, 'tokens', async () => api.revokeToken(input.id))
  return {server: server.url, token: answer.token, alreadyRevoked: answer.alreadyRevoked}
}
