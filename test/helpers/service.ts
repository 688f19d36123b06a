/**
 * The real key service for tests: `startServer` on 127.0.0.1:0 with a SQLite
 * file in a temp directory, plus local accounts created the way the platform
 * team does (`addUser`).
 */
import {tempDir} from './temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {startServer} from '../../src/server/main.js'
import {addUser} from '../../src/server/services/users.js'

/** A running test service. */
export interface TestService {
  url: string
  dbPath: string
  /** Every log line the service wrote. */
  logs: string[]
  addUser(username: string, team: string, options?: {password?: string; teamContactEmail?: string; admin?: boolean}): Promise<void>
  /** Signs in over HTTP and returns a session token (for APIKEY_TOKEN tests). */
  token(username: string, password?: string): Promise<string>
  /** Runs the service's usage rollup and retention pass now (see `RunningServer.rollupUsage`). */
  rollupUsage(): Promise<unknown>
  close(): Promise<void>
}

export const PASSWORD = 'correct horse battery'

/** Starts a fresh service with an empty database. */
export async function startTestService(): Promise<TestService> {
  const dir = await tempDir('apikey-svc-')
  const dbPath = join(dir, 'apikey.db')
  const logs: string[] = []
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  // Many developers sign in from 127.0.0.1 in one test file: relax the sign-in limits
  // (the limits themselves are tested in test/server/sign-in-limits.test.ts).
  const relaxed = {capacity: 1000, refillIntervalMs: 1000}
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dbPath,
    logStream,
    logLevel: 'debug',
    settings: {loginLimitPerIp: relaxed, loginLimitPerUsername: relaxed, loginBackoff: {freeFailures: 1000}},
  })
  return {
    url: server.url,
    dbPath,
    logs,
    async addUser(username, team, options = {}) {
      await addUser({
        dbPath,
        username,
        password: options.password ?? PASSWORD,
        team,
        teamContactEmail: options.teamContactEmail ?? `${team}@example.com`,
        admin: options.admin ?? false,
      })
    },
    async token(username, password = PASSWORD) {
      const res = await fetch(`${server.url}/v1/sessions`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({username, password}),
      })
      if (res.status !== 201) throw new Error(`login failed: ${res.status} ${await res.text()}`)
      return ((await res.json()) as {token: string}).token
    },
    rollupUsage: () => server.rollupUsage(),
    close: () => server.close(),
  }
}
