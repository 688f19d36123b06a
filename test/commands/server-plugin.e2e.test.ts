/**
 * The key service and its `apikey server …` commands are the plugin package
 * @apikey/server, loaded only where it is installed next to the CLI. Here the
 * real binary runs from a CLI installation without the plugin (a copy of
 * package.json and bin/, the built dist/ and the CLI's own dependencies, no
 * @apikey/server): `server …` fails with exit 1 naming the package, other
 * unknown commands stay usage errors, and the rest of the CLI works. The
 * checkout itself (a workspace with the plugin linked) runs `server …`.
 */
import {spawn} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli, type CliRun} from '../helpers/cli.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
let install: string
let env: Record<string, string | undefined>

/** Runs the CLI installed at `install` (no @apikey/server next to it). */
function runInstalled(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>
    const child = spawn(process.execPath, [join(install, 'bin', 'run.js'), ...args], {cwd: install, env: clean, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      let json: unknown
      try {
        json = JSON.parse(stdout)
      } catch {}
      resolve({code: code ?? -1, stdout, stderr, json})
    })
  })
}

beforeAll(async () => {
  install = mkdtempSync(join(tmpdir(), 'apikey-no-server-plugin-'))
  // The CLI as npm installs it, minus the plugin: its own files, and its dependencies (never @apikey/*).
  copyFileSync(join(root, 'package.json'), join(install, 'package.json'))
  mkdirSync(join(install, 'bin'))
  copyFileSync(join(root, 'bin', 'run.js'), join(install, 'bin', 'run.js'))
  symlinkSync(join(root, 'dist'), join(install, 'dist'))
  symlinkSync(join(root, 'oclif.manifest.json'), join(install, 'oclif.manifest.json'))
  mkdirSync(join(install, 'node_modules'))
  symlinkSync(join(root, 'node_modules', '@oclif'), join(install, 'node_modules', '@oclif'))
  env = await cliEnv()
})

afterAll(() => {
  rmSync(install, {recursive: true, force: true})
  if (env.HOME) rmSync(env.HOME, {recursive: true, force: true})
})

describe('apikey server … without @apikey/server installed', () => {
  it('server start fails with exit 1, names the package and the install command, and echoes no argument', async () => {
    const run = await runInstalled(['server', 'start', '--port', '0', '--db', '/tmp/secret-place.db'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('@apikey/server')
    expect(run.stderr).toContain('npm install @apikey/server')
    expect(run.stderr).not.toContain('secret-place')
    expect(run.stderr).not.toMatch(/warn/i)
  })

  it('--json gives code not_found with the package in details', async () => {
    for (const args of [['server', 'users', 'add', 'ann', '--json'], ['server', '--json']]) {
      const run = await runInstalled(args)
      expect(run.code).toBe(1)
      expect(run.json.error).toMatchObject({code: 'not_found', exitCode: 1, details: {package: '@apikey/server'}})
    }
  })

  it('help for a server command gives the same answer as running it', async () => {
    for (const args of [['server', '--help'], ['help', 'server'], ['server', 'start', '--help'], ['help', 'server', 'users', 'add']]) {
      const run = await runInstalled(args)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('npm install @apikey/server')
    }
  })

  it('another unknown command is still a usage error, and help lists no server topic', async () => {
    const unknown = await runInstalled(['servers'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('is not an apikey command')
    const help = await runInstalled(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('init')
    expect(help.stdout).not.toMatch(/^\s+server\s/m)
    expect(help.stderr).toBe('')
  })
})

describe('apikey server … in the workspace (plugin linked)', () => {
  it('server start --help is answered by the plugin', async () => {
    const run = await runCli(['server', 'start', '--help'], {cwd: root, env})
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('apikey server start')
    const help = await runCli(['--help'], {cwd: root, env})
    expect(help.stdout).toMatch(/^\s+server\s/m)
  })
})
