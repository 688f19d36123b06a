/**
 * Line-level scanner of dotenv text.
 *
 * It finds where each assignment starts and ends using the very regular
 * expression of the `dotenv` package (v18, default parser), so "which text is
 * the assignment of `NAME`" is answered exactly as dotenv answers it: quoted
 * values may span lines, `export ` is optional, `KEY: value` is accepted, an
 * unquoted value ends at the first `#`, and lines that do not match are
 * ignored. Values themselves are read with `dotenv.parse` (see `edit.ts`); the
 * scanner only locates text.
 */

/**
 * dotenv 18's `LINE` expression, with extra capture groups around the
 * `export` prefix and the separator (captures do not change what matches):
 * 1 = `export` prefix, 2 = key, 3 = separator (`=` or `:`), 4 = raw value.
 * It runs on text whose line breaks were normalised to LF, as dotenv does.
 */
const DOTENV_LINE =
  /(?:^|^)\s*(export\s+)?([\w.-]+)(\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm

/** The UTF-8 byte order mark as a JavaScript character (U+FEFF). */
export const BOM = '\uFEFF'

/** A line terminator found in dotenv text. */
export type LineTerminator = '\n' | '\r\n' | '\r'

/**
 * One assignment found in dotenv text. Offsets are UTF-16 code-unit indexes
 * into the text given to {@link scanDotenv} (BOM included when present).
 */
export interface DotenvAssignment {
  /** The variable name exactly as written (never trimmed beyond dotenv's own rule). */
  name: string
  /** Whether the assignment starts with `export `. */
  exported: boolean
  /** Offset of the start of the line holding the assignment's first character. */
  start: number
  /** Offset just past the assignment's last line, before that line's terminator. */
  end: number
  /**
   * Text kept when the value is replaced: indentation, `export `, name,
   * separator with its spacing, and the horizontal space before the value.
   */
  prefix: string
  /** The value as written (quotes included, surrounding spaces excluded). */
  rawValue: string
  /** Text kept after the value on its last line: spaces and an inline `# comment`. */
  suffix: string
  /** Whether the assignment spans more than one line (e.g. a quoted multi-line value). */
  multiline: boolean
}

/** Result of {@link scanDotenv}. */
export interface DotenvScan {
  /** Whether the text starts with a byte order mark (U+FEFF). */
  bom: boolean
  /** Assignments in file order; a name may occur more than once (dotenv: the last one wins). */
  assignments: DotenvAssignment[]
  /** The file's own line terminator (the most frequent; LF when the text has none). */
  eol: LineTerminator
  /** Whether the text is non-empty (ignoring a BOM) and its last line lacks a terminator. */
  missingFinalEol: boolean
}

/**
 * Returns the file's line terminator: the most frequent of CRLF, LF and
 * CR-only (ties: CRLF, then LF, then CR); LF when the text has no line break.
 */
export function detectLineTerminator(text: string): LineTerminator {
  let crlf = 0
  let lf = 0
  let cr = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) {
        crlf++
        i++
      } else cr++
    } else if (c === 10) lf++
  }
  if (crlf === 0 && lf === 0 && cr === 0) return '\n'
  if (crlf >= lf && crlf >= cr) return '\r\n'
  if (lf >= cr) return '\n'
  return '\r'
}

/**
 * Scans dotenv text and locates every assignment the `dotenv` package would
 * read, with the line span each occupies. Pure; never throws.
 *
 * @param text - the whole file as a string (UTF-16), any line terminators, optional BOM
 */
export function scanDotenv(text: string): DotenvScan {
  const bom = text.startsWith(BOM)
  const body = bom ? text.slice(1) : text
  const base = bom ? 1 : 0

  // Normalise CRLF and CR to LF as dotenv does, remembering where each
  // normalised character came from.
  let norm = ''
  const origin: number[] = []
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string
    if (c === '\r') {
      origin.push(i)
      norm += '\n'
      if (body[i + 1] === '\n') i++
    } else {
      origin.push(i)
      norm += c
    }
  }
  origin.push(body.length)
  const toOriginal = (n: number): number => base + (origin[n] as number)

  const assignments: DotenvAssignment[] = []
  DOTENV_LINE.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = DOTENV_LINE.exec(norm)) !== null) {
    if (m[0].length === 0) {
      // Cannot happen with this expression (a key is required), but never loop forever.
      DOTENV_LINE.lastIndex++
      continue
    }
    const idx = m.indices as RegExpIndicesArray
    const name = m[2] as string
    const exportIdx = idx[1]
    const keyIdx = idx[2] as [number, number]
    const sepIdx = idx[3] as [number, number]
    const valueIdx = idx[4]
    const first = exportIdx ? exportIdx[0] : keyIdx[0]
    const lineStart = norm.lastIndexOf('\n', first - 1) + 1

    let valueStart: number
    let valueEnd: number
    let keptLeading = ''
    if (valueIdx) {
      const raw = m[4] as string
      const leading = /^\s*/.exec(raw)?.[0] ?? ''
      const trailing = /\s*$/.exec(raw.slice(leading.length))?.[0] ?? ''
      valueStart = valueIdx[0] + leading.length
      valueEnd = valueIdx[1] - trailing.length
      if (!leading.includes('\n')) keptLeading = leading
    } else {
      valueStart = sepIdx[1]
      valueEnd = sepIdx[1]
    }
    let lineEnd = norm.indexOf('\n', valueEnd)
    if (lineEnd === -1) lineEnd = norm.length

    const start = toOriginal(lineStart)
    const end = toOriginal(lineEnd)
    const prefix = text.slice(start, toOriginal(sepIdx[1])) + keptLeading
    assignments.push({
      name,
      exported: exportIdx !== undefined,
      start,
      end,
      prefix,
      rawValue: text.slice(toOriginal(valueStart), toOriginal(valueEnd)),
      suffix: text.slice(toOriginal(valueEnd), end),
      multiline: norm.slice(lineStart, lineEnd).includes('\n'),
    })
  }

  const last = body.at(-1)
  return {
    bom,
    assignments,
    eol: detectLineTerminator(body),
    missingFinalEol: body.length > 0 && last !== '\n' && last !== '\r',
  }
}
