/**
 * Who gets the database writer's one connection next (WriterGate): interactive callers before
 * bulk ones, each lane in arrival order; at most the bound of bulk callers wait and one more is
 * refused at once with WriterQueueFullError; after close, callers already waiting are served and
 * new ones refused.
 */
import {describe, expect, it} from 'vitest'
import {isWriterQueueFull, WriterGate, WriterQueueFullError} from '../../src/server/db/writer-dialect.js'

describe('the writer gate', () => {
  it('serves interactive callers before bulk ones, each lane in arrival order', async () => {
    const gate = new WriterGate(10)
    const served: string[] = []
    await gate.acquire('bulk') // held by a bulk write
    const waiting = [
      gate.acquire('bulk').then(() => served.push('bulk-1')),
      gate.acquire('bulk').then(() => served.push('bulk-2')),
      gate.acquire('interactive').then(() => served.push('interactive-1')),
      gate.acquire('interactive').then(() => served.push('interactive-2')),
    ]
    for (let i = 0; i < waiting.length; i++) {
      gate.release()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(waiting)
    expect(served).toEqual(['interactive-1', 'interactive-2', 'bulk-1', 'bulk-2'])
    gate.release()
    expect(gate.stats()).toMatchObject({interactiveWaiting: 0, bulkWaiting: 0, bulkWaitingPeak: 2})
  })

  it('refuses a bulk caller beyond the bound at once; interactive callers are never refused', async () => {
    const gate = new WriterGate(2)
    await gate.acquire('interactive')
    const first = gate.acquire('bulk')
    const second = gate.acquire('bulk')
    const refused = await gate.acquire('bulk').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(WriterQueueFullError)
    expect(isWriterQueueFull(refused)).toBe(true)
    expect(refused).toMatchObject({code: 'WRITER_QUEUE_FULL', waiting: 2, limit: 2})
    const interactive = gate.acquire('interactive')
    expect(gate.stats()).toMatchObject({bulkWaiting: 2, interactiveWaiting: 1, bulkRefused: 1})
    gate.release()
    await interactive
    gate.release()
    await first
    gate.release()
    await second
    gate.release()
    // Room again once the queue drained.
    await gate.acquire('bulk')
    gate.release()
  })

  it('close: callers already waiting are served, then close resolves; new callers are refused', async () => {
    const gate = new WriterGate(4)
    await gate.acquire('bulk')
    const waiting = gate.acquire('bulk')
    let closed = false
    const closing = gate.close().then(() => (closed = true))
    await expect(gate.acquire('interactive')).rejects.toThrow(/database is closed/)
    gate.release()
    await waiting
    await new Promise((resolve) => setImmediate(resolve))
    expect(closed).toBe(false)
    gate.release()
    await closing
    expect(closed).toBe(true)
  })
})
