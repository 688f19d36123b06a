/**
 * One overall deadline per command: every HTTP call of a
 * command draws from the same time budget, so retries and several calls in a
 * row can never add up to more than `--timeout`.
 */

/** Default overall deadline of a network command, in ms (≈10–15 s). */
export const DEFAULT_TIMEOUT_MS = 15_000

/**
 * A time budget that started at a fixed moment. Immutable; share one instance
 * across all API calls of one command.
 *
 * Times are in milliseconds from a monotonic clock (`performance.now()` by
 * default), so wall-clock jumps do not shorten or extend the budget.
 */
export class Deadline {
  /** The whole budget, in ms. */
  readonly budgetMs: number
  /** Clock reading when the budget started, in ms of {@link Deadline.now}'s clock. */
  readonly startedAt: number
  private readonly now: () => number

  /**
   * @param budgetMs - the budget in ms; must be a positive finite number.
   * @param now - clock in ms (monotonic); injected by tests.
   * @throws RangeError when `budgetMs` is not a positive finite number.
   */
  constructor(budgetMs: number, now: () => number = () => performance.now()) {
    if (!Number.isFinite(budgetMs) || budgetMs <= 0) throw new RangeError(`Deadline: budget must be a positive number of ms, got ${budgetMs}`)
    this.budgetMs = budgetMs
    this.now = now
    this.startedAt = now()
  }

  /** Milliseconds elapsed since the budget started. */
  elapsed(): number {
    return this.now() - this.startedAt
  }

  /** Milliseconds left, never negative (0 once expired). */
  remaining(): number {
    return Math.max(0, this.budgetMs - this.elapsed())
  }

  /** Has the budget run out? */
  expired(): boolean {
    return this.remaining() <= 0
  }
}

/**
 * Starts a deadline of `budgetMs` (default {@link DEFAULT_TIMEOUT_MS}) now.
 *
 * @throws RangeError when `budgetMs` is not a positive finite number.
 */
export function createDeadline(budgetMs: number = DEFAULT_TIMEOUT_MS, now?: () => number): Deadline {
  return new Deadline(budgetMs, now)
}
