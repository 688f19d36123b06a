/**
 * The verifier's circuit breaker: after `failures` consecutive failed calls to
 * the key service it stays open for `openMs`, and the verifier answers from its
 * outage policy without calling. One success closes it.
 */
export class CircuitBreaker {
  readonly #failures: number
  readonly #openMs: number
  #consecutive = 0
  #openUntil = 0

  /**
   * @param failures consecutive failures that open the circuit; 0 never opens it.
   * @param openMs how long it stays open, in ms.
   */
  constructor(failures: number, openMs: number) {
    this.#failures = failures
    this.#openMs = openMs
  }

  /** Whether calls are skipped at `now` (ms). */
  isOpen(now: number): boolean {
    return now < this.#openUntil
  }

  /** Records a failed call that ended at `now` (ms). */
  failure(now: number): void {
    this.#consecutive++
    if (this.#failures > 0 && this.#consecutive >= this.#failures) this.#openUntil = now + this.#openMs
  }

  /** Records an answered call: closes the circuit. */
  success(): void {
    this.#consecutive = 0
    this.#openUntil = 0
  }
}
