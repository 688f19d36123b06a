/**
 * `apikey ci key` end to end, and the CI scenario of docs/ci.md: a
 * provisioning token → a CI job (CI=true, GitHub Actions variables, no HOME
 * config, stdin closed) gets a per-build key into $GITHUB_ENV → whoami shows
 * the build → rotate with a grace period → revoke. Real binary, real service,
 * real git.
 */
import {readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {parse as parseDotenv} from 'dotenv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'
import {git, makeRepo} from '../helpers/git.js'
import {githubJob as githubJobOn} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
  await svc.addUser('bob', 'maps')
})
afterAll(async () => svc?.close())

async function developer(username: string) {
  const env = await cliEnv({APIKEY_SERVER: svc.url, APIKEY_TOKEN: await svc.token(username)})
  return {env, run: (args: string[], cwd: string): Promise<CliRun> => runCli(args, {cwd, env})}
}

/** A project with apikey.json (committed, with the .gitignore), and a provisioning token for it. */
async function ciProject(slug: string) {
  const repo = await makeRepo(slug)
  const ann = await developer('ann')
  const init = await ann.run(['init', '--app', slug, '--contact', 'ann@example.com', '--yes', '--json'], repo)
  expect(init.code, init.stderr).toBe(0)
  git(repo, 'add', 'apikey.json', '.gitignore')
  git(repo, 'commit', '-q', '-m', 'apikey')
  const token = await ann.run(['tokens', 'create', '--app', slug, '--scope', 'ci', '--name', 'github actions', '--json'], repo)
  expect(token.code, token.stderr).toBe(0)
  return {repo, ann, token: token.json.token as string, tokenId: token.json.id as string}
}

/** The environment of a GitHub Actions step: no config in HOME, only the token and the server. */
/** A GitHub Actions job signed in with a provisioning token (test/helpers/project.ts). */
const githubJob = (token: string, extra: Record<string, string> = {}) => githubJobOn(svc, token, {extra, githubEnvContent: 'EXISTING=1\n'})

describe('apikey ci key', () => {
  it('scenario: provisioning token → CI job → GITHUB_ENV + one mask line → whoami shows the build → rotate with grace → revoke', async () => {
    const {repo, ann, token} = await ciProject('ci-app')

    // The CI job: CI=true, stdin closed, no config file, nothing but the token and the server.
    const job = await githubJob(token)
    const r = await job.run(['ci', 'key', '--output', 'github-env'], repo)
    expect(r.code, r.stderr).toBe(0)
    const env = await readFile(job.githubEnv, 'utf8')
    expect(env).toMatch(/^EXISTING=1\nAPI_KEY=ak_ci-app_ci_[0-9A-Za-z]{36}\n$/)
    const key = env.split('\n')[1]!.slice('API_KEY='.length)
    expect(r.stdout).toBe(`::add-mask::${key}\n`)
    expect(r.stderr).not.toContain(key)
    expect(r.stderr).toMatch(/build 42/)
    // No config written in the job's HOME.
    await expect(stat(join(job.env.HOME!, '.config', 'apikey', 'config.json'))).rejects.toThrow()

    // whoami (authenticated by the key itself) shows the build metadata.
    const who = await ann.run(['whoami', key, '--json'], repo)
    expect(who.code, who.stderr).toBe(0)
    const apiKey = who.json.lookup.apiKey
    expect(apiKey).toMatchObject({env: 'ci', kind: 'ci', status: 'active'})
    expect(apiKey.metadata).toEqual({
      ciProvider: 'GitHub Actions',
      commit: '3f2a9c1e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39',
      branch: 'main',
      build: '42',
      buildUrl: 'https://github.com/weather/weather-app/actions/runs/9876543210',
      repository: 'https://github.com/weather/weather-app',
      version: '1.0.0',
    })
    const whoText = await ann.run(['whoami', key], repo)
    expect(whoText.stdout).toMatch(/^build\t42 \(https:\/\/github.com\/weather\/weather-app\/actions\/runs\/9876543210\)$/m)
    expect(whoText.stdout).toMatch(/^commit\t3f2a9c1e8d7b/m)
    expect(whoText.stdout).toMatch(/^ci provider\tGitHub Actions$/m)

    // Rotate with a grace period: the old key still works, and says until when.
    const rotated = await ann.run(['keys', 'rotate', apiKey.id, '--grace', '24h', '--json'], repo)
    expect(rotated.code, rotated.stderr).toBe(0)
    const graceEndsAt = rotated.json.oldKey.rotation.graceEndsAt
    const during = await ann.run(['whoami', key, '--json'], repo)
    expect(during.code).toBe(0)
    expect(during.json.lookup.apiKey.status).toBe('active')
    expect(during.json.lookup.apiKey.rotation.graceEndsAt).toBe(graceEndsAt)
    const duringText = await ann.run(['whoami', key], repo)
    expect(duringText.stdout).toContain(`grace ends at ${new Date(graceEndsAt).toISOString()}`)

    // Revoke: whoami says revoked, by whom and when, and exits 1.
    const revoked = await ann.run(['keys', 'revoke', apiKey.id, '--yes', '--json'], repo)
    expect(revoked.code, revoked.stderr).toBe(0)
    const after = await ann.run(['whoami', key], repo)
    expect(after.code).toBe(1)
    expect(after.stdout).toMatch(/^status\trevoked at \d{4}-\S+Z by ann/m)
    expect(after.stderr).toMatch(/revoked at .* by ann/)
  })

  it('outputs: none chosen → exit 2 naming them; json and --raw carry the key; dotenv refuses an unignored .env without --yes (exit 5)', async () => {
    const {repo, token} = await ciProject('ci-outputs')
    const job = await githubJob(token)

    const none = await job.run(['ci', 'key'], repo)
    expect(none.code).toBe(2)
    for (const option of ['--output github-env', '--output dotenv', '--output json', '--raw']) expect(none.stderr).toContain(option)
    const both = await job.run(['ci', 'key', '--output', 'json', '--raw'], repo)
    expect(both.code).toBe(2)

    const json = await job.run(['ci', 'key', '--output', 'json'], repo)
    expect(json.code, json.stderr).toBe(0)
    const parsed = JSON.parse(json.stdout)
    expect(parsed).toMatchObject({app: 'ci-outputs', variable: 'API_KEY', env: 'ci', kind: 'ci', output: {type: 'json'}})
    expect(parsed.key).toMatch(/^ak_ci-outputs_ci_/)

    const raw = await job.run(['ci', 'key', '--raw', '--version', '2.3.4'], repo)
    expect(raw.code, raw.stderr).toBe(0)
    expect(raw.stdout).toMatch(/^ak_ci-outputs_ci_[0-9A-Za-z]{36}\n$/)

    // --json with github-env: the result (no key) on stdout, the mask lines on stderr.
    const resultJson = await job.run(['ci', 'key', '--output', 'github-env', '--json'], repo)
    expect(resultJson.code, resultJson.stderr).toBe(0)
    expect(resultJson.json.key).toBeUndefined()
    expect(resultJson.json.output).toEqual({type: 'github-env', file: job.githubEnv})
    expect(resultJson.stderr).toMatch(/^::add-mask::ak_ci-outputs_ci_/m)

    // A fresh clone where .env is not ignored: refused without --yes, before any key is issued.
    const clone = await makeRepo('ci-outputs')
    await writeFile(join(clone, 'apikey.json'), await readFile(join(repo, 'apikey.json')))
    const refused = await job.run(['ci', 'key', '--output', 'dotenv'], clone)
    expect(refused.code, refused.stderr).toBe(5)
    await expect(stat(join(clone, '.env'))).rejects.toThrow()
    const stored = await job.run(['ci', 'key', '--output', 'dotenv', '--yes', '--json'], clone)
    expect(stored.code, stored.stderr).toBe(0)
    expect(stored.json.output.stored).toMatchObject({store: 'dotenv', path: join(clone, '.env'), variable: 'API_KEY'})
    const inDotenv = parseDotenv(await readFile(join(clone, '.env'))).API_KEY!
    expect(inDotenv).toMatch(/^ak_ci-outputs_ci_/)
    expect(() => git(clone, 'check-ignore', '-q', '.env')).not.toThrow()
    expect(stored.stdout + stored.stderr).not.toContain(inDotenv)

    // github-env outside GitHub Actions: exit 2.
    const noFile = await githubJob(token, {GITHUB_ENV: ''})
    const outside = await noFile.run(['ci', 'key', '--output', 'github-env'], repo)
    expect(outside.code).toBe(2)
    expect(outside.stderr).toContain('GITHUB_ENV')
  })

  it('credentials: no APIKEY_TOKEN → exit 4; a token of another app → refused; a revoked token → exit 4', async () => {
    const {repo, ann, token, tokenId} = await ciProject('ci-creds')
    const other = await ciProject('ci-other')

    const noToken = await githubJob('')
    const r = await noToken.run(['ci', 'key', '--output', 'json'], repo)
    expect(r.code).toBe(4)
    expect(r.stderr).toContain('apikey tokens create')

    // ci-other's token used for ci-creds.
    const wrong = await githubJob(other.token)
    const refused = await wrong.run(['ci', 'key', '--app', 'ci-creds', '--output', 'json', '--json'], repo)
    expect(refused.code).toBe(1)
    expect(refused.json.error.code).toBe('forbidden')
    // The refusal names the token's own app and how the other app's team issues a token for it.
    expect(refused.json.error.message).toContain('"ci-other"')
    expect(refused.json.error.suggestions.join('\n')).toContain('apikey ci key --app ci-other')
    expect(refused.json.error.suggestions.join('\n')).toContain('apikey tokens create --app ci-creds --scope ci')

    expect((await ann.run(['tokens', 'revoke', tokenId, '--yes'], repo)).code).toBe(0)
    const revoked = await githubJob(token)
    const rejected = await revoked.run(['ci', 'key', '--output', 'json'], repo)
    expect(rejected.code).toBe(4)
  })

  it('--debug never prints any character of the key or the token (a key shows only prefix, app and env)', async () => {
    const {repo, token} = await ciProject('ci-debug')
    const job = await githubJob(token)
    const r = await job.run(['ci', 'key', '--output', 'github-env', '--debug'], repo)
    expect(r.code, r.stderr).toBe(0)
    const key = (await readFile(job.githubEnv, 'utf8')).match(/API_KEY=(\S+)/)![1]!
    expect(r.stderr).toMatch(/\[debug\] HTTP/)
    for (const secret of [key, token]) {
      expect(r.stderr).not.toContain(secret)
      expect(r.stderr).not.toContain(secret.slice(0, -4))
      expect(r.stderr).not.toContain(secret.slice(-12))
      expect(r.stderr).not.toContain(secret.slice(-4))
    }
    expect(r.stdout).toBe(`::add-mask::${key}\n`)
  })

  it('GitLab CI variables, and the git fallback (commit, branch, origin without credentials) elsewhere', async () => {
    const {repo, token} = await ciProject('ci-meta')
    const gitlab = await cliEnv({
      CI: 'true',
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: 'aaaabbbbccccddddeeeeffff0000111122223333',
      CI_COMMIT_BRANCH: 'release',
      CI_COMMIT_REF_NAME: 'release',
      CI_PIPELINE_IID: '17',
      CI_JOB_URL: 'https://gitlab.example.com/weather/app/-/jobs/555',
      CI_PROJECT_URL: 'https://gitlab.example.com/weather/app',
      APIKEY_SERVER: svc.url,
      APIKEY_TOKEN: token,
    })
    const gl = await runCli(['ci', 'key', '--output', 'json'], {cwd: repo, env: gitlab})
    expect(gl.code, gl.stderr).toBe(0)
    expect(JSON.parse(gl.stdout).metadata).toEqual({
      ciProvider: 'GitLab CI',
      commit: 'aaaabbbbccccddddeeeeffff0000111122223333',
      branch: 'release',
      build: '17',
      buildUrl: 'https://gitlab.example.com/weather/app/-/jobs/555',
      repository: 'https://gitlab.example.com/weather/app',
      version: '1.0.0',
    })

    git(repo, 'remote', 'add', 'origin', 'https://deploy:s3cret-pat@git.example.com/weather/app.git')
    const plain = await cliEnv({CI: 'true', APIKEY_SERVER: svc.url, APIKEY_TOKEN: token})
    const fallback = await runCli(['ci', 'key', '--output', 'json', '--version', '9.9.9'], {cwd: repo, env: plain})
    expect(fallback.code, fallback.stderr).toBe(0)
    const out = JSON.parse(fallback.stdout)
    expect(out.metadata).toEqual({commit: git(repo, 'rev-parse', 'HEAD').trim(), branch: 'main', repository: 'https://git.example.com/weather/app.git', version: '9.9.9'})
    expect(out.metadataSources).toMatchObject({commit: 'git', branch: 'git', repository: 'git', version: 'flag'})
    expect(fallback.stdout + fallback.stderr).not.toContain('s3cret-pat')
  })
})
