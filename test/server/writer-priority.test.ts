/**
 * The database writer thread runs below the rest of the service (WRITER_NICENESS nice steps, this
 * thread only): the kernel's view of this process's threads (/proc/self/task) shows exactly one
 * thread at that niceness while a service runs, the event loop's own thread unchanged, and none
 * once the service closed.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {WRITER_NICENESS} from '../../src/server/db/writer-protocol.js'
import {startServer} from '../../src/server/main.js'
import {tempDir} from '../helpers/temp.js'

/** The nice value of every thread of this process (field 19 of /proc/self/task/TID/stat). */
function threadNiceness(): number[] {
  const out: number[] = []
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
    } catch {
      // The thread ended while listing.
    }
  }
  return out
}

describe('the writer thread yields the CPU', () => {
  it.runIf(process.platform === 'linux')('one thread runs WRITER_NICENESS steps below the process while a service runs, none after close', async () => {
    const base = readFileSync('/proc/self/stat', 'utf8')
    const own = Number(base.slice(base.lastIndexOf(')') + 2).split(' ')[16])
    const lowered = Math.min(19, own + WRITER_NICENESS)
    const before = threadNiceness().filter((n) => n === lowered).length
    const server = await startServer({port: 0, dbPath: join(await tempDir('apikey-nice-'), 'apikey.db'), logLevel: 'silent'})
    try {
      expect(threadNiceness().filter((n) => n === lowered).length).toBe(before + 1)
      expect(threadNiceness()).toContain(own)
    } finally {
      await server.close()
    }
    expect(threadNiceness().filter((n) => n === lowered).length).toBe(before)
  })
})
