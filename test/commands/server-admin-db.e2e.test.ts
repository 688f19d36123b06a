/**
 * The `apikey server …` admin commands work on the key service's existing database and
 * never create one: with no database at the path (the default one or --db) they say so,
 * exit 1, and leave no file or directory behind.
 */
import {access} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {cliEnv, runCli} from '../helpers/cli.js'

const commands: string[][] = [
  ['server', 'verifiers', 'list'],
  ['server', 'verifiers', 'add', 'orders'],
  ['server', 'verifiers', 'revoke', 'orders'],
  ['server', 'users', 'add', 'ann', '--team', 'weather', '--password-stdin'],
]

describe('server admin commands on a machine with no database', () => {
  it('say there is none, exit 1 and create nothing (default path and --db)', async () => {
    const env = await cliEnv()
    const dataDir = join(env.XDG_DATA_HOME!, 'apikey')
    const elsewhere = join(env.HOME!, 'srv', 'apikey.db')
    for (const args of commands) {
      const byDefault = await runCli([...args, '--json'], {cwd: env.HOME!, env, input: 'a long password'})
      expect(byDefault.code, `${args.join(' ')}: ${byDefault.stdout}${byDefault.stderr}`).toBe(1)
      expect(byDefault.json.error.code).toBe('not_found')
      expect(byDefault.json.error.message).toBe(`there is no key service database at ${join(dataDir, 'apikey.db')}; nothing was created`)
      expect(byDefault.json.error.suggestions.join('\n')).toMatch(/--db PATH[\s\S]*apikey server start/)
      await expect(access(dataDir), args.join(' ')).rejects.toThrow()

      const withDb = await runCli([...args, '--db', elsewhere], {cwd: env.HOME!, env, input: 'a long password'})
      expect(withDb.code, args.join(' ')).toBe(1)
      expect(withDb.stderr).toContain(`there is no key service database at ${elsewhere}`)
      await expect(access(join(env.HOME!, 'srv')), args.join(' ')).rejects.toThrow()
    }
  })
})
