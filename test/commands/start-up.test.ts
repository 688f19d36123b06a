/**
 * The bundled start-up path (scripts/bundle.mjs, src/load-bundle.ts) behaves
 * like the unbundled CLI: V8 accepts the code caches the build wrote, the
 * output does not depend on whether a cache is used, oclif still finds its core plugin (@oclif/plugin-help), and oclif's command order
 * (which help listings follow) is the order its localeCompare sort gives.
 * Run `npm run build` first.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Script} from 'node:vm'
import type {Config} from '@oclif/core'
import {describe, expect, it} from 'vitest'
import {cliEnv, runCli} from '../helpers/cli.js'
import {PACKAGE_ROOT} from '../helpers/in-process.js'
import {tempDir} from '../helpers/temp.js'

const BUNDLES = ['main', 'fast', 'got', 'proxy-agent', 'prompts']

describe('start-up bundle', () => {
  for (const name of BUNDLES) {
    it(`V8 accepts the code cache of ${name}.cjs written by the build`, () => {
      const file = join(PACKAGE_ROOT, 'dist', 'cli', `${name}.cjs`)
      expect(existsSync(`${file}.v8-cache`)).toBe(true)
      // Compiled as src/load-bundle.ts compiles it: the same wrapper, so the same source.
      const script = new Script(`(function (exports, require, module, __filename, __dirname, __apikeyLoad, __apikeyImport) {${readFileSync(file, 'utf8')}\n})`, {
        filename: file,
        cachedData: readFileSync(`${file}.v8-cache`),
      })
      expect(script.cachedDataRejected).toBe(false)
    })
  }

  for (const args of [['--help'], ['keys', '--help'], ['keys', 'create', '--help'], ['whoami', '--offline', '--key', 'ak_x_dev_1', '--json']]) {
    it(`apikey ${args.join(' ')}: the same output and exit code with and without the code caches`, async () => {
      const cwd = await tempDir('start-up')
      const env = await cliEnv()
      const cached = await runCli(args, {cwd, env, mode: 'subprocess'})
      const uncached = await runCli(args, {cwd, env: {...env, APIKEY_CODE_CACHE: 'off'}, mode: 'subprocess'})
      expect(uncached).toEqual(cached)
      expect(cached.stdout.length).toBeGreaterThan(0)
    })
  }

  it("lists each plugin's commands in localeCompare order, as oclif sorts them", async () => {
    const {loadBundle} = (await import(pathToFileURL(join(PACKAGE_ROOT, 'dist', 'load-bundle.js')).href)) as {loadBundle: (name: string) => unknown}
    const cli = loadBundle('main') as {oclif: () => Promise<typeof import('@oclif/core')>; cliLoadOptions: (dir: string) => Promise<Config | Config['options']>}
    const oclif = await cli.oclif()
    const options = await cli.cliLoadOptions(PACKAGE_ROOT)
    const config = options instanceof oclif.Config ? options : await oclif.Config.load(options)
    const plugins = config.getPluginsList()
    expect(plugins.map((p) => p.name)).toEqual(expect.arrayContaining(['apikey', '@oclif/plugin-help', '@apikey/server']))
    for (const plugin of plugins) {
      const ids = plugin.commands.map((c) => c.id)
      expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b)))
    }
    const all = plugins.flatMap((p) => p.commands.map((c) => c.id))
    expect(all).toEqual(expect.arrayContaining(['keys:create', 'server:users:add', 'whoami']))
  })
})
