/**
 * Pure, line-level editing of dotenv text.
 *
 * Only the target variable's line(s) change, or one line is appended; every
 * other byte — comments, order, quoting, `export`, spacing, line terminators,
 * BOM — is kept. Values are read with the `dotenv` package's own `parse`, and
 * every edit is checked with it before it is returned.
 */
import {parse} from 'dotenv'

import {ApikeyError, usageError} from '../../core/errors.js'
import {type DotenvQuoting, quoteDotenvValue} from './quote.js'
import {BOM, scanDotenv} from './scan.js'

/**
 * Names we write: a POSIX shell variable name (letters, digits, `_`, not
 * starting with a digit), so the file also works with `sh` `source`.
 * Reading accepts every name dotenv accepts (`[\w.-]+`).
 */
export const DOTENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

/** What {@link setVariable} did. */
export type DotenvChange = 'added' | 'updated' | 'unchanged'

/** Result of {@link setVariable}. */
export interface SetVariableResult {
  /** The new file text (identical to the input when `change` is `unchanged`). */
  text: string
  /** `added`: one line appended; `updated`: the assignment's line(s) replaced by one line; `unchanged`: already that value. */
  change: DotenvChange
  /** 1-based line number of the added or updated line (of the existing assignment when unchanged). */
  line: number
  /** How the value was quoted; `undefined` when unchanged. */
  quoting: DotenvQuoting | undefined
}

/**
 * Reads one variable the way the `dotenv` package does (default parser;
 * CRLF/CR normalised, quotes removed, `\n` expanded in double quotes only,
 * the last assignment of a name wins).
 *
 * @param text - the whole file
 * @param name - the variable name, case-sensitive
 * @returns the value, or `undefined` when the name is not assigned
 */
export function readVariable(text: string, name: string): string | undefined {
  const parsed = parse(text)
  return Object.prototype.hasOwnProperty.call(parsed, name) ? parsed[name] : undefined
}

/** 1-based line number of `offset` in `text` (CRLF, LF and CR each end a line). */
function lineNumberAt(text: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) line++
    else if (c === 13) {
      if (text.charCodeAt(i + 1) !== 10) line++
    }
  }
  return line
}

/** Own-property lookup in a parse result (a name like `__proto__` must not hit the prototype). */
function own(parsed: Record<string, string>, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(parsed, name) ? parsed[name] : undefined
}

/**
 * Reads `NAME=value` lines the way parsers that split on LF only do (POSIX `sh` sourcing the file,
 * `docker run --env-file`, many hand-written loaders): a CR is part of the line, a BOM is part of
 * the first name. Values are the raw text after `=` (no unquoting: only equality matters here).
 */
export function readLfLines(text: string): Map<string, string> {
  const values = new Map<string, string>()
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([^=\s]+)\s*=(.*)$/s.exec(line)
    if (match !== null) values.set(match[1] ?? '', match[2] ?? '')
  }
  return values
}

/**
 * Checks with `dotenv.parse` (default and `fast` parsers) that `after` reads
 * `name` as `value` and every other variable exactly as `before` did.
 *
 * @throws ApikeyError code `unsafe` (exit 5) naming the variables that would
 *   change (names only, never values)
 */
export function verifyEdit(before: string, after: string, name: string, value: string, options: {lfParsers?: boolean} = {}): void {
  if (options.lfParsers === true) {
    // An appended line must not change what an LF-only parser reads for any other name.
    const a = readLfLines(before)
    const b = readLfLines(after)
    // A CR that ends a value (CRLF files) is the same value to a parser that strips it and junk to one that does not.
    const changed = [...a.keys()].filter((k) => k !== name && b.get(k)?.replace(/\r$/, '') !== a.get(k)?.replace(/\r$/, ''))
    if (changed.length > 0) {
      throw new ApikeyError(`Refusing to edit the .env file: other variables would change for parsers that split lines on LF only: ${changed.join(', ')}.`, {
        code: 'unsafe',
        suggestions: [`Convert the .env file's line endings to LF, then run the command again.`],
        details: {variable: name, otherVariables: changed, parser: 'lf-lines'},
      })
    }
  }
  for (const fast of [false, true]) {
    const a = parse(before, {fast})
    const b = parse(after, {fast})
    const problems: string[] = []
    if (own(b, name) !== value) problems.push(`${name} would not read back as the value written`)
    const others = new Set([...Object.keys(a), ...Object.keys(b)])
    others.delete(name)
    const changed = [...others].filter((k) => own(a, k) !== own(b, k))
    if (changed.length > 0) problems.push(`other variables would change: ${changed.join(', ')}`)
    if (problems.length > 0) {
      throw new ApikeyError(
        `Refusing to edit the .env file: ${problems.join('; ')} (checked with dotenv's ${fast ? 'fast' : 'default'} parser). ` +
          'The file has syntax that a one-line edit cannot change safely, such as an unclosed quote.',
        {
          code: 'unsafe',
          suggestions: [`Fix the quoting in the .env file by hand (look near ${name}), then run the command again.`],
          details: {variable: name, otherVariables: changed, parser: fast ? 'fast' : 'default'},
        },
      )
    }
  }
}

/**
 * Sets one variable in dotenv text, changing exactly one assignment or
 * appending exactly one line.
 *
 * - Existing name: the assignment dotenv reads (the last one) is replaced by
 *   one line keeping its indentation, `export `, name, separator spacing and
 *   inline `# comment`; only the value changes (quoted per
 *   {@link quoteDotenvValue}). A multi-line assignment becomes one line.
 * - New name: `NAME=value` plus the file's own line terminator is appended;
 *   when the last line lacks a terminator one is added first; an empty file
 *   gets no leading blank line. Two cases write LF instead, for parsers that
 *   split lines on LF only (see {@link readLfLines}): a file holding only a BOM
 *   gets `\n` after the BOM (so the name does not start with U+FEFF for them), and a
 *   file with lone-CR line ends gets `\n` (when it does not already end with one) and
 *   `NAME=value\n`, so the variables before it read as they did and the new
 *   one is a line of its own. dotenv reads CR, LF and CRLF alike.
 * - A BOM is kept. When the value already reads back as `value`, nothing changes.
 *
 * The result is verified with {@link verifyEdit} before it is returned.
 *
 * @param text - the whole current file (`''` for a new file)
 * @param name - variable name, must match {@link DOTENV_NAME_PATTERN}
 * @param value - the exact value
 * @throws ApikeyError `usage` (exit 2) for an invalid name or a value that
 *   cannot round-trip; `unsafe` (exit 5) when the edit would change how any
 *   variable reads
 */
export function setVariable(text: string, name: string, value: string): SetVariableResult {
  if (!DOTENV_NAME_PATTERN.test(name)) {
    throw usageError(`Invalid variable name "${name}": use letters, digits and _ only, not starting with a digit.`, [
      'Choose a name such as API_KEY.',
    ])
  }
  const scan = scanDotenv(text)
  const current = scan.assignments.filter((a) => a.name === name).at(-1)
  if (current && readVariable(text, name) === value) {
    return {text, change: 'unchanged', line: lineNumberAt(text, current.start), quoting: undefined}
  }
  let {text: encoded, quoting} = quoteDotenvValue(value)
  // Keep the line's own quoting style when the new value needs none:
  // plain-safe characters read back identically inside '…' or "…".
  const ownQuote = current?.rawValue[0]
  if (quoting === 'plain' && (ownQuote === "'" || ownQuote === '"')) {
    encoded = `${ownQuote}${encoded}${ownQuote}`
    quoting = ownQuote === "'" ? 'single' : 'double'
  }

  let next: string
  let line: number
  let change: DotenvChange
  if (current) {
    const suffix = current.suffix.length > 0 && !/^\s/.test(current.suffix) ? ` ${current.suffix}` : current.suffix
    next = text.slice(0, current.start) + current.prefix + encoded + suffix + text.slice(current.end)
    line = lineNumberAt(text, current.start)
    change = 'updated'
  } else {
    let lead: string = scan.missingFinalEol ? scan.eol : ''
    let eol: string = scan.eol
    if (text === BOM) lead = '\n'
    else if (/\r(?!\n)/.test(text)) {
      eol = '\n'
      lead = text.endsWith('\n') ? '' : '\n'
    }
    next = text + lead + `${name}=${encoded}` + eol
    line = lineNumberAt(next, text.length + lead.length)
    change = 'added'
  }
  verifyEdit(text, next, name, value, {lfParsers: change === 'added'})
  return {text: next, change, line, quoting}
}
