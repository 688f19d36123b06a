/**
 * `apikey keys list`: the keys of an app, without secrets.
 */
import type {KeyView} from '../../core/wire.js'
import type {Deps} from '../../lib/deps.js'
import {resolveApp, signedInApi} from '../common.js'

/** Input of {@link listKeys}. */
export interface ListKeysInput {
  app?: string
  server?: string
  timeoutMs: number
}

/** Result of {@link listKeys}; the `--json` output of `apikey keys list`. */
export interface ListKeysResult {
  server: string
  app: string
  /** Newest first, as the service answers; timestamps in ms since epoch. */
  keys: KeyView[]
}

/**
 * Lists an app's keys.
 * @throws ApikeyError `usage` (2) without an app; `not_signed_in` (4); `forbidden` (1) naming the owning team; `not_found` (1).
 */
export async function listKeys(deps: Deps, input: ListKeysInput): Promise<ListKeysResult> {
  const app = await resolveApp(deps, input.app)
  const {api, server} = await signedInApi(deps, input)
  const answer = await api.listKeys(app)
  return {server: server.url, app, keys: answer.keys}
}
