/**
 * Key lifecycle end to end — `keys list/create/rotate/revoke`, `apps
 * list/show/transfer`, `audit`, `tokens` and the `whoami` additions: the real
 * binary as a subprocess, the real key service on 127.0.0.1:0, real git
 * repositories in temp dirs. Developers authenticate with APIKEY_TOKEN (no
 * config file), as in CI.
 */
import {readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {parse as parseDotenv} from 'dotenv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {git, makeRepo} from '../helpers/git.js'
import {havePty, runPty} from '../helpers/pty.js'
import {developer as developerOf, initProject} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
  await svc.addUser('bob', 'maps', {teamContactEmail: 'maps-team@example.com'})
  // dora is in both teams: she can move an app from weather to maps.
  await svc.addUser('dora', 'weather')
  await svc.addUser('dora', 'maps')
})
afterAll(async () => svc?.close())

/** A developer signed in through APIKEY_TOKEN (no login, no config file). */
/** A signed-in developer whose `run` takes stdin as a third argument. */
async function developer(username: string) {
  const dev = await developerOf(svc, username)
  return {env: dev.env, run: (args: string[], cwd: string, input?: string): Promise<CliRun> => dev.run(args, cwd, {input})}
}

/** A repo with apikey.json and a .env holding ann's dev key. */
async function project(slug: string) {
  const {ann: _ann, ...rest} = await initProject(svc, slug)
  return {...rest, ann: await developer('ann')}
}

describe('keys', () => {
  it('list: --json, TSV with full ISO timestamps when piped; create prints the key once; --store dotenv writes it safely', async () => {
    const {repo, ann, keyId} = await project('weather-app')

    const created = await ann.run(['keys', 'create', '--env', 'prod', '--expires-in', '30d', '--name', 'weather api (prod)', '--json'], repo)
    expect(created.code, created.stderr).toBe(0)
    expect(created.json).toMatchObject({app: 'weather-app', env: 'prod', kind: 'service', name: 'weather api (prod)', stored: null})
    expect(created.json.key).toMatch(/^ak_weather-app_prod_[0-9A-Za-z]{36}$/)
    // --expires-in counts from the CLI's clock; the service stamps createdAt a moment later.
    expect(Math.abs(created.json.expiresAt - created.json.createdAt - 30 * 86_400_000)).toBeLessThan(10_000)

    // Without --json: the key alone on stdout, the warning on stderr.
    const plain = await ann.run(['keys', 'create', '--env', 'test'], repo)
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toMatch(/^ak_weather-app_test_[0-9A-Za-z]{36}\n$/)
    expect(plain.stderr).toMatch(/only time the key is shown/)

    // --store dotenv into another env file: ignored by git first (--yes), written 0600, nothing on stdout.
    const stored = await ann.run(['keys', 'create', '--env', 'stage', '--store', 'dotenv', '--dotenv-file', '.env.stage', '--var', 'STAGE_KEY', '--yes', '--json'], repo)
    expect(stored.code, stored.stderr).toBe(0)
    expect(stored.json.key).toBeUndefined()
    expect(stored.json.stored).toMatchObject({store: 'dotenv', path: join(repo, '.env.stage'), variable: 'STAGE_KEY', created: true})
    expect(parseDotenv(await readFile(join(repo, '.env.stage'))).STAGE_KEY).toMatch(/^ak_weather-app_stage_/)
    expect((await stat(join(repo, '.env.stage'))).mode & 0o777).toBe(0o600)
    expect(() => git(repo, 'check-ignore', '-q', '.env.stage')).not.toThrow()

    const list = await ann.run(['keys', 'list', '--json'], repo)
    expect(list.code, list.stderr).toBe(0)
    expect(list.json.app).toBe('weather-app')
    expect(list.json.keys.map((k: {env: string}) => k.env).sort()).toEqual(['dev', 'prod', 'stage', 'test'])
    expect(JSON.stringify(list.json)).not.toContain(created.json.key)

    const tsv = await ann.run(['keys', 'list'], repo)
    expect(tsv.code).toBe(0)
    const lines = tsv.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(4)
    const dev = lines.map((l) => l.split('\t')).find((cols) => cols[0] === keyId)!
    // id, start, env, kind, name, created by, created, expires, last used, status
    expect(dev).toHaveLength(10)
    expect(dev.slice(2, 4)).toEqual(['dev', 'dev'])
    expect(dev[5]).toBe('ann')
    expect(dev[6]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(dev[9]).toBe('active')
  })

  it('rotate in a project updates .env in place (other lines byte-identical); the old key works until the grace ends', async () => {
    const {repo, ann, keyId, key: oldKey} = await project('rotate-app')
    // Comments, CRLF line ends, quoting and other variables around our line.
    const before = `# local settings\r\nPORT=3000\r\nexport API_KEY=${oldKey}\r\nSECRET_NAME="x y" # keep\r\n`
    await writeFile(join(repo, '.env'), before)

    const r = await ann.run(['keys', 'rotate', keyId, '--grace', '24h', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.key).toBeUndefined()
    expect(r.json.updated).toEqual([expect.objectContaining({store: 'dotenv', path: join(repo, '.env'), variable: 'API_KEY', change: 'updated'})])
    expect(r.json.oldKey.rotation.graceEndsAt - r.json.oldKey.rotation.rotatedAt).toBe(24 * 3_600_000)
    expect(r.json.oldKey.rotation.replacedBy).toBe(r.json.newKey.id)

    const after = await readFile(join(repo, '.env'), 'utf8')
    const newKey = parseDotenv(after).API_KEY!
    expect(newKey).not.toBe(oldKey)
    expect(newKey.startsWith('ak_rotate-app_dev_')).toBe(true)
    expect(after).toBe(before.replace(oldKey, newKey))

    // whoami with the old key: still active, says when the grace ends.
    const old = await ann.run(['whoami', oldKey, '--json'], repo)
    expect(old.code, old.stderr).toBe(0)
    expect(old.json.lookup.apiKey.status).toBe('active')
    expect(old.json.lookup.apiKey.rotation.graceEndsAt).toBe(r.json.oldKey.rotation.graceEndsAt)
    const oldText = await ann.run(['whoami', oldKey], repo)
    expect(oldText.stdout).toMatch(/grace ends at \d{4}-/)
    expect(oldText.stderr).toMatch(/rotated/)

    // Human output outside the project: the new key once on stdout, and when the old one stops.
    const elsewhere = await makeRepo('elsewhere')
    const again = await ann.run(['keys', 'rotate', r.json.newKey.id, '--grace', '0'], elsewhere)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^ak_rotate-app_dev_[0-9A-Za-z]{36}\n$/)
    expect(again.stderr).toMatch(/stopped working at once/)
    // Grace 0: the key in .env is now rejected; whoami exits 1 and says so.
    const rejected = await ann.run(['whoami', '--json'], repo)
    expect(rejected.code).toBe(1)
    expect(rejected.json.lookup.apiKey.status).not.toBe('active')
  })

  it('revoke: --yes required without a terminal (exit 2), twice says already revoked (exit 0); whoami shows who and when, exit 1', async () => {
    const {repo, ann, keyId} = await project('revoke-app')
    const noYes = await ann.run(['keys', 'revoke', keyId], repo)
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('--yes')

    const first = await ann.run(['keys', 'revoke', keyId, '--yes', '--json'], repo)
    expect(first.code, first.stderr).toBe(0)
    expect(first.json).toMatchObject({alreadyRevoked: false, key: {id: keyId, status: 'revoked', revokedBy: 'ann'}})
    const second = await ann.run(['keys', 'revoke', keyId, '--yes'], repo)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toMatch(/already revoked/)

    const who = await ann.run(['whoami'], repo)
    expect(who.code).toBe(1)
    expect(who.stdout).toMatch(/status\trevoked at \d{4}-\S+ by ann/)
    expect(who.stderr).toMatch(/revoked/)
  })

  it('revoke on a terminal asks first: "n" cancels (exit 3, key unchanged), "y" revokes', async () => {
    if (!(await havePty())) return
    const {repo, ann, keyId} = await project('confirm-app')
    const no = await runPty(['keys', 'revoke', keyId], {cwd: repo, env: ann.env, steps: [{waitFor: /Revoke key_\S+ \(ak_confirm-app_dev_/, send: 'n\r'}]})
    expect(no.code, no.output).toBe(3)
    expect((await ann.run(['keys', 'list', '--json'], repo)).json.keys[0].status).toBe('active')
    const yes = await runPty(['keys', 'revoke', keyId], {cwd: repo, env: ann.env, steps: [{waitFor: /Revoke key_/, send: 'y\r'}]})
    expect(yes.code, yes.output).toBe(0)
    expect(yes.output).toMatch(/Revoked key_/)
  })

  it('whoami warns when a key expires within 14 days', async () => {
    const {repo, ann} = await project('expiring-app')
    const soon = await ann.run(['keys', 'create', '--env', 'test', '--expires-in', '7d', '--json'], repo)
    expect(soon.code, soon.stderr).toBe(0)
    const who = await ann.run(['whoami', soon.json.key], repo)
    expect(who.code).toBe(0)
    expect(who.stderr).toMatch(/expires at \S+ \(in less than 14 days\)/)
    const later = await ann.run(['keys', 'create', '--env', 'test', '--expires-in', '30d', '--json'], repo)
    expect((await ann.run(['whoami', later.json.key], repo)).stderr).not.toMatch(/less than 14 days/)
  })

  it('rotate of a revoked service key exits 1 and names the command that issues a new one (keys create for its app and env)', async () => {
    const {repo, ann} = await project('ended-app')
    const created = await ann.run(['keys', 'create', '--env', 'test', '--json'], repo)
    expect(created.code, created.stderr).toBe(0)
    expect((await ann.run(['keys', 'revoke', created.json.id, '--yes'], repo)).code).toBe(0)
    const r = await ann.run(['keys', 'rotate', created.json.id], repo)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('a revoked key cannot be rotated — issue a new key instead: apikey keys create --app ended-app --env test')
    expect(r.stderr).not.toContain('--new-key')
  })

  it("another team's key: rotate and revoke exit 1 naming the owning team; unknown id exit 1; bad durations exit 2", async () => {
    const {repo, keyId} = await project('owned-app')
    const bob = await developer('bob')
    for (const args of [['keys', 'rotate', keyId, '--grace', '1h'], ['keys', 'revoke', keyId, '--yes']]) {
      const r = await bob.run([...args, '--json'], repo)
      expect(r.code, r.stdout).toBe(1)
      expect(r.json.error.code).toBe('forbidden')
      expect(r.json.error.message).toContain('weather')
    }
    const ann = await developer('ann')
    const unknown = await ann.run(['keys', 'revoke', 'key_00000000000000000000', '--yes', '--json'], repo)
    expect(unknown.code).toBe(1)
    expect(unknown.json.error.code).toMatch(/not_found/)
    expect((await ann.run(['keys', 'rotate', 'key_00000000000000000000'], repo)).code).toBe(1)

    for (const [args, flag] of [
      [['keys', 'rotate', keyId, '--grace', '24'], '--grace'],
      [['keys', 'rotate', keyId, '--grace=-1h'], '--grace'],
      [['keys', 'rotate', keyId, '--grace', '1.5h'], '--grace'],
      [['keys', 'rotate', keyId, '--grace', '11000d'], '--grace'],
      [['keys', 'create', '--env', 'prod', '--expires-in', '0'], '--expires-in'],
      [['keys', 'create', '--env', 'prod', '--expires-in', 'soon'], '--expires-in'],
      [['tokens', 'create', '--expires-in', '3y'], '--expires-in'],
      [['audit', '--since', '2027-06-01'], '--since'],
    ] as const) {
      const r = await ann.run([...args], repo)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain(flag)
    }
    // The service's own maximum (e.g. for a grace period) is a usage error too.
    const tooLong = await ann.run(['keys', 'rotate', keyId, '--grace', '3650d', '--json'], repo)
    expect(tooLong.code, tooLong.stdout).toBe(2)
  })
})

describe('apps', () => {
  it('list, show (team, contact, key counts), transfer to another team', async () => {
    const {repo} = await project('moving-app')
    const dora = await developer('dora')
    const list = await dora.run(['apps', 'list', '--json'], repo)
    expect(list.code, list.stderr).toBe(0)
    expect(list.json.apps.map((a: {slug: string}) => a.slug)).toContain('moving-app')
    const tsv = await dora.run(['apps', 'list'], repo)
    expect(tsv.stdout).toMatch(/^moving-app\tMoving App\tweather\tann@example.com\t\d{4}-\S+Z$/m)

    const show = await dora.run(['apps', 'show', 'moving-app', '--json'], repo)
    expect(show.code, show.stderr).toBe(0)
    expect(show.json).toMatchObject({app: {slug: 'moving-app', team: {slug: 'weather'}, contactEmail: 'ann@example.com'}, keys: {total: 1, active: 1}})

    const bob = await developer('bob')
    const refused = await bob.run(['apps', 'transfer', 'moving-app', '--to-team', 'maps', '--json'], repo)
    expect(refused.code).toBe(1)
    expect(refused.json.error.code).toBe('forbidden')

    const moved = await dora.run(['apps', 'transfer', 'moving-app', '--to-team', 'maps', '--contact', 'maps-team@example.com', '--yes', '--json'], repo)
    // dora is a member (not necessarily owner) of weather; the service decides who may transfer.
    if (moved.code === 0) {
      expect(moved.json).toMatchObject({from: 'weather', app: {slug: 'moving-app', team: {slug: 'maps'}, contactEmail: 'maps-team@example.com'}})
      const shown = await bob.run(['apps', 'show', 'moving-app', '--json'], repo)
      expect(shown.json.app.team.slug).toBe('maps')
      expect(shown.json.keys.total).toBe(1)
    } else {
      expect(moved.code).toBe(1)
      expect(moved.json.error.code).toBe('forbidden')
    }

    const bad = await dora.run(['apps', 'transfer', 'moving-app', '--to-team', 'Not A Team'], repo)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--to-team')
    const missing = await dora.run(['apps', 'transfer', 'moving-app'], repo)
    expect(missing.code).toBe(2)
    const nowhere = await dora.run(['apps', 'show', 'no-such-app', '--json'], repo)
    expect(nowhere.code).toBe(1)
    expect(nowhere.json.error.code).toBe('not_found')
  })
})

describe('tokens and audit', () => {
  it('tokens create prints the token once; list; revoke twice exits 0; audit shows the changes', async () => {
    const {repo, ann} = await project('token-app')
    const created = await ann.run(['tokens', 'create', '--scope', 'ci', '--name', 'github actions', '--expires-in', '90d'], repo)
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^akp_\S+\n$/)
    expect(created.stderr).toMatch(/only time the token is shown/)
    const token = created.stdout.trim()

    const list = await ann.run(['tokens', 'list', '--json'], repo)
    expect(list.code, list.stderr).toBe(0)
    expect(list.json.tokens).toHaveLength(1)
    const view = list.json.tokens[0]
    expect(view).toMatchObject({app: 'token-app', scope: 'ci', name: 'github actions', status: 'active', createdBy: 'ann'})
    expect(Math.abs(view.expiresAt - view.createdAt - 90 * 86_400_000)).toBeLessThan(10_000)
    expect(list.stdout).not.toContain(token)

    const noYes = await ann.run(['tokens', 'revoke', view.id], repo)
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('--yes')
    const revoked = await ann.run(['tokens', 'revoke', view.id, '--yes', '--json'], repo)
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.json).toMatchObject({alreadyRevoked: false, token: {id: view.id, status: 'revoked'}})
    const twice = await ann.run(['tokens', 'revoke', view.id, '--yes'], repo)
    expect(twice.code).toBe(0)
    expect(twice.stdout).toMatch(/already revoked/)

    const audit = await ann.run(['audit', '--since', '1h', '--json'], repo)
    expect(audit.code, audit.stderr).toBe(0)
    expect(audit.json.app).toBe('token-app')
    const actions = audit.json.events.map((e: {action: string}) => e.action)
    expect(actions).toEqual(expect.arrayContaining(['app.create', 'key.create', 'token.create', 'token.revoke']))
    expect(JSON.stringify(audit.json)).not.toContain(token)

    const limited = await ann.run(['audit', '--limit', '2', '--json'], repo)
    expect(limited.json.events).toHaveLength(2)
    const tsv = await ann.run(['audit'], repo)
    expect(tsv.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tann\ttoken\.revoke\t/m)
    expect((await ann.run(['audit', '--limit', '0'], repo)).code).toBe(2)
  })

  it('not signed in: exit 4 naming apikey login', async () => {
    const repo = await makeRepo('anon')
    const env = await cliEnv({APIKEY_SERVER: svc.url})
    const r = await runCli(['keys', 'list', '--app', 'weather-app'], {cwd: repo, env})
    expect(r.code).toBe(4)
    expect(r.stderr).toContain('apikey login')
    const noApp = await runCli(['keys', 'list', '--json'], {cwd: repo, env})
    expect(noApp.code).toBe(2)
    expect(noApp.json.error.details.flag).toBe('--app')
  })
})
