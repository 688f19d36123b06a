/**
 * The verifier token is checked at start, against the real key service: the
 * library's `check()` tells a rejected token (a configuration error) from a
 * service that cannot be asked, every rejection reads "verifier token rejected"
 * from the first failure on, and the example protected API refuses to start
 * with a rejected token.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {createServer} from 'node:net'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {addVerifier, revokeVerifier} from '../../src/server/services/verifiers.js'
import {createVerifier} from '../../src/verify/index.js'
import {startTestService, type TestService} from '../helpers/service.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(`${root}dist/verify/index.js`)
const WRONG = 'akv_' + 'W'.repeat(43)

let svc: TestService
let token: string
beforeAll(async () => {
  svc = await startTestService()
  token = (await addVerifier({dbPath: svc.dbPath, name: 'orders'})).token
})
afterAll(async () => svc?.close())

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('verifier.check()', () => {
  it('accepts the token of an active verifier; says "verifier token rejected" for a wrong or revoked one; tells a service it cannot ask apart', async () => {
    const good = createVerifier({serviceUrl: svc.url, verifierToken: token, usage: {enabled: false}})
    expect(await good.check()).toEqual({ok: true})
    expect(good.stats().lastFailure).toBeNull()
    await good.close()

    const wrong = createVerifier({serviceUrl: svc.url, verifierToken: WRONG, usage: {enabled: false}})
    const refused = await wrong.check()
    expect(refused).toMatchObject({ok: false, rejected: true, reason: expect.stringMatching(/^verifier token rejected: the service answered 401/)})
    expect(wrong.stats().lastFailure?.reason).toContain('verifier token rejected')
    // A verification with it: unavailable, and the first failure already names the cause.
    const fresh = createVerifier({serviceUrl: svc.url, verifierToken: WRONG, usage: {enabled: false}})
    const body = 'ak_weather-app_dev_' + 'x'.repeat(30)
    expect(await fresh.verify(body + checksumOf(body))).toMatchObject({valid: false})
    expect(fresh.stats().lastFailure?.reason).toMatch(/^POST \/v1\/verify: verifier token rejected/)
    await Promise.all([wrong.close(), fresh.close()])

    const revokedToken = (await addVerifier({dbPath: svc.dbPath, name: 'gone'})).token
    await revokeVerifier({dbPath: svc.dbPath, verifier: 'gone'})
    const revoked = createVerifier({serviceUrl: svc.url, verifierToken: revokedToken, usage: {enabled: false}})
    expect(await revoked.check()).toMatchObject({ok: false, rejected: true})
    await revoked.close()

    const down = createVerifier({serviceUrl: `http://127.0.0.1:${await closedPort()}`, verifierToken: token, usage: {enabled: false}})
    expect(await down.check()).toMatchObject({ok: false, rejected: false})
    await down.close()
  })
})

describe.skipIf(!built)('examples/protected-api at start', () => {
  it('with a rejected verifier token says "verifier token rejected" and exits 1; with a good one it serves', async () => {
    const start = (verifierToken: string) =>
      new Promise<{code: number | null; stdout: string; stderr: string; kill: () => void}>((resolve) => {
        const child = spawn(process.execPath, ['examples/protected-api/server.mjs'], {
          cwd: root,
          env: {...process.env, APIKEY_SERVICE_URL: svc.url, APIKEY_VERIFIER_TOKEN: verifierToken, PORT: '0'},
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stdout = ''
        let stderr = ''
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d
          // Listening: it started.
          if (stdout.includes('"url"')) resolve({code: null, stdout, stderr, kill: () => child.kill('SIGKILL')})
        })
        child.on('exit', (code) => resolve({code, stdout, stderr, kill: () => {}}))
      })
    const rejected = await start(WRONG)
    expect(rejected.code).toBe(1)
    expect(rejected.stdout).toBe('')
    expect(rejected.stderr).toMatch(/^protected-api: verifier token rejected by http:\/\/127\.0\.0\.1:\d+: /)
    expect(rejected.stderr).not.toContain(WRONG)

    const ok = await start(token)
    try {
      expect(ok.code).toBeNull()
      const url = (JSON.parse(ok.stdout.trim().split('\n')[0]!) as {url: string}).url
      expect((await fetch(`${url}/v1/forecast/paris`)).status).toBe(401)
    } finally {
      ok.kill()
    }
  })
})
