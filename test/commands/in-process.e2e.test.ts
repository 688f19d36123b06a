/**
 * The in-process runner (test/helpers/in-process.ts) stands in for the real
 * binary in most command tests: it must print the same bytes with the same
 * exit codes, keep runs apart, and leave the test worker's process alone.
 */
import {rm} from 'node:fs/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {needsSubprocess, runInProcess} from '../helpers/in-process.js'
import {startTestService, type TestService} from '../helpers/service.js'

const body = 'ak_weather-app_dev_' + 'Zq3'.repeat(10)
const key = body + checksumOf(body)

let svc: TestService
let cwd: string
let env: Record<string, string | undefined>
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
  cwd = await makeRepo('in-process')
  env = await cliEnv({APIKEY_SERVER: svc.url})
})
afterAll(async () => {
  await svc?.close()
  await rm(cwd, {recursive: true, force: true})
  if (env?.HOME !== undefined) await rm(env.HOME, {recursive: true, force: true})
})

describe('in-process runs print what the real binary prints', () => {
  const cases: Array<[string, string[], Record<string, string>?, string?]> = [
    ['--version (fast path)', ['--version']],
    ['whoami --offline KEY (fast path)', ['whoami', key, '--offline']],
    ['whoami --offline KEY through oclif', ['whoami', key, '--offline', '--json'], {APIKEY_NO_FAST_PATH: '1'}],
    ['an unknown command: the command_not_found hook, exit 2', ['kyes', 'list']],
    ['an unknown command --json', ['kyes', 'list', '--json']],
    ['an unknown flag: usage error, exit 2', ['keys', 'list', '--colour']],
    ['help of a topic (oclif writes it)', ['keys', '--help']],
    ['a session rejected by the service: exit 4', ['whoami', '--json'], {APIKEY_TOKEN: 'aks_not-a-real-session'}],
    ['a password on stdin signs in', ['login', '--username', 'ann', '--password-stdin', '--json'], {}, 'correct horse battery\n'],
    ['a wrong password on stdin', ['login', '--username', 'ann', '--password-stdin'], {}, 'wrong\n'],
    // Commands of the key service plugin (its own build of the base command and composition root).
    ['server verifiers list (plugin command)', ['server', 'verifiers', 'list']],
    ['server users add without a password: exit 2 (plugin command)', ['server', 'users', 'add', 'zed', '--team', 'zeds']],
  ]
  for (const [name, args, extra, input] of cases) {
    it(name, async () => {
      const options = {cwd, env: {...env, ...extra}, ...(input === undefined ? {} : {input})}
      const inProcess = await runCli(args, options)
      const binary = await runCli(args, {...options, mode: 'subprocess'})
      const normalise = (text: string) => text.replace(/\b(created|expires|at) \S+/g, '$1 TIME').replace(/"(id|token|createdAt|expiresAt)": ("[^"]*"|\d+)/g, '"$1": "X"')
      expect({code: inProcess.code, stdout: normalise(inProcess.stdout), stderr: normalise(inProcess.stderr)}).toEqual({
        code: binary.code,
        stdout: normalise(binary.stdout),
        stderr: normalise(binary.stderr),
      })
      expect(inProcess.stdout.length + inProcess.stderr.length).toBeGreaterThan(0)
    })
  }
})

describe('the in-process runner', () => {
  it('leaves process.exitCode, process.env and the working directory of the worker alone', async () => {
    const before = {exitCode: process.exitCode, env: {...process.env}, cwd: process.cwd()}
    const r = await runInProcess(['keys', 'list', '--colour'], {cwd, env: {...env, APIKEY_MARKER: 'x'}})
    expect(r.code).toBe(2)
    expect({exitCode: process.exitCode, env: {...process.env}, cwd: process.cwd()}).toEqual(before)
  })

  it('keeps overlapping runs apart: each gets its own output, exit code and environment', async () => {
    const [offline, failed, version] = await Promise.all([
      runInProcess(['whoami', key, '--offline', '--json'], {cwd, env: {...env, APIKEY_NO_FAST_PATH: '1'}}),
      runInProcess(['whoami', '--json'], {cwd, env: {...env, APIKEY_TOKEN: 'aks_not-a-real-session'}}),
      runInProcess(['--version'], {cwd, env}),
    ])
    expect(offline.code).toBe(0)
    expect(JSON.parse(offline.stdout).key.app).toBe('weather-app')
    expect(failed.code).toBe(4)
    expect(JSON.parse(failed.stdout).error.exitCode).toBe(4)
    expect(version.stdout).toMatch(/^apikey\/\S+ /)
    expect(version.stderr).toBe('')
  })

  it('sends run -- CMD and server start to a subprocess, and refuses them itself', async () => {
    expect(needsSubprocess(['run', '--', 'node', '-e', '0'])).toMatch(/stdio/)
    expect(needsSubprocess(['server', 'start', '--port', '0'])).toMatch(/signal/)
    expect(needsSubprocess(['ci', 'key', '--app', 'x'])).toBeUndefined()
    expect(needsSubprocess(['keys', 'list'])).toBeUndefined()
    await expect(runInProcess(['run', '--', 'node', '-e', '0'], {cwd, env})).rejects.toThrow(/cannot run in process/)
  })
})
