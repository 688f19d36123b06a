/**
 * `apikey server verifiers add NAME [--env ENV …]`: the real binary on the
 * database of a running key service (real SQLite). The scope it prints is the
 * scope verification applies: a prod-only verifier answers FORBIDDEN for a dev
 * key and VALID for a prod key; an unscoped one accepts both. Bad environments
 * are usage errors (exit 2) naming the valid ones, and nothing is written.
 */
import {tempDir} from '../helpers/temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
let cwd: string
let env: Record<string, string | undefined>
let keys: Record<'dev' | 'prod', {id: string; key: string}>

const run = (args: string[]): Promise<CliRun> => runCli(['server', 'verifiers', 'add', ...args, '--db', svc.dbPath], {cwd, env})

/** `POST /v1/verify` of `key` with `token`. */
async function verify(token: string, key: string): Promise<{code: string; env: string | null; app: {slug: string} | null; message: string; suggestions: string[]}> {
  const res = await fetch(`${svc.url}/v1/verify`, {method: 'POST', headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body: JSON.stringify({key})})
  expect(res.status).toBe(200)
  return (await res.json()) as never
}

function verifierRows(): Array<{name: string; allowed_envs: string | null}> {
  const raw = new BetterSqlite3(svc.dbPath, {readonly: true})
  try {
    return raw.prepare('select name, allowed_envs from verifier_tokens order by name').all() as Array<{name: string; allowed_envs: string | null}>
  } finally {
    raw.close()
  }
}

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
  cwd = await tempDir('apikey-verifiers-')
  env = await cliEnv()
  const token = await svc.token('ann')
  const api = (path: string, body: unknown) =>
    fetch(`${svc.url}${path}`, {method: 'POST', headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body: JSON.stringify(body)})
  expect((await api('/v1/apps', {slug: 'weather-app', name: 'Weather', team: 'weather', contactEmail: 'ann@example.com'})).status).toBe(201)
  const issue = async (keyEnv: string) => (await (await api('/v1/apps/weather-app/keys', {env: keyEnv})).json()) as {id: string; key: string}
  keys = {dev: await issue('dev'), prod: await issue('prod')}
})
afterAll(async () => svc?.close())

describe('apikey server verifiers add --env', () => {
  it('--env prod --json: the scope in the result; the token refuses a dev key with FORBIDDEN and accepts a prod key', async () => {
    const res = await run(['orders-prod', '--env', 'prod', '--json'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.json).toEqual({
      id: expect.stringMatching(/^vrf_/),
      name: 'orders-prod',
      token: expect.stringMatching(/^akv_[0-9A-Za-z]{40}$/),
      start: expect.stringMatching(/^akv_/),
      createdAt: expect.any(Number),
      allowedEnvs: ['prod'],
      dbPath: svc.dbPath,
    })
    const forbidden = await verify(res.json.token, keys.dev.key)
    expect(forbidden).toMatchObject({code: 'FORBIDDEN', env: 'dev', app: {slug: 'weather-app'}, suggestions: ['apikey keys create --app weather-app --env prod']})
    expect(forbidden.message).toContain('the protected API behind verifier "orders-prod" accepts only prod keys')
    expect((await verify(res.json.token, keys.prod.key)).code).toBe('VALID')
  })

  it('repeated and comma-separated --env values combine, in environment order, without duplicates', async () => {
    const res = await run(['orders-staging', '--env', 'prod,stage', '--env', 'test', '--env', 'stage', '--json'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.json.allowedEnvs).toEqual(['test', 'stage', 'prod'])
    expect(verifierRows()).toContainEqual({name: 'orders-staging', allowed_envs: '["test","stage","prod"]'})
    expect((await verify(res.json.token, keys.dev.key)).code).toBe('FORBIDDEN')
    expect((await verify(res.json.token, keys.prod.key)).code).toBe('VALID')
  })

  it('without --env: every environment, as before (allowedEnvs null); human output prints the token alone on stdout and the scope on stderr', async () => {
    const res = await run(['weather-gateway'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toMatch(/^akv_[0-9A-Za-z]{40}\n$/)
    expect(res.stderr).toMatch(/created verifier weather-gateway \(vrf_\w+\), accepting keys of every environment; the token above is shown once/)
    expect(verifierRows()).toContainEqual({name: 'weather-gateway', allowed_envs: null})
    const token = res.stdout.trim()
    expect((await verify(token, keys.dev.key)).code).toBe('VALID')
    expect((await verify(token, keys.prod.key)).code).toBe('VALID')

    const scoped = await run(['orders-prod-2', '--env', 'prod'])
    expect(scoped.code, scoped.stderr).toBe(0)
    expect(scoped.stderr).toContain('created verifier orders-prod-2 (')
    expect(scoped.stderr).toContain('), accepting prod keys only;')
    const two = await run(['orders-pair', '--env', 'stage,prod'])
    expect(two.stderr).toContain('accepting stage and prod keys only')
  })

  it('an unknown environment is a usage error (exit 2) naming the valid environments; nothing is written', async () => {
    const before = verifierRows()
    const human = await run(['typo', '--env', 'production'])
    expect(human.code).toBe(2)
    expect(human.stdout).toBe('')
    expect(human.stderr).toContain('--env: "production" is not a key environment; valid environments: dev, test, stage, prod, ci')

    const json = await run(['typo', '--env', 'prod,Dev', '--json'])
    expect(json.code).toBe(2)
    expect(json.json.error).toMatchObject({code: 'usage', exitCode: 2, message: '--env: "Dev" is not a key environment; valid environments: dev, test, stage, prod, ci'})

    const empty = await run(['typo', '--env', 'prod,'])
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('valid environments: dev, test, stage, prod, ci')
    expect(verifierRows()).toEqual(before)
  })

  it('a secret given as NAME (a verifier token, an API key) is refused with exit 2, never echoed and never stored', async () => {
    const first = await run(['token-source', '--json'])
    expect(first.code, first.stderr).toBe(0)
    const before = verifierRows().length
    for (const secret of [first.json.token as string, keys.dev.key]) {
      const res = await run([secret])
      expect(res.code).toBe(2)
      expect(res.stdout + res.stderr).not.toContain(secret)
      expect(res.stderr).toMatch(/NAME expects a verifier name/)
    }
    expect(verifierRows().length).toBe(before)
  })

  it('list shows every verifier with its scope and state, never a token; a revoked name cannot be reused and the error says why', async () => {
    const added = await run(['list-me', '--env', 'prod,stage', '--json'])
    expect(added.code, added.stderr).toBe(0)
    const revoke = await runCli(['server', 'verifiers', 'revoke', 'list-me', '--db', svc.dbPath], {cwd, env})
    expect(revoke.code, revoke.stderr).toBe(0)

    const listed = await runCli(['server', 'verifiers', 'list', '--db', svc.dbPath, '--json'], {cwd, env})
    expect(listed.code, listed.stderr).toBe(0)
    const mine = (listed.json.verifiers as Array<Record<string, unknown>>).find((v) => v.name === 'list-me')
    expect(mine).toMatchObject({id: added.json.id, start: added.json.start, allowedEnvs: ['stage', 'prod'], revokedAt: expect.any(Number)})
    const human = await runCli(['server', 'verifiers', 'list', '--db', svc.dbPath], {cwd, env})
    expect(human.stdout).toMatch(/list-me\tvrf_\w+\takv_\w+…?\tstage and prod keys only\tcreated \S+\trevoked /)
    expect(listed.stdout + human.stdout).not.toContain(added.json.token)

    const again = await run(['list-me'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/was revoked at .* keeps its name .* pick another name, e\.g\. list-me-2/)
    expect(again.stderr).not.toMatch(/verifiers revoke list-me/)
  })
})
