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

  it('answers for an app with millions of stored verifications over 30 days, as for a small one', async () => {
    const repo = await makeRepo('big-usage-app')
    const env = await cliEnv()
    expect((await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], {cwd: repo, env, input: PASSWORD})).code).toBe(0)
    const init = await runCli(['init', '--app', 'big-usage-app', '--contact', 'ann@example.com', '--yes', '--json'], {cwd: repo, env})
    expect(init.code, init.stderr).toBe(0)
    const keyId = init.json.key.id as string
    const verifier = await addVerifier({dbPath: svc.dbPath, name: 'big-usage-test'})
    // 20,000 distinct rows (route × network × minute) standing for about 10 million verifications over the last 30 days.
    const now = Date.now()
    let sent = 0
    for (let b = 0; b < 4; b++) {
      const events = Array.from({length: 5000}, (_, i) => {
        const n = b * 5000 + i
        const count = 1 + (n % 999)
        sent += count
        return {keyId, app: 'big-usage-app', code: n % 50 === 0 ? 'RATE_LIMITED' : 'VALID', route: `/v1/items/${n % 40}`, clientIp: `198.51.${n % 200}.9`, at: now - 60_000 - Math.floor((n * 30 * 86_400_000) / 20_000), count}
      })
      const res = await fetch(`${svc.url}/v1/usage`, {method: 'POST', headers: {authorization: `Bearer ${verifier.token}`, 'content-type': 'application/json'}, body: JSON.stringify({events})})
      expect(res.status).toBe(200)
    }
    await svc.rollupUsage()
    const usage = await runCli(['usage', '--since', '30d', '--json'], {cwd: repo, env})
    expect(usage.code, usage.stderr).toBe(0)
    const r = usage.json.report
    expect(r.total).toBe(sent)
    expect(r.byRoute).toHaveLength(40)
    expect(r.distinctNetworks).toBe(200)
    expect(r.parts.map((p: {level: string}) => p.level)).toContain('week')
    const text = await runCli(['usage', '--since', '30d'], {cwd: repo, env})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`requests\t${sent}`)
  })
})
