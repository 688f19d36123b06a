/**
 * Tables for people and for pipes (GitHub CLI style): on a TTY, a header and
 * aligned columns with short dates; piped, no header and tab-separated
 * values with full ISO 8601 timestamps, one record per line.
 */
import {timeText} from '../lib/render.js'

/** A column: its header and how to show a row in it (`tty` picks the short form). */
export interface Column<T> {
  header: string
  value: (row: T, tty: boolean) => string | null | undefined
}

/** Cells never contain tabs or line breaks (they would break the TSV form). */
function cell(text: string | null | undefined): string {
  return (text ?? '').replace(/[\t\r\n]+/g, ' ')
}

/** The narrowest a truncated column gets (characters, including the `…`). */
const MIN_COLUMN_WIDTH = 8

/**
 * Renders rows as a table (TTY) or TSV (piped).
 * @param maxWidth - on a TTY, the terminal's width: the widest column is cut
 *   (ending in `…`) until the table fits, as far as {@link MIN_COLUMN_WIDTH} allows.
 * @returns the text with a trailing newline, or '' for no rows.
 */
export function renderTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>, tty: boolean, maxWidth?: number): string {
  if (rows.length === 0) return ''
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row, tty)) || (tty ? '-' : '')))
  if (!tty) return cells.map((r) => r.join('\t')).join('\n') + '\n'
  const all = [columns.map((c) => c.header.toUpperCase()), ...cells]
  const widths = columns.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)))
  if (maxWidth !== undefined && maxWidth > 0) {
    const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1)
    while (total() > maxWidth) {
      const widest = widths.indexOf(Math.max(...widths))
      if (widths[widest]! <= MIN_COLUMN_WIDTH) break
      widths[widest] = Math.max(MIN_COLUMN_WIDTH, widths[widest]! - (total() - maxWidth))
    }
  }
  const fit = (v: string, w: number): string => {
    const chars = [...v]
    return chars.length > w ? `${chars.slice(0, w - 1).join('')}…` : v
  }
  return all.map((r) => r.map((v, i) => (i === r.length - 1 ? fit(v, widths[i]!) : fit(v, widths[i]!).padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n'
}

/**
 * A timestamp in a table: relative on a TTY (`in 40 s`, `3 d ago`, see `timeText`), full
 * ISO 8601 when piped; '' for null when piped, `never` on a TTY.
 * @param now the current instant, ms since epoch (default: the system clock).
 */
export function when(ms: number | null | undefined, tty: boolean, now: number = Date.now()): string {
  if (ms === null || ms === undefined) return tty ? 'never' : ''
  return timeText(ms, {tty, now})
}
