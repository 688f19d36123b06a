/**
 * CLI conventions end to end (the real binary against the real key service):
 * secrets where an id or slug belongs are refused unseen, `keys create --store`
 * never silently overwrites a stored key, `ci key` checks its destination first
 * and names commands, and messages name flags and the next command.
 */
import {readFile} from 'node:fs/promises'
import {tempDir} from '../helpers/temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse as parseDotenv} from 'dotenv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {git} from '../helpers/git.js'
import {developer as developerOf, githubJob as githubJobOn, initProject} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
})
afterAll(async () => svc?.close())

/** A signed-in developer whose `run` takes extra environment variables as a third argument. */
async function developer(username: string) {
  const dev = await developerOf(svc, username)
  return {env: dev.env, run: (args: string[], cwd: string, extra: Record<string, string | undefined> = {}): Promise<CliRun> => dev.run(args, cwd, {env: extra})}
}

/** A repo with apikey.json and a .env holding ann's dev key. */
async function project(slug: string) {
  const {ann: _ann, ...rest} = await initProject(svc, slug)
  return {...rest, ann: await developer('ann')}
}

async function ciToken(ann: Awaited<ReturnType<typeof developer>>, repo: string, slug: string) {
  git(repo, 'add', 'apikey.json', '.gitignore')
  git(repo, 'commit', '-q', '-m', 'apikey')
  const token = await ann.run(['tokens', 'create', '--app', slug, '--scope', 'ci', '--json'], repo)
  expect(token.code, token.stderr).toBe(0)
  return {token: token.json.token as string, tokenId: token.json.id as string}
}

/** A GitHub Actions job signed in with a provisioning token (test/helpers/project.ts). */
const githubJob = (token: string, extra: Record<string, string> = {}) => githubJobOn(svc, token, {extra})

async function keyCount(ann: Awaited<ReturnType<typeof developer>>, repo: string): Promise<number> {
  const list = await ann.run(['keys', 'list', '--json'], repo)
  expect(list.code, list.stderr).toBe(0)
  return list.json.keys.length as number
}

describe('secrets where an id or slug belongs', () => {
  it('every id/slug argument refuses a key or token before any request (exit 2), without echoing it, saying what to pass', async () => {
    const {repo, ann, key} = await project('secret-args')
    const {token} = await ciToken(ann, repo, 'secret-args')
    const session = ann.env.APIKEY_TOKEN!
    const verifier = 'akv_' + 'V'.repeat(40)
    const cases: Array<{args: string[]; secret: string; says: RegExp}> = [
      {args: ['keys', 'rotate', key], secret: key, says: /apikey whoami KEY/},
      {args: ['keys', 'revoke', key, '--yes'], secret: key, says: /apikey whoami KEY/},
      {args: ['tokens', 'revoke', token, '--yes'], secret: token, says: /apikey tokens list/},
      {args: ['apps', 'show', session], secret: session, says: /session token/},
      {args: ['apps', 'transfer', key, '--to-team', 'maps'], secret: key, says: /apikey whoami KEY/},
      {args: ['apps', 'transfer', 'secret-args', '--to-team', token], secret: token, says: /provisioning token/},
      {args: ['audit', '--app', key], secret: key, says: /apikey whoami KEY/},
      {args: ['tokens', 'list', '--app', verifier], secret: verifier, says: /verifier token/},
      {args: ['tokens', 'create', '--app', key, '--scope', 'ci'], secret: key, says: /apikey whoami KEY/},
      {args: ['keys', 'create', '--app', key, '--env', 'test'], secret: key, says: /apikey whoami KEY/},
      {args: ['keys', 'list', '--app', key], secret: key, says: /apikey whoami KEY/},
    ]
    for (const c of cases) {
      const r = await ann.run([...c.args, '--debug'], repo)
      const all = r.stdout + r.stderr
      expect(r.code, `${c.args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(all, c.args[0]).not.toContain(c.secret)
      expect(all, c.args[0]).toMatch(c.says)
      // No request was made at all.
      expect(r.stderr, c.args.join(' ')).not.toMatch(/HTTP ->/)
    }
    // The message shows at most the key's display start.
    const shown = await ann.run(['keys', 'revoke', key, '--yes', '--json'], repo)
    expect(shown.json.error.code).toBe('usage')
    expect(shown.json.error.message).toContain(`${key.slice(0, 'ak_secret-args_dev_'.length + 4)}…`)
    expect(shown.json.error.message).toMatch(/expects a key id/)

    // ci key --app: refused before the token is used.
    const job = await githubJob(token)
    const ci = await job.run(['ci', 'key', '--app', key, '--raw', '--debug'], repo)
    expect(ci.code, ci.stderr).toBe(2)
    expect(ci.stdout + ci.stderr).not.toContain(key)
    expect(ci.stderr).not.toMatch(/HTTP ->/)
  })
})

describe('keys create --store never silently overwrites a stored key', () => {
  it('refuses (exit 2 naming --replace and the stored key) and issues nothing; --replace names a key of another env with the command that ends it and ends an active key of yours of the same env; a different env warns', async () => {
    const {repo, ann, key, keyId} = await project('store-replace')
    const before = await keyCount(ann, repo)
    const refused = await ann.run(['keys', 'create', '--env', 'test', '--store', 'dotenv', '--yes'], repo)
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain('--replace')
    expect(refused.stderr).toContain(`${key.slice(0, 'ak_store-replace_dev_'.length + 4)}…`)
    expect(refused.stderr).not.toContain(key)
    expect(parseDotenv(await readFile(join(repo, '.env'))).API_KEY).toBe(key)
    expect(await keyCount(ann, repo)).toBe(before)

    const replaced = await ann.run(['keys', 'create', '--env', 'test', '--store', 'dotenv', '--yes', '--replace'], repo)
    expect(replaced.code, replaced.stderr).toBe(0)
    // A key of another env is not ended on its own: it is named with the command that ends it.
    expect(replaced.stderr).toMatch(new RegExp(`the replaced key ${keyId} \\(ak_store-replace_dev_\\w{4}…\\) was NOT ended .*apikey keys revoke ${keyId}`))
    expect(replaced.stderr).toMatch(/test key but apikey\.json "env" is dev/)
    const testKey = parseDotenv(await readFile(join(repo, '.env'))).API_KEY!
    expect(testKey).toMatch(/^ak_store-replace_test_/)

    // Replacing an active key of yours for the same app and env ends it after --grace (as init and rotate do).
    const again = await ann.run(['keys', 'create', '--env', 'test', '--store', 'dotenv', '--yes', '--replace', '--grace', '0', '--json'], repo)
    expect(again.code, again.stderr).toBe(0)
    expect(again.json.replaced).toMatchObject({outcome: 'ended', env: 'test', graceMs: 0})
    expect(again.json.warnings.join('\n')).toMatch(/stopped working at once/)
    expect(again.json.warnings.join('\n')).not.toMatch(/keeps working|pass --grace/)
    const ended = await ann.run(['whoami', '--key', testKey, '--json'], repo)
    expect(ended.json.lookup.apiKey).toMatchObject({status: 'expired', rotation: {replacedBy: again.json.id}})
    // A replaced key names its replacement instead of asking for a new key.
    expect(ended.json.warnings.join('\n')).toContain(`replaced by ${again.json.id}`)
    expect(ended.json.warnings.join('\n')).not.toContain('--new-key')

    // A new file (nothing stored yet) needs no --replace.
    const fresh = await ann.run(['keys', 'create', '--env', 'dev', '--store', 'dotenv', '--dotenv-file', '.env.other', '--yes'], repo)
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.stderr).not.toMatch(/replaced/)
  })
})

describe('ci key: destination first, metadata, suggestions, --var', () => {
  it('an unusable $GITHUB_ENV is refused before a key is issued', async () => {
    const {repo, ann} = await project('ci-dest')
    const {token} = await ciToken(ann, repo, 'ci-dest')
    const before = await keyCount(ann, repo)
    const job = await githubJob(token, {GITHUB_ENV: join(tmpdir(), 'apikey-no-such-dir', 'github_env')})
    const r = await job.run(['ci', 'key', '--output', 'github-env'], repo)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/GITHUB_ENV.*directory .* does not exist; no key was issued/)
    expect(await keyCount(ann, repo)).toBe(before)
  })

  it('over-long metadata is shortened with a warning; a rejected token suggests apikey tokens create, never a raw route; --var rules, masks, help hints', async () => {
    const {repo, ann} = await project('ci-meta')
    const {token, tokenId} = await ciToken(ann, repo, 'ci-meta')
    const long = 'feature/' + 'x'.repeat(700)
    const job = await githubJob(token, {GITHUB_REF_NAME: long})
    const r = await job.run(['ci', 'key', '--output', 'json', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.metadata.branch).toHaveLength(500)
    expect(r.stderr).toMatch(/build metadata "branch" is 708 characters long; the service keeps at most 500: it was shortened/)
    // 22: under GitHub Actions, --output json and --raw also mask the key (on stderr).
    expect(r.stderr).toContain(`::add-mask::${r.json.key}`)
    const raw = await job.run(['ci', 'key', '--raw'], repo)
    expect(raw.code, raw.stderr).toBe(0)
    expect(raw.stderr).toContain(`::add-mask::${raw.stdout.trim()}`)

    // 22: dangerous variable names.
    for (const name of ['PATH', 'NODE_OPTIONS', 'LD_PRELOAD', 'GITHUB_TOKEN', 'RUNNER_TEMP', 'CI_JOB_TOKEN']) {
      const bad = await job.run(['ci', 'key', '--output', 'github-env', '--var', name], repo)
      expect(bad.code, name).toBe(2)
      expect(bad.stderr).toMatch(/not one of PATH, NODE_OPTIONS.*not starting with GITHUB_, RUNNER_, CI_/)
    }
    // 22: usage hints name the command with spaces.
    const unknown = await job.run(['ci', 'key', '--no-such-flag'], repo)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('apikey ci key --help')
    expect(unknown.stderr).not.toContain('ci:key')

    // 11: a revoked token: the suggestion is the command, not POST /v1/tokens.
    expect((await ann.run(['tokens', 'revoke', tokenId, '--yes'], repo)).code).toBe(0)
    const rejected = await job.run(['ci', 'key', '--raw'], repo)
    expect(rejected.code).toBe(4)
    expect(rejected.stderr).toContain('apikey tokens create --app ci-meta --scope ci')
    expect(rejected.stderr).not.toMatch(/\/v1\//)
  })

  it('ci key --output dotenv never suggests --store (it has none)', async () => {
    const {repo, ann} = await project('ci-nostore')
    const {token} = await ciToken(ann, repo, 'ci-nostore')
    // .env.ci is not ignored and there is no --yes: refused (exit 5); the shared writer's advice names --store keychain.
    const job = await githubJob(token)
    const r = await job.run(['ci', 'key', '--output', 'dotenv', '--dotenv-file', '.env.ci'], repo)
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).not.toContain('--store')
    expect(r.stderr).toMatch(/--raw|--output github-env/)
  })
})

describe('messages name flags and the next command', () => {
  it('a service validation problem names the flag (--grace), not the wire field (graceMs)', async () => {
    const {repo, ann, keyId} = await project('flag-names')
    const r = await ann.run(['keys', 'rotate', keyId, '--grace', '400d'], repo)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/--grace: at most \d+[wdh] \(this service's maximum\)/)
    expect(r.stderr).not.toContain('graceMs')
    const t = await ann.run(['tokens', 'create', '--scope', 'ci', '--expires-in', '3000d'], repo)
    expect(t.code, t.stderr).toBe(2)
    expect(t.stderr).toContain('--expires-in')
    expect(t.stderr).not.toContain('expiresAt')
  })

  it('whoami of a revoked ci key suggests re-running the CI job, a dev key init --new-key, a revoked service key a new key, an expiring one rotate', async () => {
    const {repo, ann, key} = await project('remedies')
    const {token} = await ciToken(ann, repo, 'remedies')
    const job = await githubJob(token)
    const ci = await job.run(['ci', 'key', '--output', 'json', '--json'], repo)
    expect(ci.code, ci.stderr).toBe(0)
    expect((await ann.run(['keys', 'revoke', ci.json.id, '--yes'], repo)).code).toBe(0)
    const who = await ann.run(['whoami', ci.json.key], repo)
    expect(who.code).toBe(1)
    expect(who.stderr).toMatch(/re-run the CI job/)
    expect(who.stderr).not.toMatch(/apikey init/)

    const prod = await ann.run(['keys', 'create', '--env', 'prod', '--json'], repo)
    expect((await ann.run(['keys', 'revoke', prod.json.id, '--yes'], repo)).code).toBe(0)
    const whoProd = await ann.run(['whoami', prod.json.key], repo)
    // A revoked key cannot be rotated (the service refuses): the advice is a new key of the same app and env.
    expect(whoProd.stderr).toContain('apikey keys create --app remedies --env prod')
    expect(whoProd.stderr).not.toContain('keys rotate')
    const expiring = await ann.run(['keys', 'create', '--env', 'prod', '--expires-in', '7d', '--json'], repo)
    expect(expiring.code, expiring.stderr).toBe(0)
    const whoExpiring = await ann.run(['whoami', expiring.json.key], repo)
    expect(whoExpiring.stderr).toContain(`apikey keys rotate ${expiring.json.id}`)

    const devId = (await ann.run(['whoami', key, '--json'], repo)).json.lookup.apiKey.id
    expect((await ann.run(['keys', 'revoke', devId, '--yes'], repo)).code).toBe(0)
    const whoDev = await ann.run(['whoami', key], repo)
    expect(whoDev.stderr).toContain('apikey init --new-key')
  })

  it('whoami KEY with no server known: JSON code usage and exit 2 agree', async () => {
    const {key} = await project('no-server')
    const dir = await tempDir('apikey-empty-')
    const r = await runCli(['whoami', key, '--json'], {cwd: dir, env: await cliEnv()})
    expect(r.code).toBe(2)
    expect(r.json.error).toMatchObject({code: 'usage', exitCode: 2})
  })

  it('--expires-in does not offer 0; audit --since accepts ISO instants with offsets and names them when refused', async () => {
    const {repo, ann} = await project('rules')
    const bad = await ann.run(['keys', 'create', '--env', 'test', '--expires-in', '5x'], repo)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--expires-in')
    expect(bad.stderr).not.toMatch(/or 0\b/)
    const zero = await ann.run(['keys', 'create', '--env', 'test', '--expires-in', '0'], repo)
    expect(zero.code).toBe(2)
    const grace = await ann.run(['keys', 'rotate', 'key_' + 'A'.repeat(20), '--grace', '5x'], repo)
    expect(grace.stderr).toMatch(/or 0/)

    const iso = await ann.run(['audit', '--since', '2020-06-01T00:00:00+02:00', '--json'], repo)
    expect(iso.code, iso.stderr).toBe(0)
    expect(iso.json.since).toBe(Date.parse('2020-05-31T22:00:00Z'))
    const date = await ann.run(['audit', '--since', '2020-06-01'], repo)
    expect(date.code).toBe(2)
    expect(date.stderr).toMatch(/ISO 8601 instant with an offset/)
    const junk = await ann.run(['audit', '--since', '7x'], repo)
    expect(junk.code).toBe(2)
    expect(junk.stderr).toMatch(/ISO 8601 instant with an offset \(e\.g\. 2027-06-26T00:00:00Z or 2027-06-26T00:00:00\+02:00\)/)
  })

  it('--since in the future or longer than 10 years is refused by the CLI itself, naming the rule and what to give instead', async () => {
    const {repo, ann} = await project('since-rules')
    for (const command of ['usage', 'audit']) {
      const future = await ann.run([command, '--since', '2099-01-01T00:00:00Z'], repo)
      expect(future.code).toBe(2)
      expect(future.stderr).toMatch(/--since: 2099-01-01T00:00:00Z is in the future \(now is \d{4}-/)
      expect(future.stderr).toMatch(/give a past instant or a duration back from now/)
      expect(future.stderr).not.toMatch(/until|ms --since the epoch/)
      const long = await ann.run([command, '--since', '3651d'], repo)
      expect(long.code).toBe(2)
      expect(long.stderr).toMatch(/--since: "3651d" is longer than the maximum of 10 years/)
    }
  })

  it('rotate with a stored copy that is not safe to write says so, and not also that no copy was found', async () => {
    const {repo, ann, keyId} = await project('rotate-unsafe')
    git(repo, 'add', '-f', '.env')
    git(repo, 'commit', '-q', '-m', 'oops, tracked')
    const r = await ann.run(['keys', 'rotate', keyId, '--grace', '1h'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/holds the old key but is not safe to write/)
    expect(r.stderr).toMatch(/was not updated: this is the only time the new key is shown/)
    expect(r.stderr).not.toMatch(/no stored copy/)
    expect(r.stdout).toMatch(/^ak_rotate-unsafe_dev_/)
  })
})

describe('an unknown id names the command that lists the ids', () => {
  it('keys revoke/rotate/limit and tokens revoke with an id the service does not know exit 1 and suggest the list command for the app of apikey.json', async () => {
    const {repo, ann} = await project('unknown-ids')
    const unknownKey = 'key_' + 'Z'.repeat(20)
    for (const args of [
      ['keys', 'revoke', 'key_doesnotexist', '--yes'],
      ['keys', 'revoke', unknownKey, '--yes'],
      ['keys', 'rotate', unknownKey, '--yes'],
      ['keys', 'limit', unknownKey, '--rpm', '10'],
    ]) {
      const r = await ann.run(args, repo)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1)
      expect(r.stderr, args.join(' ')).toContain('apikey keys list --app unknown-ids')
    }
    const token = await ann.run(['tokens', 'revoke', 'tok_' + 'Z'.repeat(20), '--yes', '--json'], repo)
    expect(token.code, token.stderr).toBe(1)
    expect(token.json.error.suggestions.join('\n')).toContain('apikey tokens list --app unknown-ids')
  })
})

describe('a session token from APIKEY_TOKEN that the service rejects', () => {
  it('exits 4 saying the token came from APIKEY_TOKEN, suggesting unset APIKEY_TOKEN and apikey login, without echoing it', async () => {
    const {repo, ann} = await project('env-token')
    for (const bogus of ['aks_bogus', 'aks_' + 'A'.repeat(40)]) {
      for (const args of [['keys', 'list'], ['tokens', 'list'], ['init', '--new-key']]) {
        const r = await ann.run(args, repo, {APIKEY_TOKEN: bogus})
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4)
        expect(r.stderr, args.join(' ')).toContain('APIKEY_TOKEN')
        expect(r.stderr, args.join(' ')).toContain('unset APIKEY_TOKEN')
        expect(r.stderr, args.join(' ')).toContain('apikey login')
        expect(r.stdout + r.stderr).not.toContain(bogus)
      }
    }
  })
})
