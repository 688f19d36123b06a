/**
 * The database writer under load: when the bounded queue of bulk writes is full, `POST /v1/usage`
 * answers 503 with Retry-After at once while `POST /v1/verify` still answers VALID, and every
 * acknowledged batch is counted exactly once (retries under the same Idempotency-Key included);
 * admin commands (`apikey server users add`, `server verifiers add|revoke`, other processes)
 * succeed while verifiers flood the service with usage batches.
 */
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, describe, expect, it} from 'vitest'
import {DAY_MS} from '../../src/server/settings.js'
import {cliEnv, runBinary} from '../helpers/cli.js'
import {PASSWORD, T0, verifyFixture, type VerifyFixture} from './helpers.js'
import {makeBatches, sendBatch, type Batch} from './service-process.js'

describe('the database writer under load', () => {
  let f: VerifyFixture | undefined
  afterEach(async () => {
    await f?.h.cleanup()
    f = undefined
  })

  /** Total reported verifications of weather-app, from the owner's report. */
  async function reportedTotal(fx: VerifyFixture): Promise<number> {
    const r = await fx.h.request('GET', `/v1/apps/weather-app/usage?since=${T0 - DAY_MS}&until=${T0 + DAY_MS}&source=reported`, {token: fx.ann})
    expect(r.status).toBe(200)
    return r.body.total as number
  }

  /** Sends `batch` until it is acknowledged (a 503 is retried after its Retry-After). */
  async function sendUntilStored(fx: VerifyFixture, batch: Batch): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await sendBatch(fx.h.url, fx.verifier, batch)
      if (res?.status === 200) return
      expect(res?.status).toBe(503)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`batch ${batch.idempotencyKey} was never stored`)
  }

  it('queue full: batches are refused 503 with Retry-After while /v1/verify answers VALID; every acknowledged batch counts once', async () => {
    f = await verifyFixture({settings: {writeQueueLimit: 1}})
    const fx = f
    const batches = makeBatches(8, 20, fx.key.id, T0)
    // Another process's write transaction holds the database's write lock: the writer's first
    // batch waits on it (the busy timeout), the next one waits in the queue, the rest overflow it.
    const other = new BetterSqlite3(fx.h.dbPath)
    other.exec('begin immediate')
    let held = true
    try {
      const answers = batches.map((b) => sendBatch(fx.h.url, fx.verifier, b))
      const refused: Array<{status: number; retryAfter: string | null; body: any}> = []
      await new Promise<void>((resolve) => {
        for (const answer of answers) {
          void answer.then((res) => {
            if (res?.status === 503) refused.push(res)
            if (refused.length >= 1) resolve()
          })
        }
      })
      // Verification does not wait for the writer.
      const verdict = await fx.h.verify(fx.verifier, fx.key.key)
      expect(verdict.status).toBe(200)
      expect(verdict.body).toMatchObject({valid: true, code: 'VALID'})
      expect(refused[0]?.retryAfter).toBe('1')
      expect(refused[0]?.body).toMatchObject({status: 503, code: 'server_error'})
      expect(refused[0]?.body.detail).toMatch(/busy writing .* nothing of this batch was kept — send it again after Retry-After/)
      expect(fx.h.server.writerStats()).toMatchObject({bulkWaitingPeak: 1})
      expect(fx.h.server.writerStats().bulkRefused).toBeGreaterThanOrEqual(1)
      other.exec('commit')
      held = false
      const settled = await Promise.all(answers)
      // Every batch not acknowledged is sent again under its own Idempotency-Key.
      for (const [i, res] of settled.entries()) if (res?.status !== 200) await sendUntilStored(fx, batches[i]!)
    } finally {
      if (held) other.exec('rollback')
      other.close()
    }
    const expected = batches.reduce((sum, b) => sum + b.verifications, 0)
    expect(await reportedTotal(fx)).toBe(expected)
    // Sending everything once more changes nothing: each batch is answered as a duplicate.
    for (const batch of batches) expect((await sendBatch(fx.h.url, fx.verifier, batch))?.body).toMatchObject({duplicate: true})
    expect(await reportedTotal(fx)).toBe(expected)
  })

  it('admin commands of other processes succeed while verifiers flood the service with usage batches', {timeout: 120_000}, async () => {
    f = await verifyFixture()
    const fx = f
    const env = await cliEnv()
    // Three verifiers send batches of 200 events back to back until the commands are done.
    let next = 0
    let stop = false
    const acknowledged: Batch[] = []
    const sender = async (): Promise<void> => {
      while (!stop) {
        const batch = makeBatches(1, 200, fx.key.id, T0, `flood-${next++}`)[0]!
        const res = await sendBatch(fx.h.url, fx.verifier, batch)
        if (res?.status === 200) acknowledged.push(batch)
      }
    }
    const senders = Promise.all([sender(), sender(), sender()])
    try {
      const db = ['--db', fx.h.dbPath]
      const added = await runBinary(['server', 'users', 'add', 'carol', '--team', 'payments', '--team-contact', 'payments@example.com', '--password-stdin', ...db], {cwd: fx.h.dir, env, input: `${PASSWORD}\n`, mode: 'subprocess'})
      expect(added.stderr).not.toMatch(/locked|SQLITE_BUSY/i)
      expect(added.code).toBe(0)
      const verifier = await runBinary(['server', 'verifiers', 'add', 'payments-gateway', '--json', ...db], {cwd: fx.h.dir, env, mode: 'subprocess'})
      expect(verifier.stderr).not.toMatch(/locked|SQLITE_BUSY/i)
      expect(verifier.code).toBe(0)
      const revoked = await runBinary(['server', 'verifiers', 'revoke', 'payments-gateway', ...db], {cwd: fx.h.dir, env, mode: 'subprocess'})
      expect(revoked.stderr).not.toMatch(/locked|SQLITE_BUSY/i)
      expect(revoked.code).toBe(0)
    } finally {
      stop = true
      await senders
    }
    expect(acknowledged.length).toBeGreaterThan(0)
    expect(await fx.h.login('carol')).toMatch(/^aks_/)
    expect(await reportedTotal(fx)).toBe(acknowledged.reduce((sum, b) => sum + b.verifications, 0))
  })
})
