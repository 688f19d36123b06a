/**
 * Every command refuses a secret in every flag and argument that is not meant
 * for one: the list of inputs comes from the oclif manifest (so a new flag is
 * covered as soon as it exists), each secret shape is pasted into each input,
 * and the command must exit 2 before any request, naming the input but never
 * showing the value (not with --debug, not with --json). Runs in process
 * against dist/ (run `npm run build` first).
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {generateKey, randomBase62} from '../../src/core/key-format.js'
import {needsSubprocess, PACKAGE_ROOT} from '../helpers/in-process.js'
import {runCli} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const SECRETS = {
  'API key': generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'}),
  'session token': `aks_${randomBase62(40)}`,
  'provisioning token': `akp_${randomBase62(40)}`,
  'verifier token': `akv_${randomBase62(40)}`,
}

/** Inputs meant to carry a secret (not checked). Adding one means adding it here too. */
const SECRET_INPUTS = ['run --key', 'whoami --key', 'whoami KEY']

interface ManifestInput {
  name: string
  type?: string
  required?: boolean
  options?: string[]
}
interface ManifestCommand {
  id: string
  flags: Record<string, ManifestInput>
  args: Record<string, ManifestInput>
  inputRules?: Record<string, unknown>
}

let home: string
let env: Record<string, string | undefined>
/** The CLI's commands and the key service plugin's (`apikey server …`). */
let manifest: Record<string, ManifestCommand>

beforeAll(async () => {
  home = await tempDir('apikey-secret-inputs-')
  env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-dbus')}`,
    // Nothing listens there: a request that got out would fail, not reach anything.
    APIKEY_SERVER: 'http://127.0.0.1:9',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
  }
  manifest = {}
  for (const file of ['oclif.manifest.json', 'packages/server/oclif.manifest.json']) Object.assign(manifest, JSON.parse(await readFile(join(PACKAGE_ROOT, file), 'utf8')).commands)
})

/** Commands run as the real binary: those that need a subprocess, and the key service plugin's (loaded by bin/run.js). */
function subprocessOnly(id: string): boolean {
  return id.startsWith('server:') || needsSubprocess(id.split(':')) !== undefined
}

/** Runs `apikey ID ARGV…` (in process where the command allows) with a throwaway home; never a terminal. */
async function run(id: string, argv: string[]): Promise<{code: number; out: string}> {
  const r = await runCli([...id.split(':'), ...argv], {cwd: home, env, ...(subprocessOnly(id) ? {mode: 'subprocess' as const} : {})})
  return {code: r.code, out: r.stdout + r.stderr}
}

/** A value that passes for `input` when it is not the one under test. */
function benign(name: string, input: ManifestInput): string {
  if (input.options !== undefined) return input.options[0]!
  if (name === 'keyId') return 'key_3kTq8vN2mXc9LpQ4rS7w'
  if (name === 'tokenId') return 'tok_8mXc9LpQ4rS7w3kTq8vN'
  return name === 'team' ? 'weather' : 'weather-app'
}

/** Every option flag and argument of every command, with argv that fills the other required inputs. */
function inputs(): Array<{id: string; label: string; argv: (value: string) => string[]}> {
  const out: Array<{id: string; label: string; argv: (value: string) => string[]}> = []
  for (const command of Object.values(manifest)) {
    const words = command.id.replaceAll(':', ' ')
    const args = Object.entries(command.args ?? {})
    const requiredFlags = Object.entries(command.flags).filter(([, f]) => f.type === 'option' && f.required === true)
    const build = (target: {kind: 'arg' | 'flag'; name: string}, value: string): string[] => {
      const argv: string[] = []
      for (const [name, arg] of args) {
        if (target.kind === 'arg' && target.name === name) argv.push(value)
        else if (arg.required === true || (target.kind === 'arg' && args.findIndex(([n]) => n === target.name) > args.findIndex(([n]) => n === name))) argv.push(benign(name, arg))
      }
      for (const [name, flag] of requiredFlags) if (!(target.kind === 'flag' && target.name === name)) argv.push(`--${name}`, benign(name, flag))
      if (target.kind === 'flag') argv.push(`--${target.name}`, value)
      return argv
    }
    for (const [name] of args) {
      const label = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
      out.push({id: command.id, label: `${words} ${label}`, argv: (v) => build({kind: 'arg', name}, v)})
    }
    for (const [name, flag] of Object.entries(command.flags)) {
      if (flag.type !== 'option') continue
      out.push({id: command.id, label: `${words} --${name}`, argv: (v) => build({kind: 'flag', name}, v)})
    }
  }
  return out
}

describe('a secret in any flag or argument is refused by the CLI, never sent, never echoed', () => {
  it('the inputs meant for a secret are exactly the ones the commands declare', () => {
    const declared = Object.values(manifest).flatMap((c) =>
      Object.entries(c.inputRules ?? {})
        .filter(([, rule]) => rule === 'secret')
        .map(([name]) => [...(c.flags[name] ? [`${c.id.replaceAll(':', ' ')} --${name}`] : []), ...(c.args?.[name] ? [`${c.id.replaceAll(':', ' ')} ${name.toUpperCase()}`] : [])]),
    )
    expect(declared.flat().sort()).toEqual([...SECRET_INPUTS].sort())
    // Spot checks that the walk reaches the inputs named in bug reports.
    const labels = inputs().map((i) => i.label)
    for (const expected of ['keys create --name', 'tokens create --name', 'login --username', 'init --contact', 'init --team', 'apps transfer --contact', 'status --server', 'keys revoke KEY_ID', 'server users add NAME'])
      expect(labels).toContain(expected)
  })

  it('every secret shape in every input: exit 2 before any request, the input named, the value never shown (--debug, --json)', async () => {
    const checked: string[] = []
    let turn = 0
    for (const input of inputs()) {
      if (SECRET_INPUTS.includes(input.label)) continue
      // Commands that must run as a subprocess get one shape per input, in turn (each run starts Node).
      const slow = subprocessOnly(input.id)
      const pick = slow ? turn++ % 4 : -1
      const shapes = Object.entries(SECRETS).filter((_, i) => !slow || i === pick)
      for (const [kind, secret] of shapes) {
        // --json once per input (with the API key), --debug with every shape.
        for (const mode of slow || kind !== 'API key' ? ['--debug'] : ['--debug', '--json']) {
          const label = `${kind} in ${input.label} ${mode}`
          const {code, out} = await run(input.id, [...input.argv(secret), mode])
          expect(code, `${label}: ${out}`).toBe(2)
          expect(out, label).not.toContain(secret.slice(-12))
          expect(out, label).not.toMatch(/HTTP ->/)
          const named = input.label.split(' ').at(-1)!
          expect(out, label).toContain(named)
          checked.push(label)
        }
      }
    }
    expect(checked.length).toBeGreaterThan(250)
  }, 300_000)

  it('a key or token inside the service address from APIKEY_SERVER is refused the same way, never shown', async () => {
    for (const secret of Object.values(SECRETS)) {
      const r = await runCli(['status', '--json'], {cwd: home, env: {...env, APIKEY_SERVER: `https://keys.example.com/${secret}`}})
      expect(r.code, r.stdout + r.stderr).toBe(2)
      expect(r.stdout + r.stderr).not.toContain(secret.slice(-12))
      expect(r.json.error.details).toMatchObject({field: 'APIKEY_SERVER', reason: 'secret'})
    }
  })

  it('a password given as a username is refused without being shown', async () => {
    for (const [id, argv, value] of [
      ['login', ['--username', 'correct horse battery staple'], 'correct horse'],
      ['login', ['--username', 'Tr0ub4dor&3'], 'Tr0ub4dor'],
      ['server:users:add', ['Tr0ub4dor&3', '--team', 'weather'], 'Tr0ub4dor'],
    ] as const) {
      const {code, out} = await run(id, [...argv, '--json'])
      expect(code, out).toBe(2)
      expect(out).not.toContain(value)
      expect(JSON.parse(out).error.details.reason).toBe('not-a-username')
    }
  })

  it('names refuse bidirectional-override and zero-width characters', async () => {
    for (const name of ['evil\u202Etxt.exe', 'pay\u200Bpal', 'a\u2067b']) {
      const {code, out} = await run('keys:create', ['--app', 'weather-app', '--env', 'dev', '--name', name, '--json'])
      expect(code, out).toBe(2)
      expect(JSON.parse(out).error.details).toMatchObject({field: '--name', reason: 'unsafe-character'})
    }
  })

  it("a key's display start given as KEY_ID is answered with apikey keys list, not as a secret", async () => {
    for (const id of ['keys:revoke', 'keys:rotate', 'keys:limit']) {
      const {code, out} = await run(id, ['ak_weather-app_dev_4fT9…', '--json'])
      expect(code, out).toBe(2)
      const error = JSON.parse(out).error
      expect(error.message).toContain("ak_weather-app_dev_4fT9… is a key's display start")
      expect(error.message).not.toMatch(/secret/i)
      expect(error.suggestions.join('\n')).toContain('apikey keys list --app weather-app')
    }
  })
})
