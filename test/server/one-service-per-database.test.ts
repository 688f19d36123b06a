/**
 * One key service per SQLite file: a second service on a database another running service holds
 * is refused at start — in process and as the real `apikey server start` (exit 1, code
 * `conflict`, a message that says what, why and what to do) — and allowed once the first has
 * stopped, also when it was killed with SIGKILL (the lock dies with its process).
 */
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {ApikeyError} from '../../src/core/errors.js'
import {startServer, type RunningServer} from '../../src/server/main.js'
import {tempDir} from '../helpers/temp.js'
import {isRunning, spawnService, stopService, type ServiceProcess} from './service-process.js'

describe('one service per database file', () => {
  const servers: RunningServer[] = []
  const processes: ServiceProcess[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close()
    for (const p of processes.splice(0)) await stopService(p, 'SIGKILL')
  })

  it('in process: a second service on the same file is refused with a conflict naming the file; after the first closes it starts', async () => {
    const dbPath = join(await tempDir('apikey-lock-'), 'apikey.db')
    const first = await startServer({port: 0, dbPath, logLevel: 'silent'})
    servers.push(first)
    const refused = await startServer({port: 0, dbPath, logLevel: 'silent'}).then(
      (s) => {
        servers.push(s)
        return undefined
      },
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(ApikeyError)
    const error = refused as ApikeyError
    expect(error.code).toBe('conflict')
    expect(error.message).toContain(dbPath)
    expect(error.message).toMatch(/another key service is already running/)
    expect(error.suggestions.join('\n')).toMatch(/--db PATH/)
    expect(error.suggestions.join('\n')).toMatch(/PostgreSQL support is planned, not available yet/)
    // The first service is unaffected.
    expect((await fetch(`${first.url}/v1/meta`)).status).toBe(200)
    await first.close()
    servers.splice(0)
    const second = await startServer({port: 0, dbPath, logLevel: 'silent'})
    servers.push(second)
    expect((await fetch(`${second.url}/v1/meta`)).status).toBe(200)
  })

  it('apikey server start on a database a running service holds exits 1 with the reason and what to do; after kill -9 of the first it starts', {timeout: 120_000}, async () => {
    const dbPath = join(await tempDir('apikey-lock-'), 'apikey.db')
    const first = await spawnService(dbPath)
    if (!isRunning(first)) throw new Error(`the first service did not start: ${first.stderr}`)
    processes.push(first)

    const second = await spawnService(dbPath)
    if (isRunning(second)) processes.push(second)
    expect(isRunning(second)).toBe(false)
    if (isRunning(second)) return
    expect(second.code).toBe(1)
    expect(second.stdout).toBe('')
    expect(second.stderr).toContain(`another key service is already running on the database ${dbPath}`)
    expect(second.stderr).toMatch(/one SQLite database file serves one service process/)
    expect(second.stderr).toMatch(/PostgreSQL/)
    expect((await fetch(`${first.url}/v1/meta`)).status).toBe(200)

    // SIGKILL: no shutdown code runs, yet the lock is gone with the process.
    expect(await stopService(first, 'SIGKILL')).toBeNull()
    processes.splice(0)
    const third = await spawnService(dbPath)
    if (!isRunning(third)) throw new Error(`the service did not start after the first was killed: ${third.stderr}`)
    processes.push(third)
    expect((await fetch(`${third.url}/v1/meta`)).status).toBe(200)
    expect(await stopService(third)).toBe(0)
    processes.splice(0)
  })
})
