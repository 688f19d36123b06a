/**
 * The start-up fast path (bin/run.js → src/fast-path.ts) must print the same
 * bytes and exit codes as the oclif commands it stands in for.
 */
import {describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {cliEnv, runCli} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'

const body = 'ak_weather-app_dev_' + 'Zq3'.repeat(10)
const key = body + checksumOf(body)

describe('fast path', () => {
  const cases: Array<[string, string[]]> = [
    ['--version', ['--version']],
    ['whoami --offline KEY', ['whoami', key, '--offline']],
    ['whoami --offline KEY --json', ['whoami', '--offline', key, '--json']],
    ['whoami --offline --key=KEY --json', ['whoami', '--offline', `--key=${key}`, '--json']],
    ['whoami --offline with an edited key', ['whoami', key.replace('weather', 'weathex'), '--offline']],
    ['whoami --offline with an edited key --json', ['whoami', key.slice(0, -1), '--offline', '--json']],
  ]
  for (const [name, args] of cases) {
    it(`${name}: same stdout, stderr and exit code as oclif`, async () => {
      const cwd = await makeRepo('fast-path')
      const env = await cliEnv()
      // The real binary: bin/run.js decides on the fast path before oclif loads.
      const fast = await runCli(args, {cwd, env, mode: 'subprocess'})
      const slow = await runCli(args, {cwd, env: {...env, APIKEY_NO_FAST_PATH: '1'}, mode: 'subprocess'})
      expect(fast.code).toBe(slow.code)
      expect(fast.stdout).toBe(slow.stdout)
      expect(fast.stderr).toBe(slow.stderr)
      expect(fast.stdout.length + fast.stderr.length).toBeGreaterThan(0)
    })
  }
})
