/**
 * Time source of the key service. Injected everywhere a rule depends on time
 * (session and key expiry, rate limits) so tests can move time without sleeping.
 */

/** A source of the current time. */
export interface Clock {
  /** Current time in integer milliseconds since the Unix epoch (UTC). */
  now(): number
}

/** The wall clock (`Date.now()`). */
export const systemClock: Clock = {now: () => Date.now()}
