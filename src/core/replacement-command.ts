/**
 * The one rule for which command replaces (or renews) an API key, shared by the key service's
 * verification answers, the verifier library's local fallback, `apikey whoami` and `apikey keys rotate`.
 */
import type {KeyEnvironment} from './key-format.js'
import type {KeyKind, KeyStatus} from './wire.js'

/** Default command that gets a developer a key for their project (the service may configure another). */
export const DEFAULT_GET_KEY_COMMAND = 'apikey init'

/** What the rule needs to know about a key. `id` is needed only for an active service key. */
export interface ReplaceableKey {
  kind: KeyKind
  /** App slug. */
  app: string
  env: KeyEnvironment
  status: KeyStatus
  id?: string
}

/**
 * The command that gives the holder of `key` a working key:
 * - a personal `dev` key: `<getKeyCommand> --new-key` (e.g. `apikey init --new-key`);
 * - a `ci` key: `apikey ci key` (the CI job fetches a fresh key for every build);
 * - an active `service` key with a known id: `apikey keys rotate KEY_ID`;
 * - any other `service` key (expired or revoked: those cannot be rotated):
 *   `apikey keys create --app APP --env ENV`.
 * @param getKeyCommand - the get-key command the key service is configured with (default `apikey init`).
 * @returns a command line; it never contains a secret (only the slug, environment and key id).
 */
export function replacementCommand(key: ReplaceableKey, getKeyCommand: string = DEFAULT_GET_KEY_COMMAND): string {
  if (key.kind === 'dev') return `${getKeyCommand} --new-key`
  if (key.kind === 'ci') return 'apikey ci key'
  if (key.status === 'active' && key.id !== undefined) return `apikey keys rotate ${key.id}`
  return `apikey keys create --app ${key.app} --env ${key.env}`
}
