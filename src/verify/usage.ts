/**
 * Usage reporting: verifications are aggregated into {@link UsageEvent}s — one
 * per distinct (key id, app, code, source, route, client app, app version, user
 * agent, client IP, UTC minute), with a `count` — held in a bounded buffer and
 * sent in batches to `POST /v1/usage`.
 *
 * A batch leaves the buffer only when the service answers 2xx (its
 * acknowledgement of a durable write); a failed batch stays at the head of the
 * buffer and is retried with the same events and the same `Idempotency-Key`
 * header (so the service can ignore a batch it already wrote), with exponential
 * backoff. The events of a batch are frozen when the batch is formed: later
 * verifications aggregate into new events behind it, so a retry never differs
 * from the first attempt. When the buffer is full a verification that would
 * need a new event is counted as dropped — recording never blocks or fails a
 * verification.
 *
 * Units: `maxBatch` and `maxBuffer` count events (aggregated entries, what
 * memory and batch size depend on); `sent`, `dropped`, `rejected` and
 * `buffered` count verifications (sums of `count`).
 */
import {randomUUID} from 'node:crypto'
import {MAX_USAGE_EVENT_COUNT, type VerifyContext} from '../core/wire.js'
import type {TimerHandle, VerifierClock} from './clock.js'
import type {UsageEvent, VerdictCode, VerdictSource} from './types.js'

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
  /** Most events (aggregated entries) per batch; this many waiting triggers a send. */
  maxBatch: number
  /** Most events (aggregated entries) held, including the batch in flight. */
  maxBuffer: number
  maxBackoffMs: number
  /** Largest `count` of one event (default {@link MAX_USAGE_EVENT_COUNT}); a full event is closed and a new one started. */
  maxCount?: number
  /** Uniform in [0, 1) for backoff jitter; default `Math.random`. */
  random?: () => number
}

/** Result of {@link UsageSender.close}. Counts are verifications. */
export interface UsageCloseResult {
  droppedAtClose: number
  flushed: boolean
}

/**
 * The verdict's part of a usage event (everything but the request context and
 * the instant). Build it with {@link usageHead}; a cached verdict keeps one, so
 * a cache hit records its usage without building a string or an object.
 * A head is used with one {@link UsageSender}: it remembers the event its last
 * verification went to, so a run of identical verifications costs a few
 * comparisons each.
 */
export interface UsageHead {
  /** (keyId, app, code, source) as one string (JSON): the first level of the aggregation index. */
  readonly tag: string
  readonly keyId: string | null
  readonly app: string | null
  readonly code: VerdictCode
  readonly source: VerdictSource
  /** The open event the last verification recorded under this head went to, or null (kept by the sender). */
  last: UsageSlot | null
}

/** The {@link UsageHead} of a verdict's key id, app slug, code and source. */
export function usageHead(keyId: string | null, app: string | null, code: VerdictCode, source: VerdictSource): UsageHead {
  return {tag: JSON.stringify([keyId, app, code, source]), keyId, app, code, source, last: null}
}

/** One aggregated event held by a {@link UsageSender} (opaque outside it). */
export interface UsageSlot {
  /** The event as sent (its `count` and `at` grow until the slot is frozen). */
  readonly event: UsageEvent
  readonly head: UsageHead
  /** Start of the event's UTC minute, ms since epoch. */
  readonly minute: number
  readonly owner: UsageSender
  /** The index map holding this slot (by client IP); null when not indexed. */
  leaf: ByClientIp | null
  /** Part of a formed batch: no longer aggregated into (its batch is sent as formed). */
  frozen: boolean
}

// The aggregation index of open (not yet batched) slots: minute → tag → route →
// client app → app version → user agent → client IP → slot. Nested maps instead
// of one concatenated key: no string is built (or hashed whole) per
// verification, and no two distinct contexts can collide.
type ByClientIp = Map<string | null, UsageSlot>
type ByUserAgent = Map<string | null, ByClientIp>
type ByAppVersion = Map<string | null, ByUserAgent>
type ByClientApp = Map<string | null, ByAppVersion>
type ByRoute = Map<string | null, ByClientApp>
type ByTag = Map<string, ByRoute>

const MINUTE_MS = 60_000

/** Statuses that refuse the batch itself (retrying cannot help). */
const PERMANENT: ReadonlySet<number> = new Set([400, 413, 422])

/** Attempts per batch while closing (no backoff: the deadline is short). */
const CLOSE_ATTEMPTS = 3

/** The aggregating, batching sender behind a verifier's usage events. */
export class UsageSender {
  readonly #o: UsageSenderOptions
  readonly #random: () => number
  readonly #maxCount: number
  /** Every slot held, oldest first; a batch is the first `#pending.entries` of them. */
  #queue: UsageSlot[] = []
  /** Verifications held (sum of the counts in `#queue`). */
  #events = 0
  /** Open slots by minute, head and context; frozen slots are removed from their leaf map when their batch is formed. */
  #index = new Map<number, ByTag>()
  /** Slots removed from the index since it was last rebuilt: the maps they left empty are garbage until then. */
  #unindexed = 0
  /** Start of the minute of the latest recorded verification (ms since epoch). */
  #minute = Number.NaN
  /** The batch at the head of the queue that is in flight or awaiting retry. */
  #pending: {id: string; entries: number; events: number; body: string} | null = null
  #inFlight: Promise<boolean> | null = null
  #controller: AbortController | null = null
  #timer: TimerHandle | null = null
  #intake = true
  #failures = 0
  #nextAttemptAt = 0
  #closing: Promise<UsageCloseResult> | null = null
  /** Verifications acknowledged by the service. */
  sent = 0
  /** Verifications given up (buffer full, recorded after close, refused, unacknowledged at close). */
  dropped = 0
  /** Verifications the service refused as invalid (400, 413, 422): dropped, not retried (included in {@link dropped}). */
  rejected = 0

  constructor(options: UsageSenderOptions) {
    this.#o = options
    this.#random = options.random ?? Math.random
    this.#maxCount = options.maxCount ?? MAX_USAGE_EVENT_COUNT
    this.#schedule()
  }

  /** Verifications held now (sum of counts), including a batch in flight. */
  get buffered(): number {
    return this.#events
  }

  /** Events (aggregated entries) held now, including a batch in flight: what `maxBuffer` bounds. */
  get bufferedEvents(): number {
    return this.#queue.length
  }

  /**
   * Records one verification at `at` (ms since epoch): adds 1 to the open event
   * with the same head, context and UTC minute, or starts a new event. Counts it
   * as dropped when a new event is needed and `maxBuffer` events are held, or
   * after intake stopped. Never throws, never waits.
   */
  record(head: UsageHead, context: VerifyContext | undefined, at: number): void {
    if (!this.#intake) {
      this.dropped++
      return
    }
    let minute = this.#minute
    if (!(at >= minute && at < minute + MINUTE_MS)) this.#minute = minute = at - (at % MINUTE_MS)
    let route: string | null = null
    let clientApp: string | null = null
    let appVersion: string | null = null
    let userAgent: string | null = null
    let clientIp: string | null = null
    if (context !== undefined) {
      route = context.route ?? null
      clientApp = context.clientApp ?? null
      appVersion = context.appVersion ?? null
      userAgent = context.userAgent ?? null
      clientIp = context.clientIp ?? null
    }
    // The common case: the same head, context and minute as this head's previous verification;
    // next, the same but for the client address (one lookup in that event's map of addresses).
    const last = head.last
    if (last !== null && last.minute === minute && !last.frozen && last.owner === this) {
      const event = last.event
      if (event.route === route && event.userAgent === userAgent && event.appVersion === appVersion && event.clientApp === clientApp) {
        if (event.clientIp === clientIp && event.count < this.#maxCount) {
          event.count++
          if (at > event.at) event.at = at
          this.#events++
          return
        }
        if (last.leaf !== null) return this.#atLeaf(last.leaf, head, route, clientApp, appVersion, userAgent, clientIp, minute, at, this.#queue.length >= this.#o.maxBuffer)
      }
    }
    this.#aggregate(head, route, clientApp, appVersion, userAgent, clientIp, minute, at)
  }

  /** {@link record} through the index: finds (or makes) the map of client addresses for the rest of the event, then {@link #atLeaf}. */
  #aggregate(head: UsageHead, route: string | null, clientApp: string | null, appVersion: string | null, userAgent: string | null, clientIp: string | null, minute: number, at: number): void {
    const full = this.#queue.length >= this.#o.maxBuffer
    let byTag = this.#index.get(minute)
    if (byTag === undefined) {
      if (full) return void this.dropped++
      this.#index.set(minute, (byTag = new Map()))
    }
    let byRoute = byTag.get(head.tag)
    if (byRoute === undefined) {
      if (full) return void this.dropped++
      byTag.set(head.tag, (byRoute = new Map()))
    }
    let byClientApp = byRoute.get(route)
    if (byClientApp === undefined) {
      if (full) return void this.dropped++
      byRoute.set(route, (byClientApp = new Map()))
    }
    let byAppVersion = byClientApp.get(clientApp)
    if (byAppVersion === undefined) {
      if (full) return void this.dropped++
      byClientApp.set(clientApp, (byAppVersion = new Map()))
    }
    let byUserAgent = byAppVersion.get(appVersion)
    if (byUserAgent === undefined) {
      if (full) return void this.dropped++
      byAppVersion.set(appVersion, (byUserAgent = new Map()))
    }
    let byClientIp = byUserAgent.get(userAgent)
    if (byClientIp === undefined) {
      if (full) return void this.dropped++
      byUserAgent.set(userAgent, (byClientIp = new Map()))
    }
    this.#atLeaf(byClientIp, head, route, clientApp, appVersion, userAgent, clientIp, minute, at, full)
  }

  /** Adds to the open event of `clientIp` in `byClientIp` (the index map for the rest of the event), or starts a new event there. */
  #atLeaf(byClientIp: ByClientIp, head: UsageHead, route: string | null, clientApp: string | null, appVersion: string | null, userAgent: string | null, clientIp: string | null, minute: number, at: number, full: boolean): void {
    const found = byClientIp.get(clientIp)
    if (found !== undefined && !found.frozen && found.event.count < this.#maxCount) {
      found.event.count++
      if (at > found.event.at) found.event.at = at
      this.#events++
      head.last = found
      return
    }
    if (full) return void this.dropped++
    // A full event (largest count) stays in the queue, unindexed; the new one takes its place.
    if (found !== undefined) found.leaf = null
    const event: UsageEvent = {keyId: head.keyId, app: head.app, code: head.code, source: head.source, route, clientApp, appVersion, userAgent, clientIp, at, count: 1}
    const slot: UsageSlot = {event, head, minute, owner: this, leaf: byClientIp, frozen: false}
    byClientIp.set(clientIp, slot)
    head.last = slot
    this.#queue.push(slot)
    this.#events++
    if (this.#queue.length >= this.#o.maxBatch && this.#inFlight === null && this.#o.clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
  }

  /**
   * Rebuilds the index from the open slots (those behind the pending batch), dropping
   * the maps frozen slots left empty. Called when no open slot remains (then it is
   * O(1)) or after `maxBuffer` slots were unindexed (O(open slots), amortised O(1) each).
   */
  #reindex(): void {
    this.#index = new Map()
    this.#unindexed = 0
    const from = this.#pending?.entries ?? 0
    for (let i = from; i < this.#queue.length; i++) {
      const slot = this.#queue[i]!
      if (slot.leaf === null) continue
      const {route, clientApp, appVersion, userAgent, clientIp} = slot.event
      let byTag = this.#index.get(slot.minute)
      if (byTag === undefined) this.#index.set(slot.minute, (byTag = new Map()))
      let byRoute = byTag.get(slot.head.tag)
      if (byRoute === undefined) byTag.set(slot.head.tag, (byRoute = new Map()))
      let byClientApp = byRoute.get(route)
      if (byClientApp === undefined) byRoute.set(route, (byClientApp = new Map()))
      let byAppVersion = byClientApp.get(clientApp)
      if (byAppVersion === undefined) byClientApp.set(clientApp, (byAppVersion = new Map()))
      let byUserAgent = byAppVersion.get(appVersion)
      if (byUserAgent === undefined) byAppVersion.set(appVersion, (byUserAgent = new Map()))
      let byClientIp = byUserAgent.get(userAgent)
      if (byClientIp === undefined) byUserAgent.set(userAgent, (byClientIp = new Map()))
      byClientIp.set(clientIp, slot)
      slot.leaf = byClientIp
    }
  }

  /** Sends everything now, batch by batch, ignoring backoff; stops at the first failure. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0) {
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
    while (this.#queue.length > 0 && !expired && failures < CLOSE_ATTEMPTS) {
      const ok = await (this.#inFlight ?? this.#send(Math.max(1, Math.min(this.#o.timeoutMs, deadlineAt - clock.now()))))
      if (!ok) failures++
    }
    clock.clearTimeout(deadline)
    const droppedAtClose = this.#events
    this.dropped += droppedAtClose
    for (const slot of this.#queue) if (slot.head.last === slot) slot.head.last = null
    this.#queue = []
    this.#events = 0
    this.#index = new Map()
    this.#unindexed = 0
    this.#pending = null
    return {droppedAtClose, flushed: droppedAtClose === 0}
  }

  #schedule(): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null
      if (!this.#intake) return
      if (this.#queue.length > 0 && this.#inFlight === null && this.#o.clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
      this.#schedule()
    }, this.#o.flushIntervalMs)
  }

  /** Forms the head batch: freezes its events (later verifications aggregate behind it) and serialises it once for every attempt. */
  #form(): {id: string; entries: number; events: number; body: string} {
    const entries = Math.min(this.#queue.length, this.#o.maxBatch)
    // Usually the batch takes every slot: then the whole index is replaced, not emptied slot by slot.
    const all = entries === this.#queue.length
    const events: UsageEvent[] = []
    let count = 0
    for (let i = 0; i < entries; i++) {
      const slot = this.#queue[i]!
      slot.frozen = true
      if (slot.head.last === slot) slot.head.last = null
      // An indexed slot is its map's entry for its address (a replaced full slot has no map).
      if (slot.leaf !== null) {
        if (!all) {
          slot.leaf.delete(slot.event.clientIp)
          this.#unindexed++
        }
        slot.leaf = null
      }
      events.push(slot.event)
      count += slot.event.count
    }
    const batch = {id: randomUUID(), entries, events: count, body: JSON.stringify({events})}
    if (all || this.#unindexed >= this.#o.maxBuffer) {
      this.#pending = batch
      this.#reindex()
    }
    return batch
  }

  /** Sends the head batch; resolves true when acknowledged. Never rejects. */
  #send(timeoutMs: number): Promise<boolean> {
    const {clock} = this.#o
    this.#pending ??= this.#form()
    const {id, entries, events, body} = this.#pending
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
          this.#queue.splice(0, entries)
          this.#events -= events
          this.dropped += events
          this.rejected += events
          this.#pending = null
          ok = true
        } else if (ok) {
          this.#queue.splice(0, entries)
          this.#events -= events
          this.sent += events
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
      if (ok && this.#intake && this.#queue.length >= this.#o.maxBatch && clock.now() >= this.#nextAttemptAt) void this.#send(this.#o.timeoutMs)
      return ok
    })()
    this.#inFlight = attempt
    return attempt
  }
}
