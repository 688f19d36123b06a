import {describe, expect, it} from 'vitest'
import {HashGate} from '../../src/server/services/hash-gate.js'

/** Work that finishes when the test says so. */
function held(): {work: () => Promise<string>; finish: () => void; started: () => boolean} {
  let resolve: (() => void) | undefined
  let began = false
  const done = new Promise<void>((r) => (resolve = r))
  return {
    work: async () => {
      began = true
      await done
      return 'hashed'
    },
    finish: () => resolve?.(),
    started: () => began,
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('HashGate', () => {
  it('runs at most `active` jobs, queues at most `queued`, and refuses the rest at once', async () => {
    const gate = new HashGate({shared: {active: 2, queued: 1}, reserved: {active: 1, queued: 0}})
    const jobs = Array.from({length: 4}, held)
    const runs = jobs.map((j) => gate.tryRun(j.work, false))
    expect(runs.map((r) => r !== undefined)).toEqual([true, true, true, false])
    await tick()
    expect(jobs.map((j) => j.started())).toEqual([true, true, false, false])
    expect(gate.stats().shared).toMatchObject({active: 2, queued: 1, refused: 1})
    jobs[0]?.finish()
    await runs[0]
    await tick()
    expect(jobs[2]?.started()).toBe(true)
    for (const j of jobs) j.finish()
    expect(await Promise.all(runs.slice(0, 3))).toEqual(['hashed', 'hashed', 'hashed'])
    expect(gate.stats().shared).toMatchObject({active: 0, queued: 0, peakActive: 2, peakQueued: 1, startedAtOnce: 2, startedAfterWaiting: 1, refused: 1})
  })

  it('known networks start in the reserved lane while the shared one is full, and fall back to the shared lane when the reserved one is full', async () => {
    const gate = new HashGate({shared: {active: 1, queued: 0}, reserved: {active: 1, queued: 0}})
    const flood = held()
    expect(gate.tryRun(flood.work, false)).toBeDefined()
    expect(gate.tryRun(held().work, false)).toBeUndefined()
    const owner = held()
    const ownerRun = gate.tryRun(owner.work, true)
    expect(ownerRun).toBeDefined()
    await tick()
    expect(owner.started()).toBe(true)
    // Both lanes full: a second known-network attempt is refused at once.
    expect(gate.tryRun(held().work, true)).toBeUndefined()
    owner.finish()
    flood.finish()
    await ownerRun
    expect(gate.stats().reserved).toMatchObject({startedAtOnce: 1, startedAfterWaiting: 0, peakActive: 1})
    // Reserved lane busy, shared lane free: a known-network attempt starts in the shared lane.
    const a = held()
    const b = held()
    gate.tryRun(a.work, true)
    gate.tryRun(b.work, true)
    await tick()
    expect(b.started()).toBe(true)
    expect(gate.stats().shared.active).toBe(1)
    a.finish()
    b.finish()
  })

  it('refuses limits that are not positive (active) or non-negative (queued) integers', () => {
    expect(() => new HashGate({shared: {active: 0, queued: 1}, reserved: {active: 1, queued: 0}})).toThrow(/shared.active must be a positive integer/)
    expect(() => new HashGate({shared: {active: 1, queued: -1}, reserved: {active: 1, queued: 0}})).toThrow(/shared.queued must be a non-negative integer/)
  })
})
