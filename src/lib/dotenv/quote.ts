/**
 * How a value is written into a `.env` file so that every common reader gets
 * back the exact characters: the `dotenv` package (default and `fast`
 * parsers), dotenvx, and a POSIX shell `source`/`.` of the file.
 */
import {usageError} from '../../core/errors.js'

/**
 * Characters that need no quotes anywhere: no reader treats them specially
 * (`#` comments, spaces, quotes, `$` expansion, `\` escapes, `~` tilde
 * expansion, `=` and shell metacharacters are all excluded).
 */
export const PLAIN_VALUE_PATTERN = /^[A-Za-z0-9_./:@+-]+$/

/**
 * Characters that make a value impossible to write on one line so that it
 * reads back the same: line breaks (LF, CR, U+0085, U+2028, U+2029), NUL and
 * every other C0 control character except TAB, and DEL.
 */
export const UNWRITABLE_VALUE_PATTERN = /[\u0000-\u0008\u000A-\u001F\u007F\u0085\u2028\u2029]/

/** Characters that double quotes do not protect in at least one reader. */
const DOUBLE_QUOTE_UNSAFE = /["$`\\]/

/** How {@link quoteDotenvValue} wrote a value. */
export type DotenvQuoting = 'plain' | 'single' | 'double'

/**
 * Encodes `value` for the right-hand side of `NAME=…` in a `.env` file.
 *
 * The rule, first match wins:
 * 1. only characters of {@link PLAIN_VALUE_PATTERN} (and not empty) → written as is;
 * 2. no `'` and not ending in `\` → single quotes, `'value'`. Inside single
 *    quotes dotenv (both parsers) and dotenvx take every character literally
 *    (no `\n` escape, no `$` expansion), and so does `sh` — this is what makes
 *    `sk_$live$1234` or `pa$$word` safe. A trailing `\` is excluded
 *    because dotenv's matcher takes `\'` as an escaped quote and would run on
 *    to the next `'` further down the file. An empty value is written `''` so
 *    that a quote on the next line can never be taken as its value;
 * 3. contains `'` but none of `"`, `$`, backtick, `\` → double quotes,
 *    `"value"`. Those four are exactly the characters that are special inside
 *    double quotes for some reader: `"` ends the string, `$` and backtick
 *    expand in `sh` (and `$` in dotenvx/dotenv-expand), and `\` starts an
 *    escape (`\n` becomes a newline in dotenv; `\"`, `\\`, `\$` in `sh`);
 * 4. otherwise (a `'` together with one of those four, or a trailing `\`)
 *    → refused: no quoting reads back identically everywhere, and we never
 *    rely on backslash escapes because the readers disagree about them.
 *
 * Values with a line break, NUL or other control character (TAB excepted) are
 * always refused ({@link UNWRITABLE_VALUE_PATTERN}); a newline is never
 * written raw.
 *
 * Note: dotenv-expand works on already-parsed values, so it cannot see the
 * quotes; a `$` in any value may be expanded by it. Keys of our format never
 * contain `$`.
 *
 * @param value - the exact value wanted
 * @returns the text to put after `=` and which quoting was chosen
 * @throws ApikeyError code `usage` (exit 2) when the value cannot round-trip;
 *   the message names the offending kind of character, never the value
 */
export function quoteDotenvValue(value: string): {text: string; quoting: DotenvQuoting} {
  const bad = UNWRITABLE_VALUE_PATTERN.exec(value)
  if (bad) {
    const code = (bad[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')
    const what = bad[0] === '\n' || bad[0] === '\r' ? 'a line break' : `the control character U+${code}`
    throw usageError(`Cannot write this value to a .env file: it contains ${what}, which no .env reader reads back unchanged from one line.`, [
      'Use a value without line breaks or control characters, or keep it in the OS keychain instead (--store keychain).',
    ])
  }
  if (PLAIN_VALUE_PATTERN.test(value)) return {text: value, quoting: 'plain'}
  if (!value.includes("'") && !value.endsWith('\\')) return {text: `'${value}'`, quoting: 'single'}
  if (!DOUBLE_QUOTE_UNSAFE.test(value)) return {text: `"${value}"`, quoting: 'double'}
  if (!value.includes("'")) {
    throw usageError('Cannot write this value to a .env file: it ends with a backslash (\\), which dotenv would read as escaping the closing quote.', [
      'Use a value that does not end with a backslash, or keep it in the OS keychain instead (--store keychain).',
    ])
  }
  throw usageError(
    'Cannot write this value to a .env file: it contains a single quote (\') together with one of " $ ` \\, so neither single nor double quotes read back the same in dotenv, dotenvx and sh.',
    ['Use a value without that combination of characters, or keep it in the OS keychain instead (--store keychain).'],
  )
}
