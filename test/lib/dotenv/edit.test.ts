import {parse} from 'dotenv'
import {describe, expect, it} from 'vitest'

import {ApikeyError} from '../../../src/core/errors.js'
import {quoteDotenvValue, readLfLines, readVariable, scanDotenv, setVariable, verifyEdit} from '../../../src/lib/dotenv/index.js'
import {readWithShell} from './helpers.js'

/** Runs `fn`, expecting an ApikeyError, and returns it. */
function catchApikeyError(fn: () => unknown): ApikeyError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ApikeyError)
    return error as ApikeyError
  }
  throw new Error('expected an ApikeyError')
}

const PEM = '"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nKEY=inside-the-pem\n-----END PRIVATE KEY-----"'

describe('multi-line double-quoted value next to our variable', () => {
  const text = `PRIVATE_KEY=${PEM}\nAPI_KEY=old\n`

  it('reads both values', () => {
    expect(readVariable(text, 'PRIVATE_KEY')).toBe('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nKEY=inside-the-pem\n-----END PRIVATE KEY-----')
    expect(readVariable(text, 'API_KEY')).toBe('old')
    expect(readVariable(text, 'KEY')).toBeUndefined()
  })

  it('updating API_KEY leaves the PEM block byte-identical', () => {
    const result = setVariable(text, 'API_KEY', 'new')
    expect(result).toEqual({text: `PRIVATE_KEY=${PEM}\nAPI_KEY=new\n`, change: 'updated', line: 5, quoting: 'plain'})
  })

  it('a line inside the quoted block is not an assignment: setting KEY appends', () => {
    const result = setVariable(text, 'KEY', 'v')
    expect(result.text).toBe(`${text}KEY=v\n`)
    expect(result.change).toBe('added')
  })

  it('the scanner sees one multi-line assignment spanning four lines', () => {
    const scan = scanDotenv(text)
    expect(scan.assignments.map((a) => [a.name, a.multiline])).toEqual([
      ['PRIVATE_KEY', true],
      ['API_KEY', false],
    ])
  })

  it.each([
    ['LF', 'a\nb'],
    ['CR', 'a\rb'],
    ['CRLF', 'a\r\nb'],
    ['NUL', 'a\0b'],
    ['U+2028', 'a\u2028b'],
    ['ESC', 'a\u001bb'],
  ])('refuses a value containing %s and writes nothing raw', (_label, value) => {
    const error = catchApikeyError(() => setVariable(text, 'API_KEY', value))
    expect(error.code).toBe('usage')
    expect(error.exitCode).toBe(2)
    expect(error.message).not.toContain(value)
  })
})

describe('CRLF and CR-only line endings', () => {
  it('CRLF: reads old without \\r and keeps CRLF on update and append', () => {
    const text = 'A=1\r\nAPI_KEY=old\r\nCERT="x\r\ny"\r\n'
    expect(readVariable(text, 'API_KEY')).toBe('old')
    expect(readVariable(text, 'CERT')).toBe('x\ny')
    expect(setVariable(text, 'API_KEY', 'new').text).toBe('A=1\r\nAPI_KEY=new\r\nCERT="x\r\ny"\r\n')
    expect(setVariable(text, 'B', 'two').text).toBe('A=1\r\nAPI_KEY=old\r\nCERT="x\r\ny"\r\nB=two\r\n')
  })

  it('CRLF multi-line value is kept byte for byte when a later variable changes', () => {
    const text = 'CERT="line1\r\nline2"\r\nAPI_KEY=old\r\n'
    expect(setVariable(text, 'API_KEY', 'new').text).toBe('CERT="line1\r\nline2"\r\nAPI_KEY=new\r\n')
  })

  it('CR-only: reads old and keeps CR terminators on update', () => {
    const text = 'A=1\rAPI_KEY=old\rC=3\r'
    expect(readVariable(text, 'API_KEY')).toBe('old')
    expect(setVariable(text, 'API_KEY', 'new').text).toBe('A=1\rAPI_KEY=new\rC=3\r')
  })

  it('CR-only: an appended line is LF-terminated after an LF, so parsers that split on LF read the other variables as before', () => {
    for (const text of ['A=1\rAPI_KEY=old\rC=3\r', 'A=1\rC=3', 'A=1\r\nB=2\rC=3\r']) {
      const after = setVariable(text, 'D', '4').text
      expect(after).toBe(`${text}${text.endsWith('\n') ? '' : '\n'}D=4\n`)
      const [before, now] = [readLfLines(text), readLfLines(after)]
      for (const [name, value] of before) expect(now.get(name), name).toBe(value)
      expect(now.get('D')).toBe('4')
      expect(readVariable(after, 'D')).toBe('4')
      expect(readVariable(after, 'C')).toBe('3')
      // POSIX sh is such a parser: a lone CR is part of a value to it.
      expect(readWithShell(after, ['A', 'D'])).toEqual([readWithShell(text, ['A'])[0], '4'])
    }
  })

  it('a file holding only a BOM: the new variable is read by sh too (its name does not start with U+FEFF)', () => {
    const after = setVariable('\uFEFF', 'API_KEY', 'k').text
    expect(readVariable(after, 'API_KEY')).toBe('k')
    expect(readLfLines(after).get('API_KEY')).toBe('k')
    expect(readWithShell(after, ['API_KEY'])).toEqual(['k'])
  })

  it('an append that would change another variable for LF-only parsers is refused', () => {
    expect(() => verifyEdit('A=1\rB=2\r', 'A=1\rB=2\rD=4\r', 'D', '4', {lfParsers: true})).toThrow(/parsers that split lines on LF only: A/)
  })

  it('CRLF with a BOM: BOM kept', () => {
    const text = '\uFEFFAPI_KEY=old\r\nB=2\r\n'
    expect(readVariable(text, 'API_KEY')).toBe('old')
    expect(setVariable(text, 'API_KEY', 'new').text).toBe('\uFEFFAPI_KEY=new\r\nB=2\r\n')
  })
})

describe('export prefix and spacing around =', () => {
  const text = 'export API_KEY=old\nexport port_number = 8000\n'

  it('reads both; key names are not trimmed or case-folded', () => {
    expect(readVariable(text, 'API_KEY')).toBe('old')
    expect(readVariable(text, 'port_number')).toBe('8000')
    expect(readVariable(text, 'PORT_NUMBER')).toBeUndefined()
  })

  it('keeps export and the spacing on update', () => {
    expect(setVariable(text, 'API_KEY', 'new').text).toBe('export API_KEY=new\nexport port_number = 8000\n')
    expect(setVariable(text, 'port_number', '9000').text).toBe('export API_KEY=old\nexport port_number = 9000\n')
  })

  it('keeps indentation', () => {
    expect(setVariable('  export  API_KEY =  old\n', 'API_KEY', 'new').text).toBe('  export  API_KEY =  new\n')
  })

  it('refuses names that are not shell variable names', () => {
    for (const name of ['port number', '1KEY', 'A-B', 'A.B', '', 'API_KEY ']) {
      expect(catchApikeyError(() => setVariable(text, name, 'v')).code).toBe('usage')
    }
  })
})

describe('values with #, spaces, quotes, $, backtick or =', () => {
  const text = 'PORT=3000 # note\nAPI_KEY=old\n'

  it.each([
    ['has#hash', "'has#hash'"],
    ['two words', "'two words'"],
    [' padded ', "' padded '"],
    ['a=b', "'a=b'"],
    ['cost$5', "'cost$5'"],
    ['tick`x`', "'tick`x`'"],
    ['say "hi"', `'say "hi"'`],
    ['~/home', "'~/home'"],
    ['x;rm -rf', "'x;rm -rf'"],
    ['tab\there', "'tab\there'"],
  ])('%j is quoted, reads back, and PORT is untouched', (value, written) => {
    const result = setVariable(text, 'API_KEY', value)
    expect(result.text).toBe(`PORT=3000 # note\nAPI_KEY=${written}\n`)
    expect(readVariable(result.text, 'API_KEY')).toBe(value)
    expect(readVariable(result.text, 'PORT')).toBe('3000')
    expect(readWithShell(result.text, ['API_KEY', 'PORT'])).toEqual([value, '3000'])
  })

  it('keeps an inline comment on the updated line', () => {
    expect(setVariable(text, 'PORT', '4000').text).toBe('PORT=4000 # note\nAPI_KEY=old\n')
    expect(setVariable(text, 'PORT', 'a b').text).toBe("PORT='a b' # note\nAPI_KEY=old\n")
  })

  it('separates a comment that touched the old value with a space', () => {
    // dotenv reads `X=abc#c` as "abc"; sh would read "abc#c"
    expect(setVariable('X=abc#c\n', 'X', 'new').text).toBe('X=new #c\n')
  })

  it('safe characters stay unquoted', () => {
    expect(quoteDotenvValue('ak_weather-app_dev_4fT9aB.c/d:e@f+g')).toEqual({text: 'ak_weather-app_dev_4fT9aB.c/d:e@f+g', quoting: 'plain'})
  })
})

describe('empty values and commented-out keys', () => {
  const text = 'APP_ID=\nAPI_KEY=abcd\n# OLD_KEY=x\n'

  it('empty stays empty and does not swallow the next line', () => {
    expect(parse(text)).toEqual({APP_ID: '', API_KEY: 'abcd'})
    expect(readVariable(text, 'APP_ID')).toBe('')
    expect(readVariable(text, 'API_KEY')).toBe('abcd')
    expect(readVariable(text, 'OLD_KEY')).toBeUndefined()
  })

  it('updating API_KEY keeps APP_ID empty and the comment a comment', () => {
    expect(setVariable(text, 'API_KEY', 'efgh').text).toBe('APP_ID=\nAPI_KEY=efgh\n# OLD_KEY=x\n')
  })

  it('updating the empty APP_ID changes only its line', () => {
    expect(setVariable(text, 'APP_ID', 'z').text).toBe('APP_ID=z\nAPI_KEY=abcd\n# OLD_KEY=x\n')
  })

  it('setting a commented-out key appends a line and keeps the comment', () => {
    expect(setVariable(text, 'OLD_KEY', 'y').text).toBe('APP_ID=\nAPI_KEY=abcd\n# OLD_KEY=x\nOLD_KEY=y\n')
  })

  it("an empty value is written as '' so a quote on the next line cannot become its value", () => {
    const result = setVariable("A=1\n'x'\n", 'B', '')
    expect(result.text).toBe("A=1\n'x'\nB=''\n")
    expect(readVariable(result.text, 'B')).toBe('')
    // Setting an existing non-empty variable to empty
    expect(setVariable('B=1\n', 'B', '').text).toBe("B=''\n")
  })
})

describe('final newline, empty file, comment-only file', () => {
  it.each([
    ['missing final LF', 'A=1', 'A=1\nAPI_KEY=k\n'],
    ['empty file', '', 'API_KEY=k\n'],
    ['BOM only: a newline after the BOM, so the name does not start with U+FEFF for parsers that keep it', '\uFEFF', '\uFEFF\nAPI_KEY=k\n'],
    ['only a comment, no newline', '# comment', '# comment\nAPI_KEY=k\n'],
    ['only a comment with newline', '# comment\n', '# comment\nAPI_KEY=k\n'],
    ['CRLF without final newline', 'A=1\r\nB=2', 'A=1\r\nB=2\r\nAPI_KEY=k\r\n'],
    ['CR-only without final newline', 'A=1\rB=2', 'A=1\rB=2\nAPI_KEY=k\n'],
    ['blank lines at the end are kept', 'A=1\n\n\n', 'A=1\n\n\nAPI_KEY=k\n'],
  ])('%s', (_label, before, after) => {
    const result = setVariable(before, 'API_KEY', 'k')
    expect(result.text).toBe(after)
    expect(result.change).toBe('added')
  })

  it('updating the last line without a newline does not add one', () => {
    expect(setVariable('A=1\nAPI_KEY=old', 'API_KEY', 'new').text).toBe('A=1\nAPI_KEY=new')
  })

  it('reports the 1-based line number of the added line', () => {
    expect(setVariable('', 'API_KEY', 'k').line).toBe(1)
    expect(setVariable('A=1', 'API_KEY', 'k').line).toBe(2)
    expect(setVariable('A=1\r\n\r\n', 'API_KEY', 'k').line).toBe(3)
  })
})

describe('values with $ (dotenv, sh and dotenvx read single quotes literally)', () => {
  it.each(['sk_$live$1234', 'pa$$word', '$HOME', '${USER:-x}', '$(id)', '`id`'])('%j is single-quoted and reads back in dotenv and sh', (value) => {
    const result = setVariable('API_KEY=old\n', 'API_KEY', value)
    expect(result.text).toBe(`API_KEY='${value}'\n`)
    expect(result.quoting).toBe('single')
    expect(readVariable(result.text, 'API_KEY')).toBe(value)
    expect(parse(result.text, {fast: true}).API_KEY).toBe(value)
    expect(readWithShell(result.text, ['API_KEY'])).toEqual([value])
  })
})

describe("values with ', \", both, backslashes, a literal \\n", () => {
  it.each([
    ["it's", `"it's"`, 'double'],
    ['say "hi"', `'say "hi"'`, 'single'],
    ['back\\slash', "'back\\slash'", 'single'],
    ['literal\\nnot-a-newline', "'literal\\nnot-a-newline'", 'single'],
    ["it's #1 & more", `"it's #1 & more"`, 'double'],
  ])('%j → %s', (value, written, quoting) => {
    const result = setVariable('API_KEY=old\n', 'API_KEY', value)
    expect(result.text).toBe(`API_KEY=${written}\n`)
    expect(result.quoting).toBe(quoting)
    expect(readVariable(result.text, 'API_KEY')).toBe(value)
    expect(parse(result.text, {fast: true}).API_KEY).toBe(value)
    expect(readWithShell(result.text, ['API_KEY'])).toEqual([value])
  })

  it.each([`both ' and "`, "it's $HOME", "it's `x`", "it's a\\b", "it's \\n"])('%j is refused (no quote fits)', (value) => {
    const error = catchApikeyError(() => setVariable('API_KEY=old\n', 'API_KEY', value))
    expect(error.code).toBe('usage')
    expect(error.message).toMatch(/single quote/)
  })

  it('a trailing backslash is refused: dotenv would take \\\' as an escaped closing quote', () => {
    const error = catchApikeyError(() => setVariable('API_KEY=old\n', 'API_KEY', 'trailing\\'))
    expect(error.code).toBe('usage')
    expect(error.message).toMatch(/ends with a backslash/)
    // What would go wrong: the next quoted line is swallowed.
    expect(parse("A='x\\'\nB='#'\n")).not.toEqual({A: 'x\\', B: '#'})
  })
})

describe('duplicates: dotenv reads the last assignment, so that one is updated', () => {
  it('updates the last of two assignments', () => {
    const text = 'API_KEY=first\nA=1\nAPI_KEY=second\n'
    expect(readVariable(text, 'API_KEY')).toBe('second')
    const result = setVariable(text, 'API_KEY', 'third')
    expect(result.text).toBe('API_KEY=first\nA=1\nAPI_KEY=third\n')
    expect(result.line).toBe(3)
    expect(readVariable(result.text, 'API_KEY')).toBe('third')
  })

  it('unchanged when the value already reads back the same (any quoting)', () => {
    const text = "A=1\nAPI_KEY='same'\n"
    expect(setVariable(text, 'API_KEY', 'same')).toEqual({text, change: 'unchanged', line: 2, quoting: undefined})
  })
})

describe('verification before anything is returned', () => {
  it('refuses an edit that would change how another variable reads (unclosed quote swallowing the next lines)', () => {
    // dotenv reads A as the whole quoted block up to the quote on the last line;
    // replacing A's line(s) is fine, but appending after a dangling quote is checked too.
    const text = "A='unclosed\nB=2\nC='x'\n"
    const before = parse(text)
    const result = setVariable(text, 'API_KEY', 'v')
    expect(parse(result.text)).toEqual({...before, API_KEY: 'v'})
  })

  it('throws unsafe (exit 5) when the new line would change another variable', () => {
    // dotenv would let the unclosed quote of A run into the appended line up to its `'#`.
    const text = "A='open\n"
    expect(parse(`${text}B="x '#"\n`).A).toBe('open\nB="x ')
    const error = catchApikeyError(() => setVariable(text, 'B', "x '#"))
    expect(error.code).toBe('unsafe')
    expect(error.exitCode).toBe(5)
    expect(error.message).toContain('B would not read back')
    expect(error.message).toContain('other variables would change: A')
    expect(error.message).not.toContain("x '#")
  })
})
