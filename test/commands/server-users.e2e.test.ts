/**
 * `apikey server users add`: the real binary on the database of a running key
 * service. A new user's password comes from stdin or is typed twice on a
 * terminal; an existing user added to another team is never asked for one (a
 * password given anyway is not used, and says so), and keeps signing in with theirs.
 */
import {tempDir} from '../helpers/temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {havePty, runPty} from '../helpers/pty.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
let cwd: string
let env: Record<string, string | undefined>

const add = (args: string[], input?: string): Promise<CliRun> => runCli(['server', 'users', 'add', ...args, '--db', svc.dbPath, '--json'], {cwd, env, ...(input === undefined ? {} : {input})})

/** Status of `POST /v1/sessions` for this username and password. */
async function signIn(username: string, password: string): Promise<number> {
  return (await fetch(`${svc.url}/v1/sessions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({username, password})})).status
}

beforeAll(async () => {
  svc = await startTestService()
  cwd = await tempDir('apikey-users-')
  env = await cliEnv()
})
afterAll(async () => svc?.close())

describe('apikey server users add', () => {
  it('a new user from --password-stdin; without stdin or a terminal the password flag is named (exit 2)', async () => {
    const created = await add(['carol', '--team', 'weather', '--password-stdin'], 'carol-password-1')
    expect(created.code, created.stderr).toBe(0)
    expect(created.json).toMatchObject({createdUser: true, user: {username: 'carol'}, team: {slug: 'weather'}})
    expect(await signIn('carol', 'carol-password-1')).toBe(201)

    const noPassword = await add(['dave', '--team', 'weather'])
    expect(noPassword.code).toBe(2)
    expect(noPassword.stdout + noPassword.stderr).toMatch(/--password-stdin/)
  })

  it('an existing user joins another team without being asked for a password; one given on stdin is not used, and says so', async () => {
    expect((await add(['erin', '--team', 'weather', '--password-stdin'], 'erin-password-1')).code).toBe(0)
    const joined = await add(['erin', '--team', 'maps'])
    expect(joined.code, joined.stderr).toBe(0)
    expect(joined.json).toMatchObject({createdUser: false, team: {slug: 'maps'}})
    const withStdin = await add(['erin', '--team', 'radar', '--password-stdin'], 'short')
    expect(withStdin.code, withStdin.stderr).toBe(0)
    expect(withStdin.stderr).toMatch(/erin exists and keeps their password: the password on stdin was not used/)
    expect(await signIn('erin', 'erin-password-1')).toBe(201)
    expect(await signIn('erin', 'short')).toBe(401)
  })

  it('on a terminal a new user\'s password is typed twice: a short one or a differing second one is asked again (Ctrl+C then changes nothing), the same twice creates the user', async (ctx) => {
    if (!(await havePty())) ctx.skip()
    // A short password, then a second one that differs, are asked again; Ctrl+C then changes nothing.
    const differ = await runPty(['server', 'users', 'add', 'frank', '--team', 'weather', '--db', svc.dbPath], {
      cwd,
      env,
      steps: [
        {waitFor: /Password for frank/, send: 'short\r'},
        {waitFor: /too short: at least \d+ characters/, send: '\u0015frank-password-1\r'},
        {waitFor: /again/, send: 'frank-password-2\r'},
        {waitFor: /not the same password: type it again/, send: '\u0003'},
      ],
    })
    expect(differ.code).toBe(3)
    expect(await signIn('frank', 'frank-password-1')).toBe(401)

    const same = await runPty(['server', 'users', 'add', 'frank', '--team', 'weather', '--db', svc.dbPath], {
      cwd,
      env,
      steps: [
        {waitFor: /Password for frank/, send: 'frank-password-1\r'},
        {waitFor: /again/, send: 'frank-password-1\r'},
      ],
    })
    expect(same.code, same.output).toBe(0)
    expect(await signIn('frank', 'frank-password-1')).toBe(201)
  })
})
