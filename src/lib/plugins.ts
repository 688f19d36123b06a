/**
 * Optional parts of the `apikey` CLI. The key service and its `apikey server …`
 * commands ship as their own package, {@link SERVER_PLUGIN} (an oclif plugin
 * with the service's dependencies: Fastify, better-sqlite3, Kysely, pino), so
 * that app projects and CI install the CLI without them. The CLI loads the
 * plugin only where it is installed next to the CLI (the same `node_modules`
 * or global prefix) or, in a checkout of this repository, from
 * `packages/server`; elsewhere `apikey server …` answers with the command that
 * installs it (src/hooks/command-not-found.ts).
 */
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, resolve} from 'node:path'
import {Config, Plugin} from '@oclif/core'
import {ApikeyError} from '../core/errors.js'

/** npm name of the key service plugin that provides `apikey server …`. */
export const SERVER_PLUGIN = '@apikey/server'

/** The command topic the key service plugin provides. */
export const SERVER_TOPIC = 'server'

/** Whether a command id (`server`, `server:start`, `server users add`…) belongs to the key service's topic. */
export function isServerCommandId(id: string): boolean {
  return id === SERVER_TOPIC || id.startsWith(`${SERVER_TOPIC}:`) || id.startsWith(`${SERVER_TOPIC} `)
}

/**
 * The error for `apikey server …` (or its help) where the key service plugin
 * is not installed: exit 1, code `not_found`, `details.package` naming it.
 * The command's arguments are not echoed.
 */
export function serverNotInstalledError(): ApikeyError {
  return new ApikeyError(`"apikey ${SERVER_TOPIC} …" commands are in the key service package ${SERVER_PLUGIN}, which is not installed next to this CLI`, {
    code: 'not_found',
    suggestions: [
      `npm install ${SERVER_PLUGIN}   (on the key service's host, in the project or global prefix where apikey is installed)`,
      'App projects, CI and protected APIs do not need it: they talk to a running key service.',
    ],
    details: {package: SERVER_PLUGIN},
  })
}

/** Where the key service plugin lives in a checkout of this repository (relative to the CLI's package directory). */
const CHECKOUT_SERVER_DIR = join('packages', 'server')

/**
 * The directory of the key service plugin for the CLI whose package directory
 * is `root`: `root/packages/server` in a checkout of this repository (whatever
 * `node_modules` links to), else the package Node resolves from `root` (its
 * own `node_modules`, then each parent's), else undefined. Never throws.
 */
export function serverPluginDir(root: string): string | undefined {
  const checkout = join(root, CHECKOUT_SERVER_DIR)
  if (packageName(checkout) === SERVER_PLUGIN) return checkout
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve(`${SERVER_PLUGIN}/package.json`))
  } catch {
    return undefined
  }
}

/**
 * oclif load options (for `execute`/`run`) of the CLI whose package directory
 * is `packageDir`: the CLI and its core plugins as package.json declares them,
 * already loaded, plus the key service plugin where {@link serverPluginDir}
 * finds one.
 * @throws what `Config.load` or `Plugin.load` throws (an unreadable package.json or manifest).
 */
export async function cliLoadOptions(packageDir: string): Promise<Config | Config['options']> {
  const root = resolve(packageDir)
  const config = await Config.load(root)
  const dir = serverPluginDir(root)
  if (dir === undefined || config.plugins.has(SERVER_PLUGIN)) return config
  // Loaded from its own directory (not by name), so that a checkout uses its own packages/server.
  const plugin = new Plugin({root: dir, type: 'core'})
  await plugin.load()
  return {...config.options, plugins: new Map([...config.plugins, [plugin.name, plugin]])}
}

/** The `name` in `dir/package.json`, or undefined when there is none. */
function packageName(dir: string): string | undefined {
  const file = join(dir, 'package.json')
  if (!existsSync(file)) return undefined
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as {name?: unknown}).name
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}
