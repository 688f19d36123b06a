/**
 * `apikey init --store keychain` and session tokens in the keychain, against a
 * real Secret Service (run the suite through scripts/with-keyring.sh; skipped
 * with a message otherwise), and the no-keychain path.
 */
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createKeychain} from '../../src/lib/keychain/index.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {havePty, runPty} from '../helpers/pty.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

const probe = await createKeychain({env: process.env}).probe()
if (!probe.available) console.warn(`keychain e2e tests skipped: no usable Secret Service (${probe.message}); run under scripts/with-keyring.sh`)

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
})
afterAll(async () => svc?.close())

describe.skipIf(!probe.available)('with a real Secret Service', () => {
  it('login stores the session in the keychain; init --store keychain stores the key there and whoami finds it', async () => {
    const repo = await makeRepo('kc-app')
    // Same HOME-less env as the suite's keyring session: keep DBUS_SESSION_BUS_ADDRESS.
    const env = await cliEnv({DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR})
    const login = await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin', '--json'], {cwd: repo, env, input: PASSWORD})
    expect(login.code, login.stderr).toBe(0)
    expect(login.json.tokenStorage).toEqual({location: 'keychain'})
    await expect(stat(join(env.XDG_CONFIG_HOME!, 'apikey', 'credentials.json'))).rejects.toThrow()

    const init = await runCli(['init', '--app', 'kc-app', '--contact', 'ann@example.com', '--store', 'keychain', '--json'], {cwd: repo, env})
    expect(init.code, init.stderr).toBe(0)
    const host = new URL(svc.url).host
    expect(init.json.stored).toEqual({store: 'keychain', service: `apikey:${host}`, account: 'kc-app/dev'})
    // Nothing on disk in the project but the secret-free apikey.json.
    await expect(stat(join(repo, '.env'))).rejects.toThrow()
    expect(JSON.parse(await readFile(join(repo, 'apikey.json'), 'utf8')).store).toBe('keychain')

    const stored = await createKeychain({env: process.env}).get(`apikey:${host}`, 'kc-app/dev')
    expect(stored).toMatch(/^ak_kc-app_dev_/)

    const who = await runCli(['whoami', '--json'], {cwd: repo, env})
    expect(who.code, who.stderr).toBe(0)
    expect(who.json.source.name).toBe('keychain')
    expect(who.json.lookup.apiKey.id).toBe(init.json.key.id)

    const status = await runCli(['status', '--json'], {cwd: repo, env})
    expect(status.code).toBe(0)
    expect(status.json.session).toMatchObject({state: 'signed-in', source: 'keychain', user: 'ann'})
    expect(status.json.key.source).toContain('keychain')

    const logout = await runCli(['logout', '--json'], {cwd: repo, env})
    expect(logout.code).toBe(0)
    expect(logout.json).toMatchObject({revokedOnServer: true, cleared: ['keychain']})
  })
})

describe.skipIf(!probe.available)('with a real Secret Service, on a terminal', () => {
  it('init offers the keychain next to the .env, and stores the key there when chosen', async (ctx) => {
    if (!(await havePty())) ctx.skip()
    const repo = await makeRepo('kc-choice')
    const env = await cliEnv({APIKEY_TOKEN: await svc.token('ann'), DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR})
    const run = await runPty(['init', '--server', svc.url, '--app', 'kc-choice', '--contact', 'ann@example.com'], {
      cwd: repo,
      env,
      // Arrow down to the second choice, then Enter.
      steps: [{waitFor: /Where should your key be stored[\s\S]*OS keychain/, send: '\u001B[B\r'}],
    })
    expect(run.code, run.output).toBe(0)
    expect(run.output).not.toMatch(/not reachable/)
    expect(JSON.parse(await readFile(join(repo, 'apikey.json'), 'utf8')).store).toBe('keychain')
  })
})

describe('without a keychain (no D-Bus)', () => {
  it('init --store keychain fails with an actionable message before issuing a key, no stack trace', async () => {
    const repo = await makeRepo('nokc-app')
    const token = await svc.token('ann')
    const env = await cliEnv({APIKEY_TOKEN: token})
    const r = await runCli(['init', '--server', svc.url, '--app', 'nokc-app', '--contact', 'ann@example.com', '--store', 'keychain'], {cwd: repo, env})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/keychain is not available/)
    expect(r.stderr).toContain('--store dotenv')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // Refused before anything was created: the app is not registered, so no key exists either.
    const app = await fetch(`${svc.url}/v1/apps/nokc-app`, {headers: {authorization: `Bearer ${token}`}})
    expect(app.status).toBe(404)
  })

  it('status says where the session lives and reports the keychain as unavailable, not as an error', async () => {
    const repo = await makeRepo('status-app')
    const env = await cliEnv()
    const login = await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], {cwd: repo, env, input: PASSWORD})
    expect(login.code, login.stderr).toBe(0)
    expect(login.stderr).toMatch(/plaintext|0600/)
    const status = await runCli(['status', '--json'], {cwd: repo, env})
    expect(status.code, status.stderr).toBe(0)
    expect(status.json.server.url).toBe(svc.url)
    expect(status.json.session).toMatchObject({state: 'signed-in', source: 'file', user: 'ann'})
    expect(status.json.session.locations).toEqual([join(env.XDG_CONFIG_HOME!, 'apikey', 'credentials.json')])
    expect(status.json.project).toBeNull()

    const logout = await runCli(['logout', '--json'], {cwd: repo, env})
    expect(logout.json).toMatchObject({revokedOnServer: true, cleared: ['file']})
    const after = await runCli(['status', '--json'], {cwd: repo, env})
    expect(after.json.session.state).toBe('not-signed-in')
  })
})
