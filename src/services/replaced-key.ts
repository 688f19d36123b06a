/**
 * What happens to a stored key that a new key replaces (`apikey init`,
 * `apikey keys create --store --replace`): an active key of the same person,
 * app and env is ended the way `keys rotate` ends one — it keeps working for a
 * grace period, then stops, with the new key recorded as its replacement
 * (`POST /v1/keys/{id}/replace`). Anything else is named by id and display
 * start (never the secret) with the command that ends it.
 */
import {parseKey} from '../core/key-format.js'
import type {KeyWhoamiResponse} from '../core/wire.js'
import type {ApiClient} from '../lib/api/client.js'
import {isoTime} from '../lib/render.js'

/** Default grace period of a key that `init` or `keys create --replace` replaces: short, because the replaced key is stored nowhere any more. */
export const INIT_GRACE = '1h'

/**
 * What became of the key that was stored where init stored the new one.
 * `ended`: it ends at `endsAt` (ms since epoch) after the grace period, replaced by the new key;
 * `already-ended`: it was revoked, expired or rotated before (nothing to do);
 * `not-ended`: init could not end it — `reason` says why and `command` ends it.
 * The key is named by id (when known) and display start, never by its secret.
 */
export interface ReplacedKey {
  id: string | null
  start: string
  env: string
  outcome: 'ended' | 'already-ended' | 'not-ended'
  /** When it stops (or stopped) working, ms since epoch, when known. */
  endsAt: number | null
  reason?: string
  /** The command that ends it (`apikey keys revoke KEY_ID`), for `not-ended`. */
  command?: string
  /** For `ended`: the grace period it was given, in ms (0: it stopped working at once). */
  graceMs?: number
}

/** A key found at the store, with what the service says about it (or why it could not say). */
export interface StoredKeyFacts {
  start: string
  app: string
  env: string
  /** The service's answer, or undefined when it could not be asked or does not know the key. */
  who?: KeyWhoamiResponse
  /** Why the service gave no answer. */
  problem?: string
}

/** What the service says about a stored value; undefined when the value is not a well-formed key. */
export async function describeStoredKey(api: ApiClient, value: string): Promise<StoredKeyFacts | undefined> {
  const parsed = parseKey(value)
  if (!parsed.valid) return undefined
  const facts: StoredKeyFacts = {start: parsed.start!, app: parsed.app!, env: parsed.env!}
  try {
    facts.who = await api.whoamiKey(value)
  } catch (error) {
    facts.problem = error instanceof Error ? error.message : String(error)
  }
  return facts
}

/**
 * Ends the key that the new key replaced at the store, as `keys rotate` ends a
 * rotated key: it keeps working for `graceMs`, then stops (the service records the
 * new key as its replacement). Only an active key of the developer, for the same
 * app and env, is ended; anything else is reported with the command that ends it.
 * Never throws: the new key is already stored.
 */
export async function endReplacedKey(
  api: ApiClient,
  old: StoredKeyFacts,
  fresh: {id: string; app: string; env: string; username: string; graceMs: number},
): Promise<ReplacedKey> {
  const k = old.who?.key
  const base = {id: k?.id ?? null, start: old.start, env: old.env}
  const revokeCommand = k === undefined ? `apikey keys list --app ${old.app}, then apikey keys revoke KEY_ID` : `apikey keys revoke ${k.id}`
  if (k === undefined) {
    return {...base, outcome: 'not-ended', endsAt: null, reason: `the key service could not say which key it is (${old.problem ?? 'no answer'})`, command: revokeCommand}
  }
  if (k.status !== 'active') return {...base, outcome: 'already-ended', endsAt: k.revokedAt ?? k.expiresAt, reason: `it was already ${k.status}`}
  if (k.rotation) return {...base, outcome: 'already-ended', endsAt: k.rotation.graceEndsAt, reason: `it was already rotated (replaced by ${k.rotation.replacedBy})`}
  const notEnded = (reason: string): ReplacedKey => ({...base, outcome: 'not-ended', endsAt: k.expiresAt, reason, command: revokeCommand})
  if (old.app !== fresh.app || old.env !== fresh.env) return notEnded(`it is a key of ${old.app === fresh.app ? `env ${old.env}` : `app ${old.app}`}, not replaced by the new ${fresh.env} key`)
  if (k.createdBy !== fresh.username) return notEnded(`it is ${k.createdBy}'s key, not yours: ask ${k.createdBy} or an owner of the team`)
  try {
    const answer = await api.replaceKey(k.id, {replacementId: fresh.id, graceMs: fresh.graceMs})
    return {...base, outcome: 'ended', endsAt: answer.oldKey.rotation.graceEndsAt, graceMs: fresh.graceMs}
  } catch (error) {
    return notEnded(`the key service did not end it: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/**
 * One line about a {@link ReplacedKey} for the person who replaced it. A key
 * ended with no grace period "stopped working at once"; `--grace` is suggested
 * only when `graceGiven` is false (the default grace was used).
 */
export function replacedKeyMessage(
  r: ReplacedKey,
  time: (ms: number | null, preposition?: string) => string = (ms, preposition) => (preposition === undefined || ms === null ? isoTime(ms) : `${preposition} ${isoTime(ms)}`),
  graceGiven = false,
): string {
  const name = `${r.id === null ? 'the key' : `key ${r.id}`} (${r.start})`
  switch (r.outcome) {
    case 'ended':
      if (r.graceMs === 0) return `the replaced ${name} stopped working at once (${time(r.endsAt)})`
      return `the replaced ${name} keeps working, and stops ${time(r.endsAt, 'at')}${graceGiven ? '' : ' (pass --grace to choose how long)'}`
    case 'already-ended':
      return `the replaced ${name} needs no ending: ${r.reason}`
    default:
      return `the replaced ${name} was NOT ended and ${r.endsAt === null ? 'may still work' : `works, and stops ${time(r.endsAt, 'at')}`}: ${r.reason}; end it: ${r.command}`
  }
}

