/**
 * A bound on concurrent password hashing. scrypt runs on libuv's thread pool
 * (4 threads unless `UV_THREADPOOL_SIZE` says otherwise) and takes a core for
 * 0.1–0.3 s at the default cost; unbounded, a flood of wrong sign-ins queues
 * there and every sign-in behind it waits for all of them.
 *
 * Work runs in one of two lanes, each with at most `active` jobs running and
 * `queued` waiting; anything beyond that is refused at once (the caller answers
 * 429 with Retry-After), never queued. The `reserved` lane serves sign-ins from
 * networks that signed in as that user before, so a flood from elsewhere cannot
 * keep the owner out; it falls back to the shared lane when itself full.
 */
import type {HashLaneLimits, PasswordHashingLimits} from '../settings.js'

/** Counters of one lane. */
export interface LaneStats {
  /** Jobs running now. */
  active: number
  /** Jobs waiting now. */
  queued: number
  /** Most jobs ever running at once. */
  peakActive: number
  /** Most jobs ever waiting at once. */
  peakQueued: number
  /** Jobs started without waiting. */
  startedAtOnce: number
  /** Jobs started after waiting in the queue. */
  startedAfterWaiting: number
  /** Jobs refused because the lane was full. */
  refused: number
}

/** Which lane a job ran in. */
export type HashLane = 'shared' | 'reserved'

/** A bounded lane: at most `active` running, `queued` waiting, the rest refused. */
class Lane {
  private readonly waiting: Array<() => void> = []
  readonly stats: LaneStats = {active: 0, queued: 0, peakActive: 0, peakQueued: 0, startedAtOnce: 0, startedAfterWaiting: 0, refused: 0}

  constructor(private readonly limits: HashLaneLimits) {}

  /** Whether a job would start now without waiting. */
  get hasFreeSlot(): boolean {
    return this.stats.active < this.limits.active
  }

  /** Whether a job would be accepted (to run or to wait). */
  get accepts(): boolean {
    return this.hasFreeSlot || this.waiting.length < this.limits.queued
  }

  /** Runs `work` now or after waiting; undefined (and counted as refused) when full. */
  tryRun<T>(work: () => Promise<T>): Promise<T> | undefined {
    if (!this.accepts) {
      this.stats.refused++
      return undefined
    }
    if (this.hasFreeSlot) {
      this.stats.startedAtOnce++
      return this.run(work)
    }
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve)
      this.stats.queued = this.waiting.length
      this.stats.peakQueued = Math.max(this.stats.peakQueued, this.stats.queued)
    }).then(() => {
      this.stats.startedAfterWaiting++
      return this.run(work)
    })
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    this.stats.active++
    this.stats.peakActive = Math.max(this.stats.peakActive, this.stats.active)
    try {
      return await work()
    } finally {
      this.stats.active--
      const next = this.waiting.shift()
      this.stats.queued = this.waiting.length
      next?.()
    }
  }
}

/** Bounded password hashing with a lane kept for known networks. */
export class HashGate {
  private readonly lanes: Record<HashLane, Lane>

  /** @throws RangeError when a lane's `active` is not a positive integer or `queued` not a non-negative one. */
  constructor(limits: PasswordHashingLimits) {
    for (const [name, lane] of Object.entries(limits)) {
      if (!Number.isSafeInteger(lane.active) || lane.active < 1) throw new RangeError(`${name}.active must be a positive integer, got ${lane.active}`)
      if (!Number.isSafeInteger(lane.queued) || lane.queued < 0) throw new RangeError(`${name}.queued must be a non-negative integer, got ${lane.queued}`)
    }
    this.lanes = {shared: new Lane(limits.shared), reserved: new Lane(limits.reserved)}
  }

  /**
   * Runs `work` (one password hash) within the bound, or refuses at once.
   * Known networks start in whichever lane has a free slot (reserved first),
   * else wait in the reserved lane, else in the shared one.
   * @returns the work's promise, or undefined when every lane open to it is full.
   */
  tryRun<T>(work: () => Promise<T>, knownNetwork: boolean): Promise<T> | undefined {
    const {shared, reserved} = this.lanes
    if (!knownNetwork) return shared.tryRun(work)
    if (reserved.hasFreeSlot) return reserved.tryRun(work)
    if (shared.hasFreeSlot) return shared.tryRun(work)
    return reserved.accepts ? reserved.tryRun(work) : shared.tryRun(work)
  }

  /** Counters per lane (copies). */
  stats(): Record<HashLane, LaneStats> {
    return {shared: {...this.lanes.shared.stats}, reserved: {...this.lanes.reserved.stats}}
  }
}
