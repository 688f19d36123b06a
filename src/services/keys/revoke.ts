/**
 * `apikey keys revoke`: stop a key from working, now. Asks for confirmation on
 * a terminal; otherwise `--yes` is required. Revoking twice is not an error.
 */
import {ApikeyError, usageError} from '../../core/errors.js'
import type {AppView, GetKeyResponse, KeyView} from '../../core/wire.js'
import type {ApiClient} from '../../lib/api/client.js'
import type {Deps} from '../../lib/deps.js'
import {needsYes, signedInApi, withFlagNames, withListCommand} from '../common.js'
import {refuseSecret} from '../secret-args.js'

/** Input of {@link revokeKey}. */
export interface RevokeKeyInput {
  id: string
  yes: boolean
  /** Why, kept in the audit log; required of a service admin revoking a key outside their teams' rules. */
  reason?: string
  server?: string
  timeoutMs: number
}

/** Result of {@link revokeKey}; the `--json` output of `apikey keys revoke`. */
export interface RevokeKeyResult {
  server: string
  app: {slug: string; team: string}
  key: KeyView
  /** True when the key had been revoked before (then `key.revokedAt`/`revokedBy` are the original ones). */
  alreadyRevoked: boolean
}

/** Longest `--reason`, in characters (the service's limit). */
export const MAX_REASON_LENGTH = 500

/**
 * Revokes a key after confirmation. The id is checked first (an unknown id is
 * `not_found` whether or not `--yes` was given); then, for a key that is not
 * revoked yet, a question on a terminal or `--yes`. A service admin outside the
 * key's team cannot read the key; with `--reason` the service is asked to revoke
 * it all the same (it requires the reason of them and keeps it in the audit log).
 * @throws ApikeyError `usage` (2) for a bad `--reason`, or without a terminal and without `--yes`;
 *   `cancelled` (3) when the confirmation is declined; `not_signed_in` (4);
 *   `not_found` (1); `forbidden` (1) naming who may revoke it; `validation` (2) naming `--reason`.
 */
export async function revokeKey(deps: Deps, input: RevokeKeyInput): Promise<RevokeKeyResult> {
  refuseSecret(input.id, 'key id', 'KEY_ID')
  const reason = input.reason?.trim()
  if (reason !== undefined && (reason === '' || reason.length > MAX_REASON_LENGTH || /[\u0000-\u001f\u007f]/.test(reason))) {
    throw usageError(`--reason must be 1–${MAX_REASON_LENGTH} characters without control characters`, [], {flag: '--reason'})
  }
  const {api, server} = await signedInApi(deps, input)
  const current = await withListCommand(deps, 'keys', async () => readKey(api, input.id))
  if (!input.yes && current?.key.status !== 'revoked') {
    if (!deps.prompter.interactive) throw needsYes(`revoking key ${input.id}`)
    const what = current === undefined ? `${input.id} (a key of another team)` : describeKey(current.key, current.app)
    const ok = await deps.prompter.confirm({message: `Revoke ${what}? Everything using it stops working at once.`, flag: '--yes', default: false})
    if (!ok) throw new ApikeyError(`not revoked: ${input.id} is unchanged`, {code: 'cancelled'})
  }
  const answer = await withListCommand(deps, 'keys', async () => withFlagNames(api.revokeKey(input.id, reason === undefined ? undefined : {reason}), {reason: '--reason'}))
  return {
    server: server.url,
    app: current === undefined ? {slug: answer.key.app, team: ''} : {slug: current.app.slug, team: current.app.team.slug},
    key: answer.key,
    alreadyRevoked: answer.alreadyRevoked,
  }
}

/**
 * The key and its app, or undefined when the caller is a service admin outside
 * the key's team (they may revoke it, with a reason; the service decides).
 * @throws the service's error otherwise (`not_found`, `forbidden` for others).
 */
async function readKey(api: ApiClient, id: string): Promise<GetKeyResponse | undefined> {
  try {
    return await api.getKey(id)
  } catch (error) {
    if (error instanceof ApikeyError && error.code === 'forbidden' && (await api.me()).user.isAdmin) return undefined
    throw error
  }
}

/** `key_… (ak_weather-app_dev_4fT9…, dev, app weather-app of team weather)`. */
export function describeKey(key: KeyView, app: AppView): string {
  return `${key.id} (${key.start}, ${key.env}${key.name ? `, "${key.name}"` : ''}, app ${app.slug} of team ${app.team.slug})`
}
