/**
 * Applies the free-text guard of `core/secrets.ts` to every string flag and
 * argument a command was given, before the command runs: a secret (API key,
 * session, provisioning or verifier token) in any of them, a password given as
 * a username, or an invisible or direction-changing character is a usage
 * error (exit 2) that never shows the value.
 *
 * A command states how a flag or argument is checked in `static inputRules`:
 * `text` (the default), `id` (a key's or token's display start is recognised),
 * `username`, or `secret` for the few inputs that are meant to carry a secret
 * (`whoami KEY`, `run --key`), which are not checked.
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {checkInput, scrubSecrets, type InputRule} from '../core/secrets.js'

/**
 * How each flag or argument (by its name as declared) is checked; absent means
 * `text`. An object also names what the input expects, for the message.
 */
export type InputRules = Readonly<Record<string, InputRule | 'secret' | {rule: InputRule; expected: string}>>

/** What an argument is called in messages: `keyId` → `KEY_ID`. */
export function argLabel(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/** What common flags and arguments expect, named in the message when a secret or display start is given. */
const EXPECTED: Readonly<Record<string, string>> = {
  KEY_ID: 'a key id (key_ followed by 20 letters and digits)',
  TOKEN_ID: 'a token id (tok_ followed by 20 letters and digits)',
  APP: 'an app slug (e.g. weather-app)',
  '--app': 'an app slug (e.g. weather-app)',
  '--team': 'a team slug (e.g. weather)',
  '--to-team': 'a team slug (e.g. weather)',
  VERIFIER: 'a verifier name or id (vrf_…)',
}

/**
 * Checks every string value among `flags` and `args`.
 * @throws ApikeyError code `usage` (exit 2) with the message of {@link checkInput}, naming the flag (`--name`) or argument (`KEY_ID`).
 */
export function guardInputs(flags: Record<string, unknown>, args: Record<string, unknown>, rules: InputRules): void {
  for (const [kind, values] of [['flag', flags], ['arg', args]] as const) {
    for (const [name, value] of Object.entries(values)) {
      const declared = rules[name] ?? 'text'
      if (declared === 'secret') continue
      const label = kind === 'flag' ? `--${name}` : argLabel(name)
      const rule = typeof declared === 'string' ? declared : declared.rule
      const expected = typeof declared === 'string' ? EXPECTED[label] : declared.expected
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item !== 'string') continue
        try {
          checkInput(item, label, {rule, ...(expected === undefined ? {} : {expected})})
        } catch (error) {
          // On the command line a refused input is a usage error (exit 2), like any other bad flag.
          if (error instanceof ApikeyError) throw usageError(error.message, error.suggestions, error.details)
          throw error
        }
      }
    }
  }
}

/** A parser error message fit to print: every secret in it (e.g. an echoed flag value) replaced by its kind. */
export function scrubParseMessage(message: string): string {
  return scrubSecrets(message)
}
