/**
 * Durations and instants given by people (CLI flags) — parsed strictly, the
 * same in every time zone.
 *
 * Durations: an integer followed by a unit, `s`, `m`, `h`, `d` or `w`
 * (`90m`, `24h`, `30d`, `2w`), or `0`. Instants: ISO 8601 date-time WITH a
 * `Z` or `±hh:mm` offset (`2027-06-26T00:00:00-07:00`). A date alone or a
 * date-time without an offset is refused: its meaning would depend on the
 * machine's time zone. On the wire, instants are integers in ms since epoch only.
 */

const UNIT_MS = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000} as const

/** The longest duration accepted anywhere, in ms (10 years). */
export const MAX_DURATION_MS = 10 * 365 * 86_400_000

/**
 * Parses a duration into ms.
 * @throws RangeError naming the rule for anything else (negative, fractional, unit-less, too long).
 */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(text.trim())
  if (text.trim() === '0') return 0
  if (match === null) throw new RangeError(`"${text}" is not a duration: use a whole number and a unit s, m, h, d or w (e.g. 24h, 30d), or 0`)
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
  if (ms > MAX_DURATION_MS) throw new RangeError(`"${text}" is longer than the maximum of 10 years`)
  return ms
}

/** Formats ms as the largest whole unit (`86400000` → `1d`, `5400000` → `90m`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0'
  for (const [unit, size] of [['w', UNIT_MS.w], ['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${Math.ceil(ms / 1000)}s`
}

const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * Parses an ISO 8601 date-time with an explicit offset into ms since epoch (UTC).
 * @throws RangeError for a date alone, a missing offset, or an impossible date.
 */
export function parseInstant(text: string): number {
  const t = text.trim()
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    throw new RangeError(`"${text}" is a date without a time and offset; its instant depends on the time zone: write e.g. ${t}T00:00:00Z`)
  }
  const m = ISO_WITH_OFFSET.exec(t)
  if (m === null) throw new RangeError(`"${text}" is not an ISO 8601 date-time with an offset (e.g. 2027-06-26T00:00:00Z or 2027-06-26T00:00:00-07:00)`)
  const ms = Date.parse(t)
  const [, y, mo, d, h, mi] = m
  // Date.parse rolls invalid dates over (Feb 30 → Mar 2): refuse them.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi)))
  if (Number.isNaN(ms) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59) {
    throw new RangeError(`"${text}" is not a valid date-time`)
  }
  return ms
}

/**
 * Is `ms` a plausible instant in ms since epoch (between 2001-09-09 and 2286-11-20)?
 * Rejects values given in seconds by mistake (one numeric unit, implausible magnitudes rejected).
 */
export function isPlausibleEpochMs(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 1_000_000_000_000 && ms < 10_000_000_000_000
}
