/**
 * `apikey login` while a session for the server is already in use says who is signed in,
 * on which server, and how to switch — it asks nothing and replaces nothing — and signing
 * in as another user replaces the session with a warning naming the one replaced.
 */
import {rm} from 'node:fs/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli} from '../helpers/cli.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
const homes: string[] = []
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
  await svc.addUser('bob', 'billing')
})
afterAll(async () => {
  await svc?.close()
  for (const home of homes) await rm(home, {recursive: true, force: true})
})

async function signedInAsAnn(): Promise<Record<string, string | undefined>> {
  const env = await cliEnv()
  homes.push(env.HOME!)
  const first = await runCli(['login', '--server', svc.url, '--username', 'ann', '--password-stdin', '--token-file', '--json'], {cwd: env.HOME!, env, input: PASSWORD})
  expect(first.code, first.stderr).toBe(0)
  expect(first.json.alreadySignedIn).toBeUndefined()
  return env
}

describe('apikey login while signed in', () => {
  it('says which user, which server and how to switch; asks nothing and keeps the session', async () => {
    const env = await signedInAsAnn()
    const again = await runCli(['login', '--json'], {cwd: env.HOME!, env})
    expect(again.code, again.stderr).toBe(0)
    expect(again.json).toMatchObject({
      alreadySignedIn: true,
      server: {url: svc.url},
      user: {username: 'ann'},
      tokenStorage: {location: 'file'},
      switchWith: `apikey login --server ${svc.url} --username NAME`,
    })
    const human = await runCli(['login', '--username', 'ann'], {cwd: env.HOME!, env})
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain(`Already signed in to ${svc.url} as ann (teams: weather)`)
    expect(human.stderr).toContain(`to sign in as someone else: apikey login --server ${svc.url} --username NAME (replaces this session)`)
    expect(human.stderr).toContain(`to sign out: apikey logout --server ${svc.url}`)
    // The session is the one from before: still usable.
    const status = await runCli(['status', '--json'], {cwd: env.HOME!, env})
    expect(JSON.stringify(status.json)).toContain('ann')
  })

  it('signing in as another user replaces the session and names the one replaced', async () => {
    const env = await signedInAsAnn()
    const bob = await runCli(['login', '--username', 'bob', '--password-stdin', '--token-file', '--json'], {cwd: env.HOME!, env, input: PASSWORD})
    expect(bob.code, bob.stderr).toBe(0)
    expect(bob.json.user.username).toBe('bob')
    expect(bob.json.alreadySignedIn).toBeUndefined()
    expect(bob.stderr).toContain(`signed in to ${svc.url} as ann (session in `)
    expect(bob.stderr).toContain('signing in as bob replaces that session')
    const after = await runCli(['login', '--json'], {cwd: env.HOME!, env})
    expect(after.json).toMatchObject({alreadySignedIn: true, user: {username: 'bob'}})
  })

  it('a password on --password-stdin signs in again (a fresh session); an empty one keeps the session in use', async () => {
    const env = await signedInAsAnn()
    const empty = await runCli(['login', '--username', 'ann', '--password-stdin', '--json'], {cwd: env.HOME!, env, input: ''})
    expect(empty.code, empty.stderr).toBe(0)
    expect(empty.json.alreadySignedIn).toBe(true)
    const fresh = await runCli(['login', '--username', 'ann', '--password-stdin', '--token-file', '--json'], {cwd: env.HOME!, env, input: PASSWORD})
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.json.alreadySignedIn).toBeUndefined()
  })

  it('APIKEY_TOKEN signing someone in counts as signed in too', async () => {
    const env = await cliEnv()
    homes.push(env.HOME!)
    const token = await svc.token('bob')
    const run = await runCli(['login', '--server', svc.url, '--json'], {cwd: env.HOME!, env: {...env, APIKEY_TOKEN: token}})
    expect(run.code, run.stderr).toBe(0)
    expect(run.json).toMatchObject({alreadySignedIn: true, user: {username: 'bob'}, tokenStorage: {location: 'env'}})
    expect(run.stdout).not.toContain(token)
  })
})
