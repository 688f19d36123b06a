/**
 * Loads the CLI's bundles: `dist/cli/<name>.cjs`, built by scripts/bundle.mjs
 * (`main`: oclif, every command, the help class, the hooks; `fast`: the
 * start-up fast path of src/fast-path.ts, without oclif; `got`,
 * `proxy-agent`, `prompts`: the HTTP client, the proxy agent and the prompts,
 * loaded by `main` only when a run needs them). A bundle is compiled with its
 * V8 code cache, `dist/cli/<name>.cjs.v8-cache`, when the build wrote one for
 * this Node.js and V8 accepts it (same V8 version and flags, same source
 * length); otherwise it is compiled from source, as `require` would. Each
 * bundle is evaluated once per process (shared through a global symbol, so
 * that oclif's command files and `bin/run.js` see the same modules).
 *
 * Set `APIKEY_CODE_CACHE=write` to write each loaded bundle's code cache when
 * the process exits (the build does this); `APIKEY_CODE_CACHE=off` ignores
 * the caches.
 */
import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Script} from 'node:vm'

/** Names of the bundles in `dist/cli/`. */
export type BundleName = 'main' | 'fast' | 'got' | 'proxy-agent' | 'prompts'

const BUNDLE_DIR = fileURLToPath(new URL('./cli/', import.meta.url))
const loaded = ((globalThis as {[key: symbol]: unknown})[Symbol.for('apikey.bundles')] ??= new Map<string, unknown>()) as Map<string, unknown>

/** `import()` for code inside a bundle (a script compiled by `vm` has no module loader of its own). */
const importModule = (specifier: string): Promise<unknown> => import(specifier)

/**
 * The exports of bundle `name`, evaluating it on first use.
 * @throws what reading or evaluating the bundle throws (a missing build: run `npm run build`).
 */
export function loadBundle(name: BundleName): unknown {
  const done = loaded.get(name)
  if (done !== undefined) return done
  const file = join(BUNDLE_DIR, `${name}.cjs`)
  const cacheFile = `${file}.v8-cache`
  const cacheMode = process.env['APIKEY_CODE_CACHE']
  let cachedData: Buffer | undefined
  if (cacheMode !== 'off' && cacheMode !== 'write') {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {
      cachedData = undefined
    }
  }
  // The wrapper keeps the source on its first line, so that stack traces show the bundle's own line numbers.
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __apikeyLoad, __apikeyImport) {${readFileSync(file, 'utf8')}\n})`, {
    filename: file,
    ...(cachedData === undefined ? {} : {cachedData}),
  })
  const module = {exports: {} as unknown}
  const run = script.runInThisContext() as (...args: unknown[]) => void
  run(module.exports, createRequire(file), module, file, BUNDLE_DIR, loadBundle, importModule)
  loaded.set(name, module.exports)
  if (cacheMode === 'write') {
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData())
      renameSync(`${cacheFile}.tmp`, cacheFile)
    })
  }
  return module.exports
}
