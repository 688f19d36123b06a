/**
 * A signed-in developer and an initialised project, for end-to-end tests of the
 * real binary against the real service (test/helpers/service.ts).
 */
import {readFile, writeFile} from 'node:fs/promises'
import {tempDir} from './temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse as parseDotenv} from 'dotenv'
import {expect} from 'vitest'
import {cliEnv, runCli, type CliRun} from './cli.js'
import {makeRepo} from './git.js'
import type {TestService} from './service.js'

/** Options of one {@link Developer.run}: stdin, and environment variables over the developer's. */
export interface DeveloperRunOptions {
  input?: string
  env?: Record<string, string | undefined>
}

/** A developer whose CLI is signed in through `APIKEY_TOKEN`. */
export interface Developer {
  env: Record<string, string | undefined>
  run(args: string[], cwd: string, options?: DeveloperRunOptions): Promise<CliRun>
}

/** `username` signed in on `svc` (a session token in `APIKEY_TOKEN`, the server in `APIKEY_SERVER`). */
export async function developer(svc: TestService, username: string): Promise<Developer> {
  const env = await cliEnv({APIKEY_SERVER: svc.url, APIKEY_TOKEN: await svc.token(username)})
  return {
    env,
    run: (args, cwd, options = {}) => runCli(args, {cwd, env: {...env, ...options.env}, ...(options.input === undefined ? {} : {input: options.input})}),
  }
}

/**
 * A git repository where ann ran `apikey init --app SLUG`: apikey.json and a .env with her dev key.
 * @returns the repo path, ann, and the key's id and plaintext.
 */
export async function initProject(svc: TestService, slug: string): Promise<{repo: string; ann: Developer; keyId: string; key: string}> {
  const repo = await makeRepo(slug)
  const ann = await developer(svc, 'ann')
  const init = await ann.run(['init', '--app', slug, '--contact', 'ann@example.com', '--yes', '--json'], repo)
  expect(init.code, init.stderr).toBe(0)
  return {repo, ann, keyId: init.json.key.id as string, key: parseDotenv(await readFile(join(repo, '.env'))).API_KEY!}
}

/**
 * A GitHub Actions job's environment on `svc`, signed in with a provisioning token: the
 * provider variables, `$GITHUB_ENV` as a file holding `githubEnvContent`, and `extra` on top.
 */
export async function githubJob(svc: TestService, token: string, options: {extra?: Record<string, string>; githubEnvContent?: string} = {}) {
  const dir = await tempDir('apikey-gha-')
  const githubEnv = join(dir, 'github_env')
  await writeFile(githubEnv, options.githubEnvContent ?? '')
  const env = await cliEnv({
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: '3f2a9c1e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39',
    GITHUB_REF_NAME: 'main',
    GITHUB_RUN_NUMBER: '42',
    GITHUB_RUN_ID: '9876543210',
    GITHUB_REPOSITORY: 'weather/weather-app',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_ENV: githubEnv,
    APIKEY_SERVER: svc.url,
    APIKEY_TOKEN: token,
    ...options.extra,
  })
  return {env, githubEnv, run: (args: string[], cwd: string): Promise<CliRun> => runCli(args, {cwd, env})}
}
