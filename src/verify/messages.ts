/**
 * Verdicts the verifier decides itself, and the commands it tells callers to run.
 */
import {replacementCommand} from '../core/replacement-command.js'
import type {VerifyResponse} from '../core/wire.js'
import type {Verdict} from './types.js'

/**
 * Default command that gets a developer a key for their app, used until the service names its own
 * (`getKeyCommand` of its verdicts, from the service's settings) or the `getKeyCommand` option sets one.
 * Not `npx apikey init`: the public npm name `apikey` is another project's package.
 */
export const GET_KEY_COMMAND = 'apikey init'
/** Default command that issues a fresh key for a project whose key was revoked or expired ({@link newKeyCommand} of the default). */
export const NEW_KEY_COMMAND = 'apikey init --new-key'

/** The command that replaces a revoked or expired key: the get-key command with `--new-key`. */
export function newKeyCommand(getKeyCommand: string): string {
  return `${getKeyCommand} --new-key`
}

/** Message of the `unavailable` verdict. */
export const UNAVAILABLE_MESSAGE = 'verification unavailable'

const NO_OWNER = {app: null, team: null, env: null, keyId: null, expiresAt: null, rateLimit: null} as const

/** The verdict for an absent or empty key (no network). */
export function missingKeyVerdict(docsUrl: string, getKeyCommand: string = GET_KEY_COMMAND): Verdict {
  return {
    valid: false,
    code: 'MALFORMED',
    ...NO_OWNER,
    message: `missing key: send your app's API key in the X-API-Key header (or Authorization: Bearer). Get one with \`${getKeyCommand}\` in your project; see ${docsUrl}`,
    suggestions: [getKeyCommand],
    docsUrl,
    getKeyCommand,
    source: 'local',
  }
}

/** A MALFORMED verdict decided locally (no network); `reason` never contains the key. */
export function malformedVerdict(reason: string, docsUrl: string, getKeyCommand: string = GET_KEY_COMMAND): Verdict {
  return {
    valid: false,
    code: 'MALFORMED',
    ...NO_OWNER,
    message: `malformed API key: ${reason}. Copy the key again from where \`${getKeyCommand}\` stored it (keys are never trimmed), or get one with \`${getKeyCommand}\`; see ${docsUrl}`,
    suggestions: [getKeyCommand],
    docsUrl,
    getKeyCommand,
    source: 'local',
  }
}

/** The verdict when the service could not be asked and no cached verdict applies. */
export function unavailableVerdict(valid: boolean, docsUrl: string): Verdict {
  return {
    valid,
    code: 'UNAVAILABLE',
    ...NO_OWNER,
    message: UNAVAILABLE_MESSAGE,
    suggestions: [],
    docsUrl,
    source: 'local',
    unavailable: true,
  }
}

/** A VALID verdict whose own deadline (expiry or grace end) has passed: the key no longer verifies. */
export function pastDeadlineVerdict(verdict: VerifyResponse, deadline: number): Verdict {
  return {
    ...verdict,
    valid: false,
    code: 'EXPIRED',
    rateLimit: null,
    message: `the API key expired (or its rotation grace period ended) at ${new Date(deadline).toISOString()}`,
    suggestions: suggestionsFor({...verdict, code: 'EXPIRED'}),
    source: 'cache',
    stale: true,
  }
}

/** A RATE_LIMITED verdict decided from the local token bucket. */
export function rateLimitedVerdict(verdict: VerifyResponse, limit: number, resetMs: number, retryAfterSeconds: number): Verdict {
  return {
    ...verdict,
    valid: false,
    code: 'RATE_LIMITED',
    rateLimit: {limit, remaining: 0, resetMs, retryAfterSeconds},
    message: `rate limit of this API key exceeded: retry after ${retryAfterSeconds} s`,
    suggestions: [],
    source: 'cache',
  }
}

/**
 * Commands for a verdict, used only when the service sent none (a service older than its
 * suggestions, or a cached VALID verdict whose deadline passed here). An expired or revoked key
 * whose kind, app and environment the verdict names gets {@link replacementCommand}'s command
 * (`apikey init --new-key` for a personal dev key, `apikey keys create --app APP --env ENV` for a
 * service key, `apikey ci key` for a CI key); without them, the get-key command with `--new-key`.
 */
export function suggestionsFor(verdict: Pick<VerifyResponse, 'app' | 'env' | 'keyKind' | 'getKeyCommand'> & {code: string}): string[] {
  const getKeyCommand = verdict.getKeyCommand ?? GET_KEY_COMMAND
  switch (verdict.code) {
    case 'MALFORMED':
    case 'NOT_FOUND':
      return [getKeyCommand]
    case 'EXPIRED':
    case 'REVOKED':
      // An ended key cannot be rotated (the service refuses): a new key replaces it.
      if (verdict.keyKind !== undefined && verdict.app !== null && verdict.env !== null) {
        const status = verdict.code === 'EXPIRED' ? 'expired' : 'revoked'
        return [replacementCommand({kind: verdict.keyKind, app: verdict.app.slug, env: verdict.env, status}, getKeyCommand)]
      }
      return [newKeyCommand(getKeyCommand)]
    default:
      return []
  }
}
