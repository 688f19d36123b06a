/**
 * Where the CLI finds the key service plugin (@apikey/server): next to the
 * CLI the way Node resolves packages (its own node_modules, then each
 * parent's, e.g. an app project's or the global prefix), and in a checkout
 * of this repository its own packages/server before anything node_modules
 * links to.
 */
import {mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {isServerCommandId, serverNotInstalledError, serverPluginDir} from '../../src/lib/plugins.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

function tree(files: Record<string, object>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'apikey-plugins-')))
  dirs.push(root)
  for (const [file, json] of Object.entries(files)) {
    mkdirSync(join(root, file, '..'), {recursive: true})
    writeFileSync(join(root, file), JSON.stringify(json))
  }
  return root
}

const plugin = {name: '@apikey/server', version: '0.1.0', exports: {'./package.json': './package.json'}}

describe('serverPluginDir', () => {
  it('finds the plugin installed next to the CLI in an app project', () => {
    const root = tree({'project/node_modules/apikey/package.json': {name: 'apikey'}, 'project/node_modules/@apikey/server/package.json': plugin})
    expect(serverPluginDir(join(root, 'project/node_modules/apikey'))).toBe(join(root, 'project/node_modules/@apikey/server'))
  })

  it('finds nothing where only the CLI is installed', () => {
    const root = tree({'project/node_modules/apikey/package.json': {name: 'apikey'}, 'project/node_modules/other/package.json': {name: 'other'}})
    expect(serverPluginDir(join(root, 'project/node_modules/apikey'))).toBeUndefined()
  })

  it('in a checkout uses its own packages/server, not what node_modules holds', () => {
    const root = tree({'repo/package.json': {name: 'apikey'}, 'repo/packages/server/package.json': plugin, 'repo/node_modules/@apikey/server/package.json': plugin})
    expect(serverPluginDir(join(root, 'repo'))).toBe(join(root, 'repo/packages/server'))
  })

  it('ignores a packages/server that is another package', () => {
    const root = tree({'repo/package.json': {name: 'apikey'}, 'repo/packages/server/package.json': {name: 'something-else'}})
    expect(serverPluginDir(join(root, 'repo'))).toBeUndefined()
  })
})

describe('server commands without the plugin', () => {
  it('every id of the server topic is recognised, and no other', () => {
    for (const id of ['server', 'server:start', 'server users add']) expect(isServerCommandId(id)).toBe(true)
    for (const id of ['servers', 'serve', 'status', 'keys:server']) expect(isServerCommandId(id)).toBe(false)
  })

  it('the error exits 1 and names the package and the install command', () => {
    const error = serverNotInstalledError()
    expect(error.exitCode).toBe(1)
    expect(error.toJSON().error).toMatchObject({code: 'not_found', details: {package: '@apikey/server'}})
    expect(error.suggestions[0]).toContain('npm install @apikey/server')
  })
})
