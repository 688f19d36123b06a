/**
 * `apikey usage`: the owning team sees its app's traffic (verifications through
 * the real service with a real verifier token); other teams are refused.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse as parseDotenv} from 'dotenv'
import {addVerifier} from '../../src/server/services/verifiers.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
  await svc.addUser('bob', 'maps')
})
afterAll(async () => svc?.close())

describe('apikey usage', () => {
  it("shows the app's verifications by key, outcome, route and client app; other teams are refused", async () => {
    const repo = await makeRepo('usage-app')
    const env = await cliEnv()
    expect((await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], {cwd: repo, env, input: PASSWORD})).code).toBe(0)
    const init = await runCli(['init', '--app', 'usage-app', '--contact', 'ann@example.com', '--yes', '--json'], {cwd: repo, env})
    expect(init.code, init.stderr).toBe(0)
    const key = parseDotenv(await readFile(join(repo, '.env'))).API_KEY!

    const verifier = await addVerifier({dbPath: svc.dbPath, name: 'usage-test'})
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${svc.url}/v1/verify`, {
        method: 'POST',
        headers: {authorization: `Bearer ${verifier.token}`, 'content-type': 'application/json'},
        body: JSON.stringify({key, context: {route: '/v1/forecast/:city', clientApp: 'com.example.weather', appVersion: '2.1.0', userAgent: 'okhttp/4.12.0', clientIp: '192.0.2.7'}}),
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as {code: string}).code).toBe('VALID')
    }

    const usage = await runCli(['usage', '--json'], {cwd: repo, env})
    expect(usage.code, usage.stderr).toBe(0)
    const r = usage.json.report
    expect(r.app).toBe('usage-app')
    expect(r.total).toBe(3)
    expect(r.byCode).toEqual({VALID: 3})
    expect(r.byKey).toEqual([expect.objectContaining({keyId: init.json.key.id, total: 3})])
    expect(r.byRoute).toEqual([{value: '/v1/forecast/:city', count: 3}])
    expect(r.byClientApp).toEqual([{value: 'com.example.weather', count: 3}])
    expect(r.distinctNetworks).toBe(1)
    expect(usage.stdout).not.toContain('192.0.2')

    // A verifier reports its verdicts in batches: cache hits count, while verdicts the service
    // answered (source "service") were already counted by /v1/verify and are not counted twice.
    const at = Date.now()
    const batch = await fetch(`${svc.url}/v1/usage`, {
      method: 'POST',
      headers: {authorization: `Bearer ${verifier.token}`, 'content-type': 'application/json'},
      body: JSON.stringify({events: [
        {keyId: init.json.key.id, app: 'usage-app', code: 'VALID', source: 'cache', route: '/v1/forecast/:city', at},
        {keyId: init.json.key.id, app: 'usage-app', code: 'VALID', source: 'service', route: '/v1/forecast/:city', at},
      ]}),
    })
    expect(batch.status).toBe(200)
    const after = await runCli(['usage', '--json'], {cwd: repo, env})
    expect(after.json.report.total).toBe(4)
    expect(after.json.report.bySource).toEqual({verify: 3, reported: 1})

    const text = await runCli(['usage'], {cwd: repo, env})
    expect(text.stdout).toMatch(/requests\t4/)

    const bobEnv = await cliEnv()
    expect((await runCli(['login', '--server', svc.url, '--username', 'bob', '--password-stdin'], {cwd: repo, env: bobEnv, input: PASSWORD})).code).toBe(0)
    const refused = await runCli(['usage', '--app', 'usage-app'], {cwd: repo, env: bobEnv})
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('weather')
  })
})
