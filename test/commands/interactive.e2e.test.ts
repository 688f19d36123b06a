/**
 * `apikey init` on a real terminal (pseudo-terminal via util-linux `script`):
 * the questions, their guessed defaults, and Ctrl+C.
 */
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse as parseDotenv} from 'dotenv'
import {cliEnv, runCli} from '../helpers/cli.js'
import {git, makeRepo} from '../helpers/git.js'
import {havePty, runPty} from '../helpers/pty.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

const pty = await havePty()
if (!pty) console.warn('interactive tests skipped: util-linux `script` is not installed')

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
})
afterAll(async () => svc?.close())

const ENTER = '\r'

describe.skipIf(!pty)('interactive init', () => {
  it('asks for the password, then at most four questions with guessed defaults, and stores the key; with no keychain reachable the keychain is not offered', async () => {
    const repo = await makeRepo('terminal-app')
    const env = await cliEnv()
    const run = await runPty(['init', '--server', svc.url], {
      cwd: repo,
      env,
      steps: [
        {waitFor: /Username/, send: `ann${ENTER}`},
        {waitFor: /Password for ann/, send: `${PASSWORD}${ENTER}`},
        {waitFor: /App slug.*terminal-app/, send: ENTER},
        {waitFor: /Point of contact email.*weather-team@example\.com/, send: ENTER},
        // No keychain answers here (no D-Bus session): it is not offered, so the .env needs consent.
        {waitFor: /\.env is not ignored by git\. Add it to \.gitignore\?/, send: ENTER},
      ],
    })
    expect(run.code, run.output).toBe(0)
    expect(run.output).not.toMatch(/Where should your key be stored|OS keychain \(nothing on disk/)
    expect(run.output).toMatch(/the OS keychain is not reachable here \(.+\): the key goes to \.env/)
    expect(run.output).toContain('Registered app terminal-app')
    expect(run.output).toContain('Added "/.env" to')
    expect(run.output).not.toContain(PASSWORD)
    const key = parseDotenv(await readFile(join(repo, '.env'))).API_KEY
    expect(key).toMatch(/^ak_terminal-app_dev_/)
    expect(run.output).not.toContain(key)
    expect(() => git(repo, 'check-ignore', '-q', '.env')).not.toThrow()
    const who = await runCli(['whoami', '--json'], {cwd: repo, env})
    expect(who.json.lookup.app).toMatchObject({slug: 'terminal-app', contactEmail: 'weather-team@example.com', team: {slug: 'weather'}})
  })

  it('Ctrl+C at a question exits 3 and writes nothing', async () => {
    const repo = await makeRepo('cancel-app')
    const env = await cliEnv()
    const login = await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], {cwd: repo, env, input: PASSWORD})
    expect(login.code).toBe(0)
    const run = await runPty(['init'], {cwd: repo, env, steps: [{waitFor: /App slug/, send: '\u0003'}]})
    expect(run.code).toBe(3)
    expect(run.output).toMatch(/cancelled/)
    await expect(stat(join(repo, '.env'))).rejects.toThrow()
    await expect(stat(join(repo, 'apikey.json'))).rejects.toThrow()
  })
})

describe.skipIf(!pty)('interactive init with the store given as a flag', () => {
  it('asks before editing .gitignore, and a "no" refuses with exit 5 and the exact line to add', async () => {
    const repo = await makeRepo('consent-app')
    const env = await cliEnv()
    const login = await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], {cwd: repo, env, input: PASSWORD})
    expect(login.code).toBe(0)
    const run = await runPty(['init', '--app', 'consent-app', '--contact', 'ann@example.com', '--store', 'dotenv'], {
      cwd: repo,
      env,
      steps: [{waitFor: /not ignored by git\. Add it to \.gitignore\?/, send: `n${ENTER}`}],
    })
    expect(run.code, run.output).toBe(5)
    expect(run.output).toContain('/.env')
    await expect(stat(join(repo, '.env'))).rejects.toThrow()
    await expect(stat(join(repo, '.gitignore'))).rejects.toThrow()
  })
})
