/**
 * `apikey run`: its help shows where the command goes (`-- CMD`), and `--json`
 * among apikey's own flags reports the result (exit status, variable, key
 * source; never the key) after the command's own output. A `--json` among the
 * command's arguments belongs to the command.
 */
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'

const body = 'ak_weather-app_dev_' + 'J'.repeat(30)
const KEY = body + checksumOf(body)
const NODE = process.execPath

describe('apikey run', () => {
  it('--help shows "-- CMD" in the usage and offers --json', async () => {
    const env = await cliEnv()
    const help = await runCli(['run', '--help'], {cwd: env.HOME!, env})
    expect(help.code).toBe(0)
    const usage = help.stdout.slice(help.stdout.indexOf('USAGE'), help.stdout.indexOf('FLAGS'))
    expect(usage).toMatch(/\$ apikey run [^\n]*(\n[^\n]*)?-- CMD \[ARGS…\]/)
    expect(help.stdout).toMatch(/--json/)
  })

  it('--json prints the result after the command output; a failure before the start is a JSON error; --json after -- is the command\'s', async () => {
    const repo = await makeRepo('run-json')
    await writeFile(join(repo, '.env'), `API_KEY=${KEY}\n`)
    const env = await cliEnv()
    const ok = await runCli(['run', '--json', '--', NODE, '-e', 'console.log("child says hi"); process.exitCode = 3'], {cwd: repo, env})
    expect(ok.code, ok.stderr).toBe(3)
    expect(ok.stdout.startsWith('child says hi\n')).toBe(true)
    const result = JSON.parse(ok.stdout.slice('child says hi\n'.length))
    expect(result).toEqual({exitCode: 3, signal: null, variable: 'API_KEY', source: {name: 'dotenv', location: `${join(repo, '.env')} (API_KEY)`}})
    expect(ok.stdout + ok.stderr).not.toContain(KEY)

    await writeFile(join(repo, 'args.cjs'), 'console.log(process.argv.slice(2).join(" "))\n')
    // Without `--`, too: our flags come first.
    const noSplit = await runCli(['run', '--json', NODE, 'args.cjs', '--json'], {cwd: repo, env})
    expect(noSplit.code, noSplit.stderr).toBe(0)
    expect(noSplit.stdout.split('\n')[0]).toBe('--json')
    expect(JSON.parse(noSplit.stdout.slice(noSplit.stdout.indexOf('\n') + 1))).toMatchObject({exitCode: 0, variable: 'API_KEY'})

    // --json only after `--`: passed to the command, no JSON from apikey.
    const childs = await runCli(['run', '--', NODE, 'args.cjs', '--json'], {cwd: repo, env})
    expect(childs.stdout).toBe('--json\n')

    const empty = await makeRepo('run-json-empty')
    const missing = await runCli(['run', '--json', '--', NODE, '-e', '0'], {cwd: empty, env})
    expect(missing.code).toBe(4)
    expect(missing.json.error).toMatchObject({code: 'not_found', exitCode: 4})
  })
})
