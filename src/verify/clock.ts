/**
 * Time source of the verifier: the current instant and timers, injectable so
 * tests drive every time-based decision (staleness, deadlines, hard ceiling,
 * request timeouts, flush intervals, backoff, close deadline) without sleeping.
 */

/** Handle returned by {@link VerifierClock.setTimeout}; opaque. */
export type TimerHandle = unknown

/**
 * A clock with timers. All values are milliseconds; `now()` is ms since the
 * Unix epoch (UTC), comparable with the service's `expiresAt` instants.
 */
export interface VerifierClock {
  /** Current instant, ms since epoch. */
  now(): number
  /** Calls `callback` once after `ms` milliseconds of this clock. Real timers must not keep the process alive (unref). */
  setTimeout(callback: () => void, ms: number): TimerHandle
  /** Cancels a timer of {@link setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void
}

/** The wall clock with Node timers that never keep the process alive. */
export const systemClock: VerifierClock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms)
    timer.unref()
    return timer
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}

/**
 * Normalises the `clock` option: a full {@link VerifierClock}, or a bare
 * `() => number` (then real timers are used, so only instants are injected).
 */
export function toVerifierClock(clock: VerifierClock | (() => number) | undefined): VerifierClock {
  if (clock === undefined) return systemClock
  if (typeof clock === 'function') return {now: clock, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout}
  return clock
}
