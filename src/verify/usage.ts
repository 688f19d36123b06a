/**
 * Usage reporting: a bounded buffer of {@link UsageEvent}s sent in batches to
 * `POST /v1/usage`. A batch leaves the buffer only when the service answers
 * 2xx (its acknowledgement of a durable write); a failed batch stays at the
 * head of the buffer and is retried with the same events and the same
 * `Idempotency-Key` header (so the service can ignore a batch it already wrote), with exponential
 * backoff. When the buffer is full new events are counted as dropped —
 * recording never blocks or fails a verification.
 */
import {randomUUID} from 'node:crypto'
import type {TimerHandle, VerifierClock} from './clock.js'
import type {UsageEvent} from './types.js'

/** Dependencies and limits of {@link UsageSender}. Durations in ms. */
export interface UsageSenderOptions {
  clock: VerifierClock
  /**
   * POSTs a JSON body `{events}`; `batchId` goes in the `Idempotency-Key` header
   * (draft-ietf-httpapi-idempotency-key-header), the same on every retry of a batch.
   * Resolves with the HTTP status, rejects on transport errors and aborts.
   */
  post(body: string, signal: AbortSignal, batchId: string): Promise<number>
  timeoutMs: number
  flushIntervalMs: number
  maxBatch: number
  maxBuffer: number
  maxBackoffMs: number
  /** Uniform in [0, 1) for backoff jitter; default `Math.random`. */
  random?: () => number
}

/** Result of {@link UsageSender.close}. */
export interface UsageCloseResult {
  droppedAtClose: number
  flushed: boolean
}

/** Statuses that refuse the batch itself (retrying cannot help). */
const PERMANENT: ReadonlySet<number> = new Set([400, 413, 422])

/** Attempts per batch while closing (no backoff: the deadline is short). */
const CLOSE_ATTEMPTS = 3

/** The batching sender behind a verifier's usage events. */
export class UsageSender {
  readonly #o: UsageSenderOptions
  readonly #random: () => number
  #buffer: UsageEvent[] = []
  /** The batch at the head of the buffer that is in flight or awaiting retry. */
  #pending: {id: string; count: number} | null = null
  #inFlight: Promise<boolean> | null = null
  #controller: AbortController | null = null
  #timer: TimerHandle | null = null
  #intake = true
  #failures = 0
  #nextAttemptAt = 0
  #closing: Promise<UsageCloseResult> | null = null
  sent = 0
  dropped = 0
  /** Events the service refused as invalid (400, 413, 422): dropped, not retried (included in {@link dropped}). */
  rejected = 0

  constructor(options: UsageSenderOptions) {
    this.#o = options
    this.#random = options.random ?? Math.random
    this.#schedule()
  }

  /** Events held now, including a batch in flight. */
  get buffered(): number {
    return this.#buffer.length
  }

  /** Records one event; counts it as dropped when the buffer is full or intake has stopped. O(1), never throws. */
  record(event: UsageEvent): void {
    if (!this.#intake || this.#buffer.length >= this.#o.maxBuffer) {
      this.dropped++
      return
    }
    this.#buffer.push(event)
    if (this.#buffer.length >= this.#o.maxBatch && this.#inFlight === null && this.#o.clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
  }

  /** Sends everything now, batch by batch, ignoring backoff; stops at the first failure. */
  async flush(): Promise<void> {
    while (this.#buffer.length > 0) {
      const ok = await (this.#inFlight ?? this.#send(this.#o.timeoutMs))
      if (!ok) return
    }
  }

  /** Stops intake and the timer, sends within `deadlineMs`, then counts what is left as dropped. Idempotent. */
  close(deadlineMs: number): Promise<UsageCloseResult> {
    this.#closing ??= this.#close(deadlineMs)
    return this.#closing
  }

  async #close(deadlineMs: number): Promise<UsageCloseResult> {
    const {clock} = this.#o
    this.#intake = false
    if (this.#timer !== null) clock.clearTimeout(this.#timer)
    this.#timer = null
    const deadlineAt = clock.now() + deadlineMs
    let expired = false
    const deadline = clock.setTimeout(() => {
      expired = true
      this.#controller?.abort()
    }, deadlineMs)
    let failures = 0
    while (this.#buffer.length > 0 && !expired && failures < CLOSE_ATTEMPTS) {
      const ok = await (this.#inFlight ?? this.#send(Math.max(1, Math.min(this.#o.timeoutMs, deadlineAt - clock.now()))))
      if (!ok) failures++
    }
    clock.clearTimeout(deadline)
    const droppedAtClose = this.#buffer.length
    this.dropped += droppedAtClose
    this.#buffer = []
    this.#pending = null
    return {droppedAtClose, flushed: droppedAtClose === 0}
  }

  #schedule(): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null
      if (!this.#intake) return
      if (this.#buffer.length > 0 && this.#inFlight === null && this.#o.clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
      this.#schedule()
    }, this.#o.flushIntervalMs)
  }

  /** Sends the head batch; resolves true when acknowledged. Never rejects. */
  #send(timeoutMs: number): Promise<boolean> {
    const {clock} = this.#o
    this.#pending ??= {id: randomUUID(), count: Math.min(this.#buffer.length, this.#o.maxBatch)}
    const {id, count} = this.#pending
    const body = JSON.stringify({events: this.#buffer.slice(0, count)})
    const controller = new AbortController()
    this.#controller = controller
    const timer = clock.setTimeout(() => controller.abort(), timeoutMs)
    const attempt = (async () => {
      let ok = false
      let refused = false
      try {
        const status = await this.#o.post(body, controller.signal, id)
        ok = status >= 200 && status < 300
        refused = PERMANENT.has(status)
      } catch {
        ok = false
      } finally {
        clock.clearTimeout(timer)
      }
      if (this.#pending?.id === id) {
        if (refused) {
          // Retrying a batch the service calls invalid would block every later event: count it and move on.
          this.#buffer.splice(0, count)
          this.dropped += count
          this.rejected += count
          this.#pending = null
          ok = true
        } else if (ok) {
          this.#buffer.splice(0, count)
          this.sent += count
          this.#pending = null
          this.#failures = 0
          this.#nextAttemptAt = 0
        } else {
          this.#failures++
          const delay = Math.min(this.#o.maxBackoffMs, this.#o.flushIntervalMs * 2 ** this.#failures)
          this.#nextAttemptAt = clock.now() + delay * (0.5 + this.#random() / 2)
        }
      }
      this.#controller = null
      this.#inFlight = null
      if (ok && this.#intake && this.#buffer.length >= this.#o.maxBatch && clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
      return ok
    })()
    this.#inFlight = attempt
    return attempt
  }
}
