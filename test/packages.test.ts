/**
 * Each user installs only their part: the packed file lists and manifests of
 * the three packages (`npm pack --dry-run --json`, after `npm run build`).
 * The CLI (apikey) carries no key service code and none of its dependencies;
 * the verifier library (@apikey/verify) has no runtime dependencies at all;
 * the key service plugin (@apikey/server) carries the `server …` commands.
 * Every package declares each package its shipped code imports, and the
 * lock file holds no package that refuses this Node version.
 * The install footprint itself (packages, MB, compiler) is measured by
 * `npm run bench -- --only install`.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {builtinModules} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const SERVICE_DEPENDENCIES = ['fastify', 'better-sqlite3', 'kysely', 'pino', '@fastify/swagger']

interface Packed {
  dir: string
  files: string[]
  pjson: {name: string; dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; oclif?: {topics?: Record<string, unknown>}}
}

function packed(workspace?: string): Packed {
  const args = ['pack', '--dry-run', '--json', '--ignore-scripts', ...(workspace ? ['-w', workspace] : [])]
  const [info] = JSON.parse(execFileSync('npm', args, {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})) as Array<{files: Array<{path: string}>}>
  const dir = workspace ? join(root, 'packages', workspace.split('/')[1]!) : root
  return {dir, files: info!.files.map((f) => f.path), pjson: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))}
}

/** Bare package names imported (statically or dynamically) or resolved by the packed JavaScript files. */
function importedPackages(p: Packed): Map<string, string> {
  const found = new Map<string, string>()
  const builtins = new Set(builtinModules)
  for (const file of p.files.filter((f) => /\.(m?js|cjs)$/.test(f) && !f.startsWith('bin/'))) {
    const text = readFileSync(join(p.dir, file), 'utf8')
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm),
      ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...text.matchAll(/\.resolve\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!)
    for (const spec of specifiers) {
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) continue
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
      if (!found.has(name)) found.set(name, file)
    }
  }
  return found
}

const runtimeDependencies = (p: Packed): string[] => Object.keys({...p.pjson.dependencies, ...p.pjson.peerDependencies, ...p.pjson.optionalDependencies})

describe('packages', () => {
  const cli = packed()
  const verify = packed('@apikey/verify')
  const server = packed('@apikey/server')

  it('the CLI ships no key service code and depends on none of its packages', () => {
    expect(cli.pjson.name).toBe('apikey')
    expect(cli.files).toContain('dist/commands/init.js')
    expect(cli.files.filter((f) => f.startsWith('dist/server/') || f.startsWith('dist/commands/server/'))).toEqual([])
    expect(runtimeDependencies(cli).filter((d) => SERVICE_DEPENDENCIES.includes(d))).toEqual([])
    expect(runtimeDependencies(cli)).not.toContain(server.pjson.name)
    expect([...importedPackages(cli).keys()]).toEqual(expect.arrayContaining(['@oclif/core', 'got', '@napi-rs/keyring']))
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    expect(Object.keys(manifest.commands).filter((id) => id.startsWith('server:'))).toEqual([])
  })

  it('the verifier library has no runtime dependencies and ships only its own code and the core it uses', () => {
    expect(verify.pjson.name).toBe('@apikey/verify')
    expect(runtimeDependencies(verify)).toEqual([])
    expect(importedPackages(verify)).toEqual(new Map())
    expect(verify.files).toContain('dist/verify/index.js')
    expect(verify.files.filter((f) => f !== 'package.json' && !f.startsWith('dist/verify/') && !f.startsWith('dist/core/'))).toEqual([])
  })

  it('the key service plugin ships every server command, its manifest and the service dependencies', () => {
    expect(server.files).toContain('oclif.manifest.json')
    expect(server.files).toContain('dist/server/main.js')
    // The database writer thread is loaded by URL beside its dialect, so it must be packed too.
    expect(server.files).toContain('dist/server/db/writer-worker.js')
    const manifest = JSON.parse(readFileSync(join(server.dir, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const ids = Object.keys(manifest.commands)
    expect(ids).toContain('server:start')
    expect(ids.filter((id) => !id.startsWith('server:'))).toEqual([])
    for (const id of ids) expect(server.files).toContain(`dist/commands/${id.replace(/:/g, '/')}.js`)
    expect(runtimeDependencies(server)).toEqual(expect.arrayContaining(SERVICE_DEPENDENCIES))
    expect([...importedPackages(server).keys()]).toEqual(expect.arrayContaining(['fastify', 'better-sqlite3', 'kysely']))
    expect(Object.keys(server.pjson.oclif?.topics ?? {})).toEqual(['server'])
  })

  for (const [name, p] of [['apikey', cli], ['@apikey/verify', verify], ['@apikey/server', server]] as const) {
    it(`${name} declares every package its shipped code imports`, () => {
      const undeclared = [...importedPackages(p)].filter(([pkg]) => !runtimeDependencies(p).includes(pkg))
      expect(undeclared).toEqual([])
    })
  }

  it('npm ci of the lock file warns about no package that needs another Node version (EBADENGINE)', () => {
    // A dry run on a copy of the manifests: nothing is installed, the engines of every locked package are checked.
    const dir = mkdtempSync(join(tmpdir(), 'apikey-npm-ci-'))
    try {
      for (const file of ['package.json', 'package-lock.json', 'packages/server/package.json', 'packages/verify/package.json']) {
        mkdirSync(join(dir, file, '..'), {recursive: true})
        copyFileSync(join(root, file), join(dir, file))
      }
      const ci = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {cwd: dir, encoding: 'utf8'})
      expect(ci.status, ci.stderr).toBe(0)
      expect(ci.stdout).toMatch(/added \d+ packages/)
      expect(ci.stderr).not.toContain('EBADENGINE')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
