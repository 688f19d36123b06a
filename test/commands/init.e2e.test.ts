/**
 * `apikey login` → `init` → `whoami` end to end: the real binary as a
 * subprocess, the real key service on 127.0.0.1:0 with a SQLite file, real
 * git repositories in temp dirs.
 */
import {execFileSync} from 'node:child_process'
import {readFile, stat, writeFile, mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse as parseDotenv} from 'dotenv'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {git, makeRepo} from '../helpers/git.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
  await svc.addUser('carol', 'weather')
  await svc.addUser('bob', 'maps', {teamContactEmail: 'maps-team@example.com'})
})
afterAll(async () => svc?.close())

/** A developer: own HOME (config, credentials), signed in to the test service. */
async function developer(username: string, extra: Record<string, string | undefined> = {}) {
  const env = await cliEnv(extra)
  return {
    env,
    run: (args: string[], cwd: string, input?: string): Promise<CliRun> => runCli(args, {cwd, env, ...(input === undefined ? {} : {input})}),
    async login(cwd: string) {
      const r = await runCli(['login', '--server', svc.url, '--username', username, '--password-stdin', '--json'], {cwd, env, input: `${PASSWORD}\n`})
      expect(r.code, r.stderr).toBe(0)
      return r
    },
  }
}

describe('apikey init end to end', () => {
  it('signs in, registers the app, stores a key in a gitignored .env, and whoami attributes it', async () => {
    const repo = await makeRepo('weather-app')
    const ann = await developer('ann')

    const login = await ann.login(repo)
    expect(login.json.user.username).toBe('ann')
    expect(login.json.teams.map((t: {slug: string}) => t.slug)).toEqual(['weather'])
    // No keychain in this environment: the token goes to a 0600 file, after a visible warning.
    expect(login.json.tokenStorage.location).toBe('file')
    expect(login.stderr).toMatch(/file/i)
    expect((await stat(login.json.tokenStorage.path)).mode & 0o777).toBe(0o600)

    const init = await ann.run(['init', '--app', 'weather-app', '--contact', 'ann@example.com', '--yes', '--json'], repo)
    expect(init.code, init.stderr).toBe(0)
    expect(init.json.app).toMatchObject({slug: 'weather-app', team: 'weather', contactEmail: 'ann@example.com', created: true})
    expect(init.json.stored).toMatchObject({store: 'dotenv', path: join(repo, '.env'), variable: 'API_KEY', created: true})
    expect(init.json.stored.git.addedRule.line).toBe('/.env')

    const dotenv = parseDotenv(await readFile(join(repo, '.env')))
    expect(dotenv.API_KEY).toMatch(/^ak_weather-app_dev_[0-9A-Za-z]{36}$/)
    expect(init.json.key.start).toBe(`${dotenv.API_KEY!.slice(0, 'ak_weather-app_dev_'.length + 4)}…`)
    expect((await stat(join(repo, '.env'))).mode & 0o777).toBe(0o600)
    // Git itself says the file is ignored, and git status does not show it.
    expect(() => git(repo, 'check-ignore', '-q', '.env')).not.toThrow()
    expect(git(repo, 'status', '--porcelain', '--untracked-files=all')).not.toContain('.env\n')
    // The stdout of --json never contains the key.
    expect(init.stdout).not.toContain(dotenv.API_KEY)

    const project = JSON.parse(await readFile(join(repo, 'apikey.json'), 'utf8'))
    expect(project).toEqual({server: svc.url, app: 'weather-app', env: 'dev', store: 'dotenv', envFile: '.env', variable: 'API_KEY'})

    const who = await ann.run(['whoami', '--json'], repo)
    expect(who.code, who.stderr).toBe(0)
    expect(who.json.source.name).toBe('dotenv')
    expect(who.json.lookup.state).toBe('ok')
    expect(who.json.lookup.app).toMatchObject({slug: 'weather-app', team: {slug: 'weather'}, contactEmail: 'ann@example.com'})
    expect(who.json.lookup.apiKey).toMatchObject({id: init.json.key.id, env: 'dev', kind: 'dev', status: 'active', createdBy: 'ann'})

    // Human output names app, team and contact.
    const human = await ann.run(['whoami'], repo)
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/app\tweather-app/)
    expect(human.stdout).toMatch(/team\tweather/)

    // A teammate in the same project: no questions, their own key.
    const carol = await developer('carol')
    await carol.login(repo)
    const again = await carol.run(['init', '--json'], repo)
    expect(again.code, again.stderr).toBe(0)
    expect(again.json.app.created).toBe(false)
    expect(again.json.key.id).not.toBe(init.json.key.id)
    expect(again.json.projectFile.written).toBe(false)
    const after = parseDotenv(await readFile(join(repo, '.env')))
    expect(after.API_KEY).not.toBe(dotenv.API_KEY)
    const whoCarol = await carol.run(['whoami', '--json'], repo)
    expect(whoCarol.json.lookup.apiKey.createdBy).toBe('carol')

    // Someone from another team is refused, told who owns the app and how to get their own.
    const bob = await developer('bob')
    await bob.login(repo)
    const before = await readFile(join(repo, '.env'))
    const refused = await bob.run(['init'], repo)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('weather')
    expect(refused.stderr).toContain('ann@example.com')
    // apikey.json pins the app here, so the way out is membership (or a different app in apikey.json).
    expect(refused.stderr).toMatch(/ask ann@example.com to add you to team weather/)
    expect(await readFile(join(repo, '.env'))).toEqual(before)
  })

  it('whoami --offline parses without the network, and names the wrong part of an edited key', async () => {
    const dir = await makeRepo('offline')
    const dev = await developer('ann')
    const good = 'ak_weather-app_dev_' + 'A'.repeat(30)
    const {checksumOf} = await import('../../src/core/key-format.js')
    const key = good + checksumOf(good)
    // A server URL that refuses connections proves no call is made.
    const dead = 'http://127.0.0.1:9'
    const ok = await dev.run(['whoami', key, '--offline', '--json', '--server', dead], dir)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.key).toEqual({start: 'ak_weather-app_dev_AAAA…', prefix: 'ak', app: 'weather-app', env: 'dev', checksumValid: true})
    expect(ok.json.lookup).toEqual({state: 'skipped'})

    const edited = key.replace('weather-app', 'weather-apq')
    const bad = await dev.run(['whoami', edited, '--server', dead], dir)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/checksum/)
    expect(bad.stderr).not.toMatch(/connect|ECONNREFUSED/)
    const badEnv = await dev.run(['whoami', key.replace('_dev_', '_live_'), '--json', '--server', dead], dir)
    expect(badEnv.code).toBe(1)
    expect(badEnv.json.error.code).toBe('malformed_key')
    expect(badEnv.json.error.details.problems.map((p: {part: string}) => p.part)).toContain('env')
  })

  it('bad input: invalid slug, missing contact, malformed email exit 2 naming the flag', async () => {
    const repo = await makeRepo('bad-input')
    const ann = await developer('ann')
    await ann.login(repo)
    const slug = await ann.run(['init', '--app', 'Bad_Slug', '--yes'], repo)
    expect(slug.code).toBe(2)
    expect(slug.stderr).toContain('--app')
    expect(slug.stderr).toMatch(/3–32/)
    const email = await ann.run(['init', '--app', 'bad-input', '--contact', 'not-an-email', '--yes'], repo)
    expect(email.code).toBe(2)
    expect(email.stderr).toContain('--contact')
    const missing = await ann.run(['init', '--app', 'bad-input', '--yes', '--json'], repo)
    expect(missing.code).toBe(2)
    expect(missing.json.error).toMatchObject({code: 'usage', exitCode: 2, details: {flag: '--contact'}})
    // Nothing was written.
    await expect(stat(join(repo, '.env'))).rejects.toThrow()
    await expect(stat(join(repo, 'apikey.json'))).rejects.toThrow()
  })

  it('refuses (exit 5) when .env is tracked by git, leaving it untouched and issuing no key', async () => {
    const repo = await makeRepo('tracked')
    await writeFile(join(repo, '.env'), 'PORT=3000\n')
    await writeFile(join(repo, '.gitignore'), '.env\n')
    git(repo, 'add', '-f', '.env', '.gitignore')
    git(repo, 'commit', '-q', '-m', 'oops')
    const ann = await developer('ann')
    await ann.login(repo)
    const r = await ann.run(['init', '--app', 'tracked-app', '--contact', 'ann@example.com', '--yes'], repo)
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/git( -C \S+)? rm --cached/)
    expect(await readFile(join(repo, '.env'), 'utf8')).toBe('PORT=3000\n')
    // The check ran before anything was created: no app registered, no key issued.
    const token = await svc.token('ann')
    const app = await fetch(`${svc.url}/v1/apps/tracked-app`, {headers: {authorization: `Bearer ${token}`}})
    expect(app.status).toBe(404)
  })

  it('not signed in without a terminal: exit 4 naming apikey login; wrong password and unknown user: exit 4, same message', async () => {
    const repo = await makeRepo('nosession')
    const dev = await developer('ann')
    const r = await dev.run(['init', '--server', svc.url, '--app', 'nosession', '--yes'], repo)
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(`apikey login --server ${svc.url}`)
    const wrong = await dev.run(['login', '--server', svc.url, '--username', 'ann', '--password-stdin'], repo, 'wrong password\n')
    const unknown = await dev.run(['login', '--server', svc.url, '--username', 'nobody', '--password-stdin'], repo, 'wrong password\n')
    expect(wrong.code).toBe(4)
    expect(unknown.code).toBe(4)
    expect(wrong.stderr.replace('ann', 'X')).toBe(unknown.stderr.replace('nobody', 'X'))
    expect(wrong.stderr).toMatch(/apikey login --server/)
  })

  it('service down: exit 1 within the deadline, naming the URL and the phase', async () => {
    const repo = await makeRepo('down')
    const dev = await developer('ann')
    const r = await dev.run(['login', '--server', 'http://127.0.0.1:9', '--username', 'ann', '--password-stdin', '--timeout', '5'], repo, 'x\n')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('http://127.0.0.1:9')
    expect(r.stderr).toMatch(/connect/i)
  })

  it('a corrupt apikey.json is named with what is wrong', async () => {
    const repo = await makeRepo('corrupt')
    await writeFile(join(repo, 'apikey.json'), '{"server": "http://x", "app": "Not A Slug"}')
    const dev = await developer('ann')
    const r = await dev.run(['init', '--json'], repo)
    expect(r.code).toBe(1)
    expect(r.json.error.code).toBe('project_file')
    expect(r.json.error.message).toContain(join(repo, 'apikey.json'))
    expect(r.json.error.message).toContain('"app"')
  })

  it('CI: APIKEY_TOKEN and APIKEY_SERVER, no config file, stdin closed', async () => {
    const repo = await makeRepo('ci-app')
    const token = await svc.token('ann')
    const dev = await developer('ann', {CI: 'true', APIKEY_TOKEN: token, APIKEY_SERVER: svc.url})
    const r = await dev.run(['init', '--app', 'ci-app', '--contact', 'ann@example.com', '--yes', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.app.slug).toBe('ci-app')
  })

  it('two inits at once in one project: both finish, .env intact with both writes accounted for', async () => {
    const repo = await makeRepo('race-app')
    await writeFile(join(repo, '.env'), '# settings\nPORT=3000\n')
    const ann = await developer('ann')
    await ann.login(repo)
    const args = ['init', '--app', 'race-app', '--contact', 'ann@example.com', '--yes', '--new-key', '--json']
    const [a, b] = await Promise.all([ann.run(args, repo), ann.run(args, repo)])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    expect(a.json.key.id).not.toBe(b.json.key.id)
    const text = await readFile(join(repo, '.env'), 'utf8')
    const parsed = parseDotenv(text)
    expect(parsed.PORT).toBe('3000')
    expect(text.startsWith('# settings\nPORT=3000\n')).toBe(true)
    expect(text.match(/^API_KEY=/gm)).toHaveLength(1)
    // The stored key is one of the two issued, and the other write is accounted for as an update.
    const starts = [a.json.key.start, b.json.key.start]
    expect(starts).toContain(`${parsed.API_KEY!.slice(0, 'ak_race-app_dev_'.length + 4)}…`)
    expect([a.json.stored.change, b.json.stored.change].sort()).toEqual(['added', 'updated'])
  })

  it('warns when API_KEY in the environment shadows the key in .env', async () => {
    const repo = await makeRepo('shadow-app')
    const ann = await developer('ann')
    await ann.login(repo)
    const init = await ann.run(['init', '--app', 'shadow-app', '--contact', 'ann@example.com', '--yes', '--json'], repo)
    expect(init.code, init.stderr).toBe(0)
    const other = 'ak_other-app_dev_' + 'B'.repeat(30)
    const {checksumOf} = await import('../../src/core/key-format.js')
    const shadowing = await developer('ann', {API_KEY: other + checksumOf(other)})
    const who = await shadowing.run(['whoami', '--offline', '--json'], repo)
    expect(who.code).toBe(0)
    expect(who.json.source.name).toBe('env')
    expect(who.json.key.app).toBe('other-app')
    expect(who.json.warnings.join('\n')).toMatch(/API_KEY.*shadows.*\.env/)
    expect(who.stderr).toMatch(/shadows/)
  })

  it('a second init keeps your valid stored key; --new-key issues another', async () => {
    const repo = await makeRepo('rerun-app')
    const ann = await developer('ann')
    await ann.login(repo)
    const first = await ann.run(['init', '--app', 'rerun-app', '--contact', 'ann@example.com', '--yes', '--json'], repo)
    expect(first.code, first.stderr).toBe(0)
    expect(first.json.reused).toBe(false)
    const again = await ann.run(['init', '--json'], repo)
    expect(again.code, again.stderr).toBe(0)
    expect(again.json.reused).toBe(true)
    expect(again.json.key.id).toBe(first.json.key.id)
    expect(again.stderr).toMatch(/already have a valid key/)
    const token = await svc.token('ann')
    const list = (await (await fetch(`${svc.url}/v1/apps/rerun-app/keys`, {headers: {authorization: `Bearer ${token}`}})).json()) as {keys: unknown[]}
    expect(list.keys).toHaveLength(1)
    const fresh = await ann.run(['init', '--new-key', '--json'], repo)
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.json.reused).toBe(false)
    expect(fresh.json.key.id).not.toBe(first.json.key.id)
  })

  it('--app that conflicts with apikey.json, and env files outside the project, are usage errors', async () => {
    const repo = await makeRepo('pinned-app')
    const ann = await developer('ann')
    await ann.login(repo)
    expect((await ann.run(['init', '--app', 'pinned-app', '--contact', 'ann@example.com', '--yes'], repo)).code).toBe(0)
    const conflict = await ann.run(['init', '--app', 'other-app', '--json'], repo)
    expect(conflict.code).toBe(2)
    expect(conflict.json.error.message).toContain('pinned-app')
    const outside = await ann.run(['init', '--new-key', '--dotenv-file', '../outside.env', '--json'], repo)
    expect(outside.code).toBe(2)
    expect(outside.json.error.message).toMatch(/not inside the project/)
  })

  it('refuses (exit 5) a .env that is a symbolic link to a tracked file', async () => {
    const repo = await makeRepo('symlink-app')
    await mkdir(join(repo, 'config'))
    await writeFile(join(repo, 'config', 'shared.env'), 'PORT=3000\n')
    await writeFile(join(repo, '.gitignore'), '/.env\n')
    git(repo, 'add', 'config/shared.env', '.gitignore')
    git(repo, 'commit', '-q', '-m', 'shared env')
    const {symlink} = await import('node:fs/promises')
    await symlink('config/shared.env', join(repo, '.env'))
    const ann = await developer('ann')
    await ann.login(repo)
    const r = await ann.run(['init', '--app', 'symlink-app', '--contact', 'ann@example.com', '--yes'], repo)
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain('shared.env')
    expect(await readFile(join(repo, 'config', 'shared.env'), 'utf8')).toBe('PORT=3000\n')
    expect(git(repo, 'status', '--porcelain')).toBe('')
  })

  it('warns when an existing .env is readable by other users', async () => {
    const repo = await makeRepo('mode-app')
    await writeFile(join(repo, '.env'), 'PORT=1\n', {mode: 0o644})
    const ann = await developer('ann')
    await ann.login(repo)
    const r = await ann.run(['init', '--app', 'mode-app', '--contact', 'ann@example.com', '--yes'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/readable by other users \(mode 0644\).*chmod 600/)
  })

  it('an apikey.json that contains a key is refused, whatever the field is called', async () => {
    const repo = await makeRepo('leaky-app')
    const body = 'ak_leaky-app_dev_' + 'Q'.repeat(30)
    const {checksumOf} = await import('../../src/core/key-format.js')
    await writeFile(join(repo, 'apikey.json'), JSON.stringify({server: svc.url, app: 'leaky-app', apiKey: body + checksumOf(body)}))
    const dev = await developer('ann')
    const r = await dev.run(['init', '--json'], repo)
    expect(r.code).toBe(1)
    expect(r.json.error.code).toBe('project_file')
    expect(r.json.error.message).toMatch(/contains an API key/)
  })

  it('parser errors are usage errors (exit 2): a flag without its value, an unknown flag', async () => {
    const dir = await makeRepo('parse-errors')
    const dev = await developer('ann')
    const missing = await dev.run(['login', '--server'], dir)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/--server expects a value/)
    const unknown = await dev.run(['init', '--bogus', '--json'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.json.error.code).toBe('usage')
    const typo = await dev.run(['inti', '--json'], dir)
    expect(typo.code).toBe(2)
    expect(typo.json.error.suggestions).toContain('apikey init')
  })

  it('whoami --json with a key the service does not know: the offline part, a top-level error, exit 1', async () => {
    const dir = await makeRepo('unknown-key')
    const dev = await developer('ann')
    const body = 'ak_nobody-app_dev_' + 'K'.repeat(30)
    const {checksumOf} = await import('../../src/core/key-format.js')
    const r = await dev.run(['whoami', body + checksumOf(body), '--server', svc.url, '--json'], dir)
    expect(r.code).toBe(1)
    expect(r.json.key.app).toBe('nobody-app')
    expect(r.json.lookup.state).toBe('failed')
    expect(r.json.error).toMatchObject({exitCode: 1, message: expect.stringContaining('does not know this key')})
  })
})

