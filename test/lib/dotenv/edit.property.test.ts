import {parse} from 'dotenv'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {ApikeyError} from '../../../src/core/errors.js'
import {readLfLines, readVariable, scanDotenv, setVariable} from '../../../src/lib/dotenv/index.js'
import {linesWithTerminators, readWithShell} from './helpers.js'

// ---------------------------------------------------------------------------
// A grammar of realistic .env files: header comments, blank lines,
// commented-out keys, assignments with every quoting style, `export`,
// spacing around `=`, inline comments, multi-line double-quoted values,
// LF / CRLF / CR-only terminators, optional BOM and final newline.
// ---------------------------------------------------------------------------

const NAMES = ['API_KEY', 'A', 'DB_URL', 'port_number', 'X1', 'PRIVATE_KEY']
const name = fc.constantFrom(...NAMES)
const safeChar = fc.constantFrom(...'abcXYZ019_./:@+-'.split(''))
const textChar = fc.constantFrom(...'abc XYZ 019 _./:@+-=$#!%&*()[]{}<>?|;,~^é€'.split(''))
const plain = fc.string({unit: safeChar, minLength: 1, maxLength: 12})
const without = (excluded: string) => fc.string({unit: textChar, maxLength: 14}).map((s) => [...s].filter((c) => !excluded.includes(c)).join(''))

const valueText = fc.oneof(
  plain,
  fc.constant(''),
  without("'").map((s) => `'${s}'`),
  without('"\\').map((s) => `"${s}"`),
  without('`').map((s) => `\`${s}\``),
  fc.tuple(plain, plain).map(([a, b]) => `${a} ${b}`), // unquoted with an inner space
  fc.array(without('"\\#'), {minLength: 2, maxLength: 4}).map((parts) => `"${parts.join('\n')}"`), // multi-line
)

const assignment = fc
  .record({
    indent: fc.constantFrom('', ' ', '  '),
    exported: fc.boolean(),
    name,
    sep: fc.constantFrom('=', ' = ', ' =', '= '),
    value: valueText,
    comment: fc.option(without('\n').map((c) => ` # ${c}`), {nil: ''}),
  })
  .map((a) => `${a.indent}${a.exported ? 'export ' : ''}${a.name}${a.sep}${a.value}${a.comment}`)

const line = fc.oneof(
  {arbitrary: assignment, weight: 5},
  {arbitrary: fc.constantFrom('', '   '), weight: 1},
  {arbitrary: without('').map((c) => `# ${c}`), weight: 1},
  {arbitrary: fc.tuple(name, plain).map(([n, v]) => `# ${n}=${v}`), weight: 1},
)

const dotenvFile = fc
  .record({
    lines: fc.array(line, {maxLength: 10}),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    bom: fc.boolean(),
    finalEol: fc.boolean(),
  })
  .map(({lines, eol, bom, finalEol}) => {
    // Multi-line values use the file's own terminator inside too.
    const body = lines.map((l) => l.replace(/\n/g, eol)).join(eol)
    return (bom ? '\uFEFF' : '') + body + (finalEol && lines.length > 0 ? eol : '')
  })

const printableValue = fc.oneof(
  fc.string({unit: 'grapheme-ascii', maxLength: 40}),
  fc.string({unit: fc.constantFrom(...`'"$\`\\# =ab\t`.split('')), maxLength: 12}),
  fc.string({unit: 'grapheme', maxLength: 20}),
  fc.string({unit: 'binary', maxLength: 10}),
)

/** The documented reasons for refusing a value (see quoteDotenvValue). */
function mustRefuse(value: string): boolean {
  return /[\u0000-\u0008\u000A-\u001F\u007F\u0085\u2028\u2029]/.test(value) || (value.includes("'") && /["$`\\]/.test(value)) || value.endsWith('\\')
}

function without1(parsed: Record<string, string>, key: string): Record<string, string> {
  const copy = {...parsed}
  delete copy[key]
  return copy
}

describe('property: one variable changes, one line changes or is added', () => {
  it('set → re-read equals the value, others unchanged, diff is one line', () => {
    fc.assert(
      fc.property(dotenvFile, fc.constantFrom(...NAMES, 'NEW_VAR'), printableValue, (before, target, value) => {
        let result
        try {
          result = setVariable(before, target, value)
        } catch (error) {
          expect(error).toBeInstanceOf(ApikeyError)
          expect((error as ApikeyError).code).toBe('usage')
          expect(mustRefuse(value)).toBe(true)
          return
        }
        expect(mustRefuse(value)).toBe(false)
        const after = result.text

        // dotenv (both parsers) reads the value back; every other variable is unchanged.
        for (const fast of [false, true]) {
          expect(parse(after, {fast})[target]).toBe(value)
          expect(without1(parse(after, {fast}), target)).toEqual(without1(parse(before, {fast}), target))
        }
        expect(readVariable(after, target)).toBe(value)

        const b = linesWithTerminators(before)
        const a = linesWithTerminators(after)
        if (result.change === 'unchanged') {
          expect(after).toBe(before)
        } else if (result.change === 'added') {
          // A file with lone CRs is appended to with LF (after an LF), so LF-only parsers keep reading it as before.
          const loneCr = /\r(?!\n)/.test(before)
          const eol = loneCr ? '\n' : scanDotenv(before).eol
          if (before === '') {
            expect(a).toHaveLength(1)
          } else if (before === '\uFEFF') {
            expect(a).toEqual(['\uFEFF\n', `${target}=${a.at(-1)?.slice(target.length + 1)}`])
          } else {
            expect(a).toHaveLength(b.length + 1)
            expect(a.slice(0, -2)).toEqual(b.slice(0, -1))
            const last = b.at(-1) as string
            expect(a.at(-2)).toBe(loneCr ? (last.endsWith('\n') ? last : `${last}\n`) : /[\r\n]$/.test(last) ? last : last + eol)
          }
          expect(a.at(-1)).toMatch(new RegExp(`^${target}=[^\\r\\n]*${eol === '\n' ? '\\n' : eol === '\r' ? '\\r' : '\\r\\n'}$`))
          // Parsers that split on LF only read every other variable as before.
          for (const [name, v] of readLfLines(before)) if (name !== target) expect(readLfLines(after).get(name)?.replace(/\r$/, ''), name).toBe(v.replace(/\r$/, ''))
        } else {
          // One hunk: the assignment's line(s) in `before` replaced by exactly one line.
          let p = 0
          while (p < a.length && p < b.length && a[p] === b[p]) p++
          let s = 0
          while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++
          expect(a.length - p - s).toBe(1)
          const replaced = scanDotenv(before).assignments.filter((x) => x.name === target).at(-1)
          expect(replaced).toBeDefined()
          if (!replaced?.multiline) expect(b.length - p - s).toBe(1)
          // The changed line keeps its terminator.
          expect(a[p]?.match(/\r\n|\r|\n$/)?.[0]).toBe(b[b.length - 1 - s]?.match(/\r\n|\r|\n$/)?.[0])
        }
      }),
      {numRuns: 2000},
    )
  })

  it('a file built by setVariable is read back identically by sh', () => {
    fc.assert(
      fc.property(fc.array(printableValue, {minLength: 1, maxLength: 25}), (values) => {
        let text = ''
        const expected: Array<[string, string]> = []
        values.forEach((value, i) => {
          if (mustRefuse(value)) return
          text = setVariable(text, `V${i}`, value).text
          expected.push([`V${i}`, value])
        })
        if (expected.length === 0) return
        expect(readWithShell(text, expected.map(([n]) => n))).toEqual(expected.map(([, v]) => v))
      }),
      {numRuns: 40},
    )
  })
})
