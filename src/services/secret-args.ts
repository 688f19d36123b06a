/**
 * Secrets where an id or a slug belongs: an API key, a
 * session token (`aks_…`), a provisioning token (`akp_…`) or a verifier token
 * (`akv_…`) pasted where a key id (`key_…`), token id (`tok_…`), app slug or
 * team slug is expected. Refused before any request — never echoed, never put
 * in a URL — with what to pass instead.
 */
import {usageError, type ApikeyError} from '../core/errors.js'
import {findSecret, type FoundSecret} from '../core/secrets.js'

export type {SecretKind} from '../core/secrets.js'

/**
 * Does `value` look like (or contain) a secret? Returns its kind and a safe
 * description (at most a key's display start, only the prefix for tokens), or
 * undefined. The detection is the one guard's ({@link findSecret}).
 */
export function secretKind(value: string): FoundSecret | undefined {
  return findSecret(value)
}

/** What a command expected instead of the secret. */
export type Expected = 'key id' | 'token id' | 'app slug' | 'team slug' | 'verifier name'

const EXAMPLE: Record<Expected, string> = {
  'key id': 'key_ followed by 20 letters and digits',
  'token id': 'tok_ followed by 20 letters and digits',
  'app slug': 'e.g. weather-app',
  'team slug': 'e.g. weather',
  'verifier name': 'a name for the protected API, e.g. orders-prod',
}

/**
 * Throws a usage error (exit 2) when `value` looks like a secret; the message
 * names the kind (and for a key its display start), never the value.
 * @param name - the flag or argument, e.g. `KEY_ID`, `--app`.
 */
export function refuseSecret(value: string | undefined, expected: Expected, name: string): void {
  if (value === undefined) return
  const found = secretKind(value)
  if (found === undefined) return
  throw secretError(found, expected, name)
}

function secretError(found: FoundSecret, expected: Expected, name: string): ApikeyError {
  const suggestions: string[] = []
  if (found.kind === 'api-key') {
    if (expected === 'key id') suggestions.push('apikey whoami KEY   (shows the key id of a key you have), or apikey keys list --app APP')
    else suggestions.push('apikey whoami KEY   (shows the app and team of a key you have)')
  } else if (found.kind === 'provisioning-token') {
    suggestions.push(expected === 'token id' ? 'apikey tokens list --app APP   (shows token ids, tok_…)' : 'apikey tokens list   (shows each token\'s id and app)')
  } else if (found.kind === 'session-token') {
    suggestions.push('apikey status   (shows your session; a session token is never an argument)')
  } else {
    suggestions.push('verifier tokens belong in the protected API\'s configuration, never on a command line')
  }
  if (expected === 'key id' && found.kind !== 'api-key') suggestions.push('apikey keys list --app APP   (shows key ids, key_…)')
  if (expected === 'app slug') suggestions.push('apikey apps list   (shows app slugs)')
  suggestions.push(`this value is a secret: if it was shared or logged, rotate or revoke it`)
  return usageError(
    `${name} expects ${expected === 'app slug' ? 'an' : 'a'} ${expected} (${EXAMPLE[expected]}), but the value given looks like ${found.shown}; it was not sent anywhere (secrets never go in URLs or ids)`,
    suggestions,
    {flag: name, expected, got: found.kind},
  )
}
