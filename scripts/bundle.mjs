#!/usr/bin/env node
// Bundles the CLI's start-up path (docs/architecture.md, "Start-up"). Input: tsc's
// output in dist/. Output in dist/cli/:
// - main.cjs: src/start.ts, oclif, every command (except the key service's), the
//   help class and the hooks, as one CommonJS script (src/load-bundle.ts loads it);
// - fast.cjs: the start-up fast path (src/fast-path.ts) without oclif;
// - got.cjs, proxy-agent.cjs, prompts.cjs: the HTTP client, the proxy agent and
//   @inquirer/prompts, which main.cjs loads through src/load-bundle.ts when a run
//   needs them;
// - <bundle>.cjs.v8-cache: V8's code cache of each, written by running the CLI once.
// Then dist/commands/**.js, dist/help.js and dist/hooks/*.js become re-exports of
// main.cjs, so that oclif (which finds them through the manifest) and bin/run.js
// share one copy of every module.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const out = join(dist, 'cli')
const commandsDir = join(dist, 'commands')

/**
 * Packages that main.cjs loads from their own bundle: name in dist/cli/ → the
 * package and what `require(package)` gives the code importing it (got is
 * imported for its default export; the others for named ones).
 */
const VENDOR = {
  got: {pkg: 'got', entry: "export {default} from 'got'", exports: '.default'},
  // pac-proxy-agent (only for pac+ proxy URLs) stays out: it finds its WebAssembly file through import.meta.resolve.
  'proxy-agent': {pkg: 'proxy-agent', entry: "export * from 'proxy-agent'", exports: '', external: ['pac-proxy-agent']},
  prompts: {pkg: '@inquirer/prompts', entry: "export * from '@inquirer/prompts'", exports: ''},
}

/** Command files of the CLI (the key service plugin's `server/` commands ship in packages/server). */
function commandFiles(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return dir === commandsDir && e.name === 'server' ? [] : commandFiles(path)
    return e.name.endsWith('.js') ? [path] : []
  })
}

const posix = (path) => path.split(sep).join('/')
const commands = commandFiles(commandsDir)
  .map((file) => ({file, id: posix(relative(commandsDir, file)).slice(0, -'.js'.length).replaceAll('/', ':')}))
  .sort((a, b) => (a.id < b.id ? -1 : 1))
const entry = [
  `export const COMMANDS = {\n${commands.map((c) => `  ${JSON.stringify(c.id)}: () => import('./${posix(relative(dist, c.file))}').then((m) => m.default),`).join('\n')}\n}`,
  `export const help = () => import('./help.js').then((m) => m.default)`,
  `export const commandNotFound = () => import('./hooks/command-not-found.js').then((m) => m.default)`,
  `export * from './start.js'`,
].join('\n')

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Kept readable: stack traces and --debug output name real functions.
  minifyWhitespace: true,
  logLevel: 'warning',
  // `import.meta.url` of a bundled ES module: the bundle's own URL.
  define: {'import.meta.url': '__apikeyImportMetaUrl'},
  banner: {js: "var __apikeyImportMetaUrl = require('node:url').pathToFileURL(__filename).href;"},
  // oclif loads these only to run a plugin from its TypeScript sources (development).
  external: ['typescript', 'ts-node', 'tsx'],
}

/** Resolves the vendor packages to `__apikeyLoad(name)` (src/load-bundle.ts), so that main.cjs loads them only when used. */
const vendorPlugin = {
  name: 'apikey-vendor',
  setup(b) {
    const byPackage = new Map(Object.entries(VENDOR).map(([name, v]) => [v.pkg, name]))
    b.onResolve({filter: /^(got|proxy-agent|@inquirer\/prompts)$/}, (args) => ({path: byPackage.get(args.path), namespace: 'apikey-vendor'}))
    b.onLoad({filter: /.*/, namespace: 'apikey-vendor'}, (args) => ({contents: `module.exports = __apikeyLoad(${JSON.stringify(args.path)})${VENDOR[args.path].exports}`, loader: 'js'}))
  },
}

/**
 * A native `import()` call left in a bundle (not in a string): a module path only
 * known at run time (oclif loading command, hook and help files; lilconfig its
 * config files) or an optional package that is not installed. A script compiled
 * by `vm` has no `import()`: src/load-bundle.ts passes one in as `__apikeyImport`.
 */
const IMPORT_CALL = /(?<![\w.$"'`])import\((?!\))/g

/**
 * Source changes made while bundling, each to a dependency file that would
 * otherwise cost start-up time for nothing. The build fails when one no longer
 * applies (the dependency changed): look at it again then.
 */
const PATCHES = [
  {
    // fdir (oclif's file search, through tinyglobby) loads picomatch only after require.resolve("picomatch")
    // finds it; picomatch is bundled, so the probe (a node_modules search from dist/cli/) is dropped.
    file: /[\\/]node_modules[\\/]fdir[\\/]dist[\\/]index\.cjs$/,
    from: 'require.resolve("picomatch");',
    to: '',
  },
  {
    // oclif sorts each plugin's commands with localeCompare, whose first call loads ICU's collator (~12 ms).
    // For ids of lowercase letters, ':' and '-' (every apikey id) plain code-unit order is the same order
    // (test/commands/start-up.test.ts); any other id is still compared with localeCompare.
    file: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    from: '.sort((a, b) => a.id.localeCompare(b.id));',
    to: '.sort((a, b) => (/^[a-z:-]*$/.test(a.id) && /^[a-z:-]*$/.test(b.id) ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.id.localeCompare(b.id)));',
  },
  {
    // oclif matches each dependency name against each `oclif.plugins` entry with minimatch, which parses
    // the pattern anew each time; an entry without glob characters (every entry of apikey's) can only
    // match itself, so it is compared as a string.
    file: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin-loader\.js$/,
    from: 'patterns.some((w) => (0, minimatch_1.minimatch)(p, w))',
    to: 'patterns.some((w) => (/[*?[\\]{}()!+@]/.test(w.replace(/^@(?=[^(])/, "")) ? (0, minimatch_1.minimatch)(p, w) : p === w))',
  },
  {
    // oclif warns when Node does not satisfy its own engines (>=18) by reading the package.json next to
    // its file, which is not there in a bundle (the check always gave up silently): dropped, and with it
    // semver (used nowhere else). apikey's own engines field (>=20.19) is stricter.
    file: /[\\/]@oclif[\\/]core[\\/]lib[\\/]index\.js$/,
    from: "const semver = require('semver');",
    to: 'return;',
  },
]

/**
 * got imports http2-wrapper, which opens a TLS socket when it is loaded (reading the CA store, ~12 ms)
 * and pulls in node:http2; got uses it only with its `http2` option, which src/lib/api/client.ts never
 * sets. The got bundle gets a stand-in that fails loudly if that ever changes.
 */
const noHttp2Plugin = {
  name: 'apikey-no-http2',
  setup(b) {
    b.onResolve({filter: /^http2-wrapper$/}, () => ({path: 'http2-wrapper', namespace: 'apikey-no-http2'}))
    b.onLoad({filter: /.*/, namespace: 'apikey-no-http2'}, () => ({
      contents: "const unavailable = () => { throw new Error('HTTP/2 (got option http2) is not part of the apikey bundle') }\nexport default {get auto() { return unavailable() }, get globalAgent() { return unavailable() }}",
      loader: 'js',
    }))
  },
}

VENDOR.got.plugins = [noHttp2Plugin]

const patchPlugin = {
  name: 'apikey-patches',
  setup(b) {
    b.onLoad({filter: /[\\/]node_modules[\\/].*\.c?js$/}, (args) => {
      const patches = PATCHES.filter((p) => p.file.test(args.path))
      if (patches.length === 0) return undefined
      let text = readFileSync(args.path, 'utf8')
      for (const p of patches) {
        if (!text.includes(p.from)) throw new Error(`bundle: ${args.path} no longer contains ${JSON.stringify(p.from)}: check the patch in scripts/bundle.mjs`)
        text = text.replace(p.from, p.to)
        p.applied = true
      }
      return {contents: text, loader: 'js'}
    })
  },
}

rmSync(out, {recursive: true, force: true})
await build({
  ...common,
  stdin: {contents: entry, resolveDir: dist, sourcefile: 'cli-entry.js', loader: 'js'},
  outfile: join(out, 'main.cjs'),
  plugins: [vendorPlugin, patchPlugin],
})
// fast.cjs: the start-up fast path alone (--version, whoami --offline KEY), without oclif.
await build({
  ...common,
  stdin: {contents: "export {fastPath} from './fast-path.js'", resolveDir: dist, sourcefile: 'fast-entry.js', loader: 'js'},
  outfile: join(out, 'fast.cjs'),
  plugins: [vendorPlugin],
})
for (const p of PATCHES) if (!p.applied) throw new Error(`bundle: no file matched the patch of ${p.file}`)
for (const [name, v] of Object.entries(VENDOR)) {
  await build({...common, plugins: v.plugins ?? [], external: [...common.external, ...(v.external ?? [])], stdin: {contents: v.entry, resolveDir: root, sourcefile: `${name}-entry.js`, loader: 'js'}, outfile: join(out, `${name}.cjs`)})
}
for (const file of readdirSync(out)) {
  const text = readFileSync(join(out, file), 'utf8')
  writeFileSync(join(out, file), text.replace(IMPORT_CALL, '__apikeyImport('))
}

// Re-exports for oclif: dist/commands/<id>.js, dist/help.js, dist/hooks/command-not-found.js.
const stub = (file, exportName, id) => {
  const loader = posix(relative(join(file, '..'), join(dist, 'load-bundle.js')))
  writeFileSync(file, `// Re-export of dist/cli/main.cjs (scripts/bundle.mjs).\nimport {loadBundle} from '${loader.startsWith('.') ? loader : `./${loader}`}'\nconst cli = loadBundle('main')\nexport default await cli.${exportName}${id === undefined ? '' : `[${JSON.stringify(id)}]`}()\n`)
}
for (const c of commands) stub(c.file, 'COMMANDS', c.id)
stub(join(dist, 'help.js'), 'help')
stub(join(dist, 'hooks', 'command-not-found.js'), 'commandNotFound')

// The code caches: one process runs a few commands (help, and lookups against a closed port, from an
// empty home directory) so that the functions a start needs are compiled, then writes each bundle's cache.
if (process.env.APIKEY_CODE_CACHE !== 'off') {
  const home = mkdtempSync(join(tmpdir(), 'apikey-code-cache-'))
  try {
    const {checksumOf} = await import(new URL('../dist/core/key-format.js', import.meta.url).href)
    const body = 'ak_weather-app_dev_' + 'Zq3'.repeat(10)
    const fastWarmUp = [['--version'], ['whoami', '--offline', body + checksumOf(body)], ['whoami', '--offline', '--json', body + 'XXXXXX']]
    const warmUp = [
      ['--help'],
      ['keys', '--help'],
      ['keys', 'create', '--help'],
      ['status', '--server', 'http://127.0.0.1:9', '--timeout', '1'],
      ['whoami', '--server', 'http://127.0.0.1:9', '--timeout', '1', '--key', body + checksumOf(body)],
    ]
    execFileSync(process.execPath, ['--input-type=module', '-e', `
      import {loadBundle} from ${JSON.stringify(new URL('../dist/load-bundle.js', import.meta.url).href)}
      const fast = loadBundle('fast')
      for (const argv of ${JSON.stringify(fastWarmUp)}) await fast.fastPath(argv, new URL(${JSON.stringify(new URL('../package.json', import.meta.url).href)}))
      const cli = loadBundle('main')
      for (const argv of ${JSON.stringify(warmUp)}) await cli.main(argv, ${JSON.stringify(root)})
      for (const name of ${JSON.stringify(Object.keys(VENDOR))}) loadBundle(name)
      process.exitCode = 0
    `], {
      cwd: home,
      env: {PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share'), TMPDIR: home, APIKEY_CODE_CACHE: 'write', OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
      stdio: 'ignore',
    })
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}
