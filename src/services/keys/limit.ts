/**
 * `apikey keys limit`: set or remove a key's own verification rate limit, in
 * requests per minute. A key's own limit wins over its app's app-wide limit,
 * which wins over the environment's default. Members of the owning team only.
 */
import {ApikeyError} from '../../core/errors.js'
import type {LimitView} from '../../core/wire.js'
import type {Deps} from '../../lib/deps.js'
import {rpmChange, signedInApi, withFlagNames, withListCommand, type LimitFlags} from '../common.js'
import {refuseSecret} from '../secret-args.js'

/** Input of {@link setKeyLimit}. */
export interface SetKeyLimitInput extends LimitFlags {
  /** Key id, `key_…`. */
  id: string
  server?: string
  timeoutMs: number
}

/**
 * Result of {@link setKeyLimit}; the `--json` output of `apikey keys limit`:
 * the service's answer plus the server. `rpm` is the key's own limit now
 * stored (null after `--clear`); `effective` is the limit now in force and
 * where it comes from (`key`, `app` or `default`).
 */
export interface SetKeyLimitResult extends LimitView {
  server: string
  keyId: string
  effective: NonNullable<LimitView['effective']>
}

/**
 * Sets (`--rpm N`) or removes (`--clear`) a key's own rate limit.
 * @throws ApikeyError `usage` (2) before any request for a secret given as KEY_ID
 *   (never echoed), or a missing, conflicting or invalid `--rpm` / `--clear`;
 *   `not_signed_in` (4); `key_not_found` (1); `forbidden` (1) naming the owning team.
 */
export async function setKeyLimit(deps: Deps, input: SetKeyLimitInput): Promise<SetKeyLimitResult> {
  refuseSecret(input.id, 'key id', 'KEY_ID')
  const rpm = rpmChange(input, 'key', input.id)
  const {api, server} = await signedInApi(deps, input)
  const answer = await withListCommand(deps, 'keys', async () => withFlagNames(api.setKeyLimit(input.id, {rpm}), {rpm: '--rpm'}))
  if (answer.keyId === null || answer.effective === null) {
    throw new ApikeyError(`the service at ${server.url} answered without the key id or the limit in force; it may be an older version`, {code: 'server_error'})
  }
  return {server: server.url, ...answer, keyId: answer.keyId, effective: answer.effective}
}
