/**
 * `apikey keys revoke`: stop a key from working, now. Asks for confirmation on
 * a terminal; otherwise `--yes` is required. Revoking twice is not an error.
 */
import {ApikeyError} from '../../core/errors.js'
import type {AppView, KeyView} from '../../core/wire.js'
import type {Deps} from '../../lib/deps.js'
import {needsYes, signedInApi} from '../common.js'
import {refuseSecret} from '../secret-args.js'

/** Input of {@link revokeKey}. */
export interface RevokeKeyInput {
  id: string
  yes: boolean
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

/**
 * Revokes a key after confirmation.
 * @throws ApikeyError `usage` (2) without a terminal and without `--yes` (before any network call);
 *   `cancelled` (3) when the confirmation is declined; `not_signed_in` (4);
 *   `not_found` (1); `forbidden` (1) naming the owning team.
 */
export async function revokeKey(deps: Deps, input: RevokeKeyInput): Promise<RevokeKeyResult> {
  refuseSecret(input.id, 'key id', 'KEY_ID')
  if (!input.yes && !deps.prompter.interactive) throw needsYes(`revoking key ${input.id}`)
  const {api, server} = await signedInApi(deps, input)
  const current = await api.getKey(input.id)
  if (!input.yes && current.key.status !== 'revoked') {
    const ok = await deps.prompter.confirm({message: `Revoke ${describeKey(current.key, current.app)}? Everything using it stops working at once.`, flag: '--yes', default: false})
    if (!ok) throw new ApikeyError(`not revoked: ${current.key.id} is unchanged`, {code: 'cancelled'})
  }
  const answer = await api.revokeKey(input.id)
  return {server: server.url, app: {slug: current.app.slug, team: current.app.team.slug}, key: answer.key, alreadyRevoked: answer.alreadyRevoked}
}

/** `key_… (ak_weather-app_dev_4fT9…, dev, app weather-app of team weather)`. */
export function describeKey(key: KeyView, app: AppView): string {
  return `${key.id} (${key.start}, ${key.env}${key.name ? `, "${key.name}"` : ''}, app ${app.slug} of team ${app.team.slug})`
}
