/**
 * Optional parts of the `apikey` CLI. The key service and its `apikey server …`
 * commands ship as their own package, {@link SERVER_PLUGIN} (an oclif plugin
 * with the service's dependencies: Fastify, better-sqlite3, Kysely, pino), so
 * that app projects and CI install the CLI without them. The CLI loads the
 * plugin only where it is installed next to the CLI (the same `node_modules`
 * or global prefix); elsewhere `apikey server …` answers with the command that
 * installs it (src/hooks/command-not-found.ts).
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join, resolve} from 'node:path'

/** npm name of the key service plugin that provides `apikey server …`. */
export const SERVER_PLUGIN = '@apikey/server'

/** The command topic the key service plugin provides. */
export const SERVER_TOPIC = 'server'

/** The parts of package.json that {@link cliLoadOptions} reads and extends. */
interface PackageJson {
  dependencies?: Record<string, string>
  oclif?: {plugins?: string[]} & Record<string, unknown>
  [key: string]: unknown
}

/**
 * Whether `name` resolves the way Node resolves it from the CLI's package
 * directory `root` (its own `node_modules`, then each parent's).
 * Never throws.
 */
export function isInstalledNextTo(root: string, name: string): boolean {
  try {
    createRequire(join(root, 'package.json')).resolve(`${name}/package.json`)
    return true
  } catch {
    return false
  }
}

/**
 * oclif load options for the CLI whose package directory is `packageDir`: its own
 * package.json, with {@link SERVER_PLUGIN} added as a core plugin when it is
 * installed next to the CLI (oclif loads core plugins only from
 * `dependencies`, and the CLI does not depend on the plugin).
 * @throws when `packageDir/package.json` cannot be read or parsed.
 */
export function cliLoadOptions(packageDir: string): {root: string; pjson: PackageJson} {
  const root = resolve(packageDir)
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson
  if (isInstalledNextTo(root, SERVER_PLUGIN)) {
    pjson.dependencies = {...pjson.dependencies, [SERVER_PLUGIN]: '*'}
    pjson.oclif = {...pjson.oclif, plugins: [...(pjson.oclif?.plugins ?? []), SERVER_PLUGIN]}
  }
  return {root, pjson}
}
