/**
 * Rendering for people and for pipes (GitHub CLI style): aligned labels on a
 * TTY, `label<TAB>value` lines with full ISO timestamps when piped.
 */

/** Renders label/value rows. Rows with undefined values are skipped. */
export function renderRows(rows: Array<[string, string | undefined]>, tty: boolean): string {
  const kept = rows.filter((r): r is [string, string] => r[1] !== undefined)
  if (!tty) return kept.map(([k, v]) => `${k}\t${v}`).join('\n')
  const width = Math.max(...kept.map(([k]) => k.length))
  return kept.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

/** ISO 8601 UTC timestamp for ms since epoch, or `never` for null. */
export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'never' : new Date(ms).toISOString()
}

/**
 * A point in time for people: relative on a terminal (`in 40 s`, `3 min ago`,
 * `in 89 d`), the full ISO 8601 UTC timestamp when piped (or with --json), after `preposition`
 * when one is given (`at 2026-…`, `until 2026-…`: a relative time needs none); `never` for null.
 * Units: s below a minute, min below an hour, h below two days, d beyond; rounded down.
 * @param ms instant, ms since epoch.
 * @param options `tty`: the text is shown on a terminal; `now`: the current instant, ms since epoch;
 *   `preposition`: the word before an ISO timestamp.
 */
export function timeText(ms: number | null | undefined, options: {tty: boolean; now: number; preposition?: string}): string {
  if (ms === null || ms === undefined) return 'never'
  if (!options.tty) return options.preposition === undefined ? new Date(ms).toISOString() : `${options.preposition} ${new Date(ms).toISOString()}`
  return relativeTime(ms - options.now)
}

/** `in N unit` for a positive offset, `N unit ago` for a negative one, `now` within a second (ms in). */
export function relativeTime(offsetMs: number): string {
  const abs = Math.abs(offsetMs)
  if (abs < 1000) return 'now'
  const s = Math.floor(abs / 1000)
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 48 * 3600 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86_400)} d`
  return offsetMs > 0 ? `in ${text}` : `${text} ago`
}

/** ANSI colour helper; identity when `color` is false. */
export function painter(color: boolean): (name: 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold', text: string) => string {
  const codes: Record<string, [number, number]> = {red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22]}
  return (name, text) => {
    if (!color) return text
    const [open, close] = codes[name] ?? [0, 0]
    return `\u001B[${open}m${text}\u001B[${close}m`
  }
}

/** Should stderr be coloured? TTY, `NO_COLOR` unset (https://no-color.org), `TERM` not dumb. */
export function stderrColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  return isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb'
}

/** An error as rendered for people on stderr: the message, then one `→ suggestion` line each. */
export function renderError(
  error: {message: string; suggestions: string[]; cause?: unknown},
  options: {color: boolean; debug: boolean},
): string {
  const paint = painter(options.color)
  const lines = [`${paint('red', 'Error:')} ${error.message}`]
  for (const s of error.suggestions) lines.push(`  ${paint('cyan', '→')} ${s}`)
  if (options.debug && error.cause instanceof Error && error.cause.stack) lines.push(paint('dim', error.cause.stack))
  return `${lines.join('\n')}\n`
}

/** The `--json` text of a result or error: pretty JSON with a trailing newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/**
 * A rate limit for people: `600 requests per minute`, `1 request per minute`,
 * `100 requests per 30 s`, `5000 requests per 2 minutes`.
 * @param windowMs - the limit's window in ms (a minute for every override).
 */
export function rateText(limit: number, windowMs: number): string {
  const count = `${limit} ${limit === 1 ? 'request' : 'requests'}`
  if (windowMs === 60_000) return `${count} per minute`
  if (windowMs % 60_000 === 0) return `${count} per ${windowMs / 60_000} minutes`
  return windowMs % 1000 === 0 ? `${count} per ${windowMs / 1000} s` : `${count} per ${windowMs} ms`
}
