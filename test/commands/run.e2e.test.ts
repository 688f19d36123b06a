/**
 * `apikey run -- CMD`: the real binary runs a real child process. No service
 * is needed (run never touches the network): keys come from --key, the
 * environment, the project's .env.
 */
import {spawn} from 'node:child_process'
import {readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {BIN, cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {havePty, runPty} from '../helpers/pty.js'

const body = 'ak_weather-app_dev_' + 'R'.repeat(30)
const KEY = body + checksumOf(body)
const NODE = process.execPath

describe('apikey run', () => {
  it('the child sees the key in API_KEY (from .env), inherits stdio, and nothing is written to disk', async () => {
    const repo = await makeRepo('run-app')
    await writeFile(join(repo, '.env'), `API_KEY=${KEY}\n`)
    const before = (await readdir(repo)).sort()
    const env = await cliEnv()
    const homeBefore = (await readdir(env.HOME!)).sort()
    const r = await runCli(['run', '--', NODE, '-e', 'process.stdin.pipe(process.stdout); process.stderr.write("key=" + process.env.API_KEY + "\\n")'], {cwd: repo, env, input: 'from stdin\n'})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('from stdin\n')
    expect(r.stderr).toBe(`key=${KEY}\n`)
    expect((await readdir(repo)).sort()).toEqual(before)
    expect((await readdir(env.HOME!)).sort()).toEqual(homeBefore)
  })

  it('--key and the environment win over .env; --var and apikey.json "variable" name the variable; child flags are left alone', async () => {
    const repo = await makeRepo('run-var')
    await writeFile(join(repo, 'apikey.json'), JSON.stringify({server: 'http://127.0.0.1:9', app: 'weather-app', env: 'dev', store: 'dotenv', envFile: '.env', variable: 'WEATHER_KEY'}))
    await writeFile(join(repo, '.env'), 'WEATHER_KEY=from-dotenv\n')
    const env = await cliEnv()
    const print = ['-e', 'console.log(process.env.WEATHER_KEY, process.env.OTHER ?? "-", process.argv.slice(1).join(" "))']
    const fromDotenv = await runCli(['run', '--', NODE, ...print, '--', '--debug', '--json'], {cwd: repo, env})
    expect(fromDotenv.code, fromDotenv.stderr).toBe(0)
    expect(fromDotenv.stdout).toBe('from-dotenv - --debug --json\n')
    // An invalid key is passed on, with a warning.
    expect(fromDotenv.stderr).toMatch(/not a valid API key/)
    const fromEnv = await runCli(['run', '--', NODE, ...print], {cwd: repo, env: {...env, WEATHER_KEY: KEY}})
    expect(fromEnv.stdout).toBe(`${KEY} - \n`)
    const fromFlag = await runCli(['run', '--key', KEY, '--var', 'OTHER', NODE, ...print], {cwd: repo, env})
    expect(fromFlag.code, fromFlag.stderr).toBe(0)
    // Only the key variable is set: other .env lines are not loaded into the child.
    expect(fromFlag.stdout).toBe(`undefined ${KEY} \n`)
  })

  it("exit codes: the child's status, 127 for a missing command, 4 with no key anywhere", async () => {
    const repo = await makeRepo('run-codes')
    const env = await cliEnv({API_KEY: KEY})
    expect((await runCli(['run', '--', NODE, '-e', 'process.exit(7)'], {cwd: repo, env})).code).toBe(7)
    expect((await runCli(['run', '--', 'sh', '-c', 'exit 0'], {cwd: repo, env})).code).toBe(0)
    const missing = await runCli(['run', '--', 'no-such-command-apikey-test', '--flag'], {cwd: repo, env})
    expect(missing.code).toBe(127)
    expect(missing.stderr).toMatch(/no-such-command-apikey-test: command not found/)
    expect(missing.stdout).toBe('')

    const noKey = await runCli(['run', '--', NODE, '-e', 'console.log("ran")'], {cwd: repo, env: await cliEnv()})
    expect(noKey.code).toBe(4)
    expect(noKey.stdout).toBe('')
    expect(noKey.stderr).toContain('apikey init')
    const noCommand = await runCli(['run'], {cwd: repo, env})
    expect(noCommand.code).toBe(2)
  })

  it('forwards SIGTERM to a child that traps it, and exits with its status; 128+N when the child dies of the signal', async () => {
    const repo = await makeRepo('run-signals')
    const env = await cliEnv({API_KEY: KEY})
    const run = (script: string, signal: NodeJS.Signals) =>
      new Promise<{code: number | null; stdout: string}>((resolve, reject) => {
        const child = spawn(NODE, [BIN, 'run', '--', NODE, '-e', script], {cwd: repo, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
        let stdout = ''
        let sent = false
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d
          // Once: a second signal after the child has ended would reach apikey itself.
          if (!sent && stdout.includes('ready')) {
            sent = true
            child.kill(signal)
          }
        })
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        child.on('error', reject)
        child.on('close', (code) => {
          clearTimeout(timer)
          resolve({code, stdout})
        })
      })
    const trapped = await run('process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(43) }); console.log("ready"); setInterval(() => {}, 1000)', 'SIGTERM')
    expect(trapped.stdout).toBe('ready\ngot SIGTERM\n')
    expect(trapped.code).toBe(43)
    const hup = await run('console.log("ready"); setInterval(() => {}, 1000)', 'SIGHUP')
    expect(hup.code).toBe(128 + 1)
    const int = await run('process.on("SIGINT", () => process.exit(130)); console.log("ready"); setInterval(() => {}, 1000)', 'SIGINT')
    expect(int.code).toBe(130)
  })

  it('Ctrl+C on a terminal reaches the child exactly once (SIGINT is not forwarded again when stdin is a terminal)', async (ctx) => {
    if (!(await havePty())) ctx.skip()
    const repo = await makeRepo('run-ctrl-c')
    const env = await cliEnv({API_KEY: KEY})
    // The child counts SIGINTs for a while after the first, then reports and exits.
    const script = 'let n = 0; process.on("SIGINT", () => { if (n++ === 0) setTimeout(() => { console.log("sigints=" + n); process.exit(0) }, 800) }); console.log("ready"); setInterval(() => {}, 1000)'
    // "\x03" typed on the terminal: the line discipline sends SIGINT to the whole foreground process group.
    const r = await runPty(['run', '--', NODE, '-e', script], {cwd: repo, env, steps: [{waitFor: /ready/, send: '\x03'}], killAfterMs: 20_000})
    // Before the fix the child counted 2 (the terminal's, then ours). (`script`'s /bin/sh may itself die of the
    // Ctrl+C, so its exit status is not checked here.)
    expect(r.output).toMatch(/sigints=1\b/)
  })

  it('without a terminal, a SIGINT sent to apikey alone is still forwarded (once)', async () => {
    const repo = await makeRepo('run-int-pipe')
    const env = await cliEnv({API_KEY: KEY})
    const script = 'let n = 0; process.on("SIGINT", () => { if (n++ === 0) setTimeout(() => { console.log("sigints=" + n); process.exit(0) }, 800) }); console.log("ready"); setInterval(() => {}, 1000)'
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(NODE, [BIN, 'run', '--', NODE, '-e', script], {cwd: repo, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
      let stdout = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
        if (d.includes('ready')) child.kill('SIGINT')
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      child.on('error', reject)
      child.on('close', () => {
        clearTimeout(timer)
        resolve(stdout)
      })
    })
    expect(out).toContain('sigints=1\n')
  })

  it('warns when the chosen key shadows a different stored key', async () => {
    const repo = await makeRepo('run-shadow')
    const other = 'ak_weather-app_dev_' + 'S'.repeat(30)
    await writeFile(join(repo, '.env'), `API_KEY=${other + checksumOf(other)}\n`)
    const r = await runCli(['run', '--', NODE, '-e', 'console.log(process.env.API_KEY)'], {cwd: repo, env: await cliEnv({API_KEY: KEY})})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${KEY}\n`)
    expect(r.stderr).toMatch(/environment variable API_KEY shadows a different key in .*\.env \(API_KEY\) \(ak_weather-app_dev_SSSS…\); unset API_KEY to use the stored key/)
    expect(r.stderr).not.toContain(other)
  })

  it('no key found names the files searched and the variable; a key under another variable is pointed out', async () => {
    const repo = await makeRepo('run-nokey')
    const env = await cliEnv()
    const missing = await runCli(['run', '--dotenv-file', 'nope.env', '--', NODE, '-e', '0'], {cwd: repo, env})
    expect(missing.code).toBe(4)
    expect(missing.stderr).toMatch(/no API key found for API_KEY: .*API_KEY is not set in the environment.*nope\.env does not exist/)
    await writeFile(join(repo, '.env'), `# keys\nWEATHER_KEY=${KEY}\n`)
    const other = await runCli(['run', '--', NODE, '-e', '0'], {cwd: repo, env})
    expect(other.code).toBe(4)
    expect(other.stderr).toMatch(/\.env has no API_KEY, but holds a key under WEATHER_KEY/)
    expect(other.stderr).toContain('apikey run --var WEATHER_KEY')
    expect(other.stderr).not.toContain(KEY)
  })
})
