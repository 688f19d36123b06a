/**
 * `apikey keys limit` and `apikey apps limit`: the real binary against the real
 * key service (127.0.0.1:0, SQLite in a temp dir). Every limit the CLI reports
 * is checked where it matters — in the verdicts of `POST /v1/verify` and the
 * `RateLimit-Limit` header of the nginx auth-request form, with a real
 * verifier token.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {addVerifier} from '../../src/server/services/verifiers.js'
import {DEFAULT_SETTINGS} from '../../src/server/settings.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {developer as developerOf, initProject} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
let verifierToken: string

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
  await svc.addUser('bob', 'maps', {teamContactEmail: 'maps-team@example.com'})
  verifierToken = (await addVerifier({dbPath: svc.dbPath, name: 'limits-test'})).token
})
afterAll(async () => svc?.close())

/** A developer signed in through APIKEY_TOKEN. */
const developer = (username: string) => developerOf(svc, username)

/** A repo with apikey.json and a .env holding ann's dev key. */
const project = (slug: string) => initProject(svc, slug)

/** `POST /v1/verify` of `key` with the test's verifier token. */
async function verify(key: string): Promise<{code: string; rateLimit: {limit: number; remaining: number} | null}> {
  const res = await fetch(`${svc.url}/v1/verify`, {
    method: 'POST',
    headers: {authorization: `Bearer ${verifierToken}`, 'content-type': 'application/json'},
    body: JSON.stringify({key}),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as {code: string; rateLimit: {limit: number; remaining: number} | null}
}

/** The limit in force for `key`, as a verifier sees it. */
async function limitOf(key: string): Promise<number | undefined> {
  const verdict = await verify(key)
  expect(verdict.code).toBe('VALID')
  return verdict.rateLimit?.limit
}

const DEV_DEFAULT = DEFAULT_SETTINGS.verifyRateLimits.dev.limit

describe('apikey keys limit / apps limit', () => {
  it("sets a key's own limit, then the app-wide one, then clears both; every answer matches what verification applies", async () => {
    const {repo, ann, keyId, key} = await project('limit-app')
    expect(await limitOf(key)).toBe(DEV_DEFAULT)

    // --json: the service's answer plus the server.
    const set = await ann.run(['keys', 'limit', keyId, '--rpm', '600', '--json'], repo)
    expect(set.code, set.stderr).toBe(0)
    expect(set.json).toEqual({server: svc.url, keyId, app: 'limit-app', env: 'dev', rpm: 600, effective: {limit: 600, windowMs: 60_000, source: 'key'}})
    expect(await limitOf(key)).toBe(600)

    // Human output: the limit now in force, and that it is the key's own; the nginx form says the same.
    const human = await ann.run(['keys', 'limit', keyId, '--rpm', '700'], repo)
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toBe(`✓ ${keyId} (dev key of limit-app): 700 requests per minute (its own limit)\n`)
    const gateway = await fetch(`${svc.url}/v1/verify/auth-request`, {headers: {'x-verifier-token': verifierToken, 'x-api-key': key}})
    expect(gateway.status).toBe(204)
    expect(gateway.headers.get('ratelimit-limit')).toBe('700')

    // The app-wide limit does not override a key's own.
    const app = await ann.run(['apps', 'limit', 'limit-app', '--rpm', '300', '--json'], repo)
    expect(app.code, app.stderr).toBe(0)
    expect(app.json).toEqual({server: svc.url, keyId: null, app: 'limit-app', env: null, rpm: 300, effective: null})
    expect(await limitOf(key)).toBe(700)
    const appHuman = await ann.run(['apps', 'limit', 'limit-app', '--rpm', '300'], repo)
    expect(appHuman.stdout).toBe('✓ limit-app: 300 requests per minute for each key without its own limit (app-wide limit, counted per key)\n')

    // --clear on the key: the app-wide limit applies again.
    const cleared = await ann.run(['keys', 'limit', keyId, '--clear', '--json'], repo)
    expect(cleared.code, cleared.stderr).toBe(0)
    expect(cleared.json).toMatchObject({keyId, rpm: null, effective: {limit: 300, windowMs: 60_000, source: 'app'}})
    expect(await limitOf(key)).toBe(300)

    // --clear on the app: the environment's default applies again.
    const appCleared = await ann.run(['apps', 'limit', 'limit-app', '--clear'], repo)
    expect(appCleared.code, appCleared.stderr).toBe(0)
    expect(appCleared.stdout).toBe("✓ limit-app: app-wide limit removed; each key without its own limit gets its environment's default\n")
    expect(await limitOf(key)).toBe(DEV_DEFAULT)
    const again = await ann.run(['keys', 'limit', keyId, '--clear'], repo)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(`✓ ${keyId} (dev key of limit-app): own limit removed; now ${DEV_DEFAULT} requests per minute (the default for dev keys)\n`)

    // Both changes are in the audit log with their before and after.
    const audit = await ann.run(['audit', '--app', 'limit-app', '--json'], repo)
    const actions = (audit.json.events as Array<{action: string}>).map((e) => e.action)
    expect(actions.filter((a) => a === 'key.limit')).toHaveLength(4)
    expect(actions.filter((a) => a === 'app.limit')).toHaveLength(3)
  })

  it('a new limit is enforced at once: --rpm 2 lets two verifications through, the third is RATE_LIMITED', async () => {
    const {repo, ann} = await project('limit-enforced')
    const created = await ann.run(['keys', 'create', '--env', 'test', '--json'], repo)
    expect(created.code, created.stderr).toBe(0)
    const r = await ann.run(['keys', 'limit', created.json.id, '--rpm', '2'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('2 requests per minute (its own limit)')
    const codes = [await verify(created.json.key), await verify(created.json.key), await verify(created.json.key)].map((v) => v.code)
    expect(codes).toEqual(['VALID', 'VALID', 'RATE_LIMITED'])
  })

  it('another team is refused (exit 1, naming the owning team) and nothing changes', async () => {
    const {repo, keyId, key} = await project('limit-owned')
    const bob = await developer('bob')
    const refused = await bob.run(['keys', 'limit', keyId, '--rpm', '5'], repo)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/belongs to team .*\(weather\); only its members can change its rate limits/)
    const json = await bob.run(['apps', 'limit', 'limit-owned', '--rpm', '5', '--json'], repo)
    expect(json.code).toBe(1)
    expect(json.json.error).toMatchObject({code: 'forbidden', exitCode: 1, details: {status: 403, extensions: {owningTeam: 'weather'}}})
    expect(await limitOf(key)).toBe(DEV_DEFAULT)

    // An unknown key id: exit 1, not found.
    const unknown = await bob.run(['keys', 'limit', 'key_00000000000000000000', '--rpm', '5', '--json'], repo)
    expect(unknown.code).toBe(1)
    expect(unknown.json.error.code).toBe('key_not_found')
  })

  it('a missing, conflicting or invalid --rpm is a usage error (exit 2) naming what to pass, before any request', async () => {
    const {repo, ann, keyId, key} = await project('limit-usage')
    const cases: Array<{args: string[]; says: RegExp}> = [
      {args: ['keys', 'limit', keyId], says: /pass --rpm N to set the key's own limit \(N: a whole number of requests per minute from 1 to 1000000\), or --clear to remove it/},
      {args: ['apps', 'limit', 'limit-usage'], says: /pass --rpm N to set the app-wide limit of every key without its own \(N: .*\), or --clear to remove it/},
      {args: ['keys', 'limit', keyId, '--rpm', '5', '--clear'], says: /--rpm and --clear cannot be used together/},
      {args: ['keys', 'limit', keyId, '--rpm', '0'], says: new RegExp(`--rpm: expected a whole number of requests per minute from 1 to 1000000, got "0"[\\s\\S]*--clear[\\s\\S]*apikey keys revoke ${keyId}`)},
      {args: ['keys', 'limit', keyId, '--rpm=-5'], says: /--rpm: expected a whole number .*, got "-5"/},
      {args: ['keys', 'limit', keyId, '--rpm', 'abc'], says: /--rpm: expected a whole number .*, got "abc"/},
      {args: ['keys', 'limit', keyId, '--rpm', '1.5'], says: /got "1\.5"/},
      {args: ['keys', 'limit', keyId, '--rpm', '1e3'], says: /got "1e3"/},
      {args: ['apps', 'limit', 'limit-usage', '--rpm', '1000001'], says: /--rpm: expected at most 1000000 requests per minute, got "1000001"/},
    ]
    for (const c of cases) {
      const r = await ann.run([...c.args, '--debug'], repo)
      expect(r.code, `${c.args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr, c.args.join(' ')).toMatch(c.says)
      expect(r.stderr, c.args.join(' ')).not.toMatch(/HTTP ->/)
    }
    const json = await ann.run(['keys', 'limit', keyId, '--json'], repo)
    expect(json.code).toBe(2)
    expect(json.json.error).toMatchObject({code: 'usage', exitCode: 2, details: {flag: '--rpm'}})
    expect(json.json.error.suggestions).toEqual([`apikey keys limit ${keyId} --rpm 600`, `apikey keys limit ${keyId} --clear`])
    // A key pasted as the --rpm value is not echoed either.
    const pasted = await ann.run(['keys', 'limit', keyId, '--rpm', key], repo)
    expect(pasted.code).toBe(2)
    expect(pasted.stdout + pasted.stderr).not.toContain(key)
    expect(pasted.stderr).toMatch(/--rpm contains what looks like an API key[\s\S]*not shown/)
  })

  it('an API key or token given as KEY_ID or APP is refused before any request (exit 2) and never echoed', async () => {
    const {repo, ann, key} = await project('limit-secret')
    const session = ann.env.APIKEY_TOKEN!
    const cases: Array<{args: string[]; secret: string; says: RegExp}> = [
      {args: ['keys', 'limit', key, '--rpm', '10'], secret: key, says: /KEY_ID expects a key id[\s\S]*apikey whoami KEY/},
      {args: ['keys', 'limit', key, '--clear'], secret: key, says: /KEY_ID expects a key id/},
      // Refused for the secret even when --rpm is wrong too: the secret is the bigger problem.
      {args: ['keys', 'limit', key], secret: key, says: /KEY_ID expects a key id/},
      {args: ['keys', 'limit', session, '--rpm', '10'], secret: session, says: /session token/},
      {args: ['apps', 'limit', key, '--rpm', '10'], secret: key, says: /APP expects an app slug/},
    ]
    for (const c of cases) {
      const r = await ann.run([...c.args, '--debug'], repo)
      expect(r.code, `${c.args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stdout + r.stderr).not.toContain(c.secret)
      expect(r.stderr).toMatch(c.says)
      expect(r.stderr).not.toMatch(/HTTP ->/)
    }
    const json = await ann.run(['keys', 'limit', key, '--rpm', '10', '--json'], repo)
    expect(json.json.error).toMatchObject({code: 'usage', exitCode: 2, details: {field: 'KEY_ID', reason: 'secret', secretKind: 'api-key'}})
    expect(json.json.error.message).toContain(`${key.slice(0, 'ak_limit-secret_dev_'.length + 4)}…`)
    expect(json.stdout).not.toContain(key)
  })

  it('without a session: exit 4 naming apikey login', async () => {
    const repo = await makeRepo('limit-nosession')
    const env = await cliEnv({APIKEY_SERVER: svc.url})
    const r = await runCli(['keys', 'limit', 'key_00000000000000000000', '--rpm', '10', '--json'], {cwd: repo, env})
    expect(r.code).toBe(4)
    expect(r.json.error.code).toBe('not_signed_in')
  })
})
