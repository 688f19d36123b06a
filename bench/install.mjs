#!/usr/bin/env node
// Install footprint of each package, as its user gets it (run by bench/run.mjs, or alone:
// `node bench/install.mjs [--with-server]` after `npm run build`; prints JSON on stdout).
//
// Method: `npm pack` the CLI (apikey), the verifier library (@apikey/verify) and, with
// --with-server, the key service plugin (@apikey/server); then install each tarball into
// its own empty project (`npm install /path/to/tarball.tgz`, no registry for our packages,
// dependencies from the registry into an empty npm cache) and count:
//   packages   entries in node_modules/.package-lock.json (the package itself included)
//   MB         `du -sk node_modules` / 1024
//   seconds    wall time of `npm install`
//   compiler   whether cc/gcc/g++/c++/make/python3/node-gyp ran: the install runs with
//              --dangerously-allow-all-scripts (every install script may run, as with
//              npm ≤ 10) and a PATH whose first directory holds logging wrappers of those
//              tools; any call is recorded, then passed on to the real tool.
// Then, from the CLI's install: `apikey login` and `apikey init` against a key service
// started from this checkout (bin/run.js server start), and `apikey server start`, which
// must fail with exit 1 and name @apikey/server.
// Targets: verifier 0 dependencies; CLI ≤ 25 MB, no compiler, none of the service's
// dependencies; no EBADENGINE warning anywhere.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createInterface} from 'node:readline'

const root = fileURLToPath(new URL('..', import.meta.url))
const withServer = process.argv.includes('--with-server')
const work = mkdtempSync(join(tmpdir(), 'apikey-bench-install-'))
const SERVICE_DEPS = ['fastify', 'better-sqlite3', 'kysely', 'pino', '@fastify/swagger']
const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python', 'node-gyp']
const log = (m) => process.stderr.write(`bench/install: ${m}\n`)

/** Logging wrappers of compilers and build tools, first on PATH. */
function compilerShims() {
  const dir = join(work, 'shims')
  mkdirSync(dir)
  const calls = join(work, 'compiler-calls.log')
  for (const tool of TOOLS) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).stdout.trim()
    const body = real ? `exec ${real} "$@"` : `echo "${tool}: not installed" >&2; exit 127`
    writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\n${body}\n`)
    chmodSync(join(dir, tool), 0o755)
  }
  return {dir, calls}
}

function pack(args) {
  mkdirSync(join(work, 'tarballs'), {recursive: true})
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', join(work, 'tarballs'), ...args], {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
  const [info] = JSON.parse(out)
  return {file: join(work, 'tarballs', info.filename), packedKB: Math.round(info.size / 1024), files: info.entryCount}
}

function install(name, tarballs, shims) {
  const project = join(work, name)
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({name: `bench-${name}`, version: '1.0.0', private: true}, null, 2)}\n`)
  const env = {...process.env, PATH: `${shims.dir}:${process.env.PATH}`, npm_config_cache: join(work, `cache-${name}`), npm_config_update_notifier: 'false'}
  writeFileSync(shims.calls, '')
  const started = process.hrtime.bigint()
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--dangerously-allow-all-scripts', ...tarballs], {cwd: project, env, encoding: 'utf8'})
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.status !== 0) throw new Error(`npm install of ${name} failed (exit ${result.status}):\n${result.stderr}`)
  const lock = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8'))
  const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'))
  const names = new Set(installed.map((p) => p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length)))
  const kb = Number(execFileSync('du', ['-sk', join(project, 'node_modules')], {encoding: 'utf8'}).split('\t')[0])
  const compilerCalls = readFileSync(shims.calls, 'utf8').split('\n').filter(Boolean)
  return {
    project,
    packages: installed.length,
    MB: Math.round((kb / 1024) * 10) / 10,
    seconds: Math.round(seconds * 10) / 10,
    compilerRan: compilerCalls.length > 0,
    compilerCalls: compilerCalls.length,
    withInstallScripts: installed.filter((p) => lock.packages[p].hasInstallScript).map((p) => p.slice(p.lastIndexOf('node_modules/') + 13)),
    serviceDependencies: SERVICE_DEPS.filter((d) => names.has(d)),
    ebadengine: (result.stderr.match(/EBADENGINE/g) ?? []).length > 0,
  }
}

/** The key service from this checkout on 127.0.0.1:0 with one user; resolves to {url, stop()}. */
async function startService(env) {
  const db = join(work, 'service', 'apikey.db')
  mkdirSync(join(work, 'service'))
  const bin = join(root, 'bin', 'run.js')
  const child = spawn(process.execPath, [bin, 'server', 'start', '--host', '127.0.0.1', '--port', '0', '--db', db, '--log-level', 'warn'], {env, stdio: ['ignore', 'pipe', 'inherit']})
  const url = await new Promise((resolve, reject) => {
    createInterface({input: child.stdout}).once('line', (line) => resolve(line.trim()))
    child.once('exit', (code) => reject(new Error(`the key service exited early (code ${code})`)))
    setTimeout(() => reject(new Error('the key service did not start within 60 s')), 60_000).unref()
  })
  execFileSync(process.execPath, [bin, 'server', 'users', 'add', 'ann', '--team', 'weather', '--team-name', 'Weather', '--team-contact', 'weather@example.com', '--password-stdin', '--db', db], {env, input: 'bench-password-123', stdio: ['pipe', 'ignore', 'inherit']})
  return {url, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')))}
}

/** `apikey login` + `apikey init` (and `apikey server start`) from the CLI's own install. */
async function initFromInstall(project) {
  const home = join(work, 'home')
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-dbus')}`,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
    NO_COLOR: '1',
  }
  const service = await startService(env)
  try {
    const apikey = join(project, 'node_modules', '.bin', 'apikey')
    const run = (args, input = '') => spawnSync(apikey, args, {cwd: project, env, input, encoding: 'utf8'})
    execFileSync('git', ['init', '-q', '-b', 'main'], {cwd: project, env})
    const login = run(['login', '--server', service.url, '--username', 'ann', '--password-stdin', '--json'], 'bench-password-123')
    const init = run(['init', '--app', 'weather-app', '--contact', 'ann@example.com', '--yes', '--json'])
    const whoami = run(['whoami', '--json'])
    const serverStart = run(['server', 'start', '--json'])
    const envFile = existsSync(join(project, '.env')) ? readFileSync(join(project, '.env'), 'utf8') : ''
    return {
      login: login.status,
      init: init.status,
      initStderr: init.status === 0 ? undefined : init.stderr + init.stdout,
      keyStored: /^API_KEY=ak_weather-app_dev_/m.test(envFile),
      whoami: whoami.status === 0 ? JSON.parse(whoami.stdout).lookup.state : `exit ${whoami.status}`,
      serverStartExit: serverStart.status,
      serverStartNamesPackage: serverStart.stdout.includes('@apikey/server'),
    }
  } finally {
    await service.stop()
  }
}

try {
  const shims = compilerShims()
  log('npm pack apikey, @apikey/verify' + (withServer ? ', @apikey/server' : ''))
  const tarballs = {cli: pack([]), verify: pack(['-w', '@apikey/verify']), ...(withServer ? {server: pack(['-w', '@apikey/server'])} : {})}
  log('installing the CLI into an empty project')
  const cli = install('cli', [tarballs.cli.file], shims)
  log('installing the verifier into an empty project')
  const verify = install('verify', [tarballs.verify.file], shims)
  const verifyLoads = spawnSync(process.execPath, ['--input-type=module', '-e', "const m = await import('@apikey/verify'); process.stdout.write(typeof m.createVerifier)"], {cwd: verify.project, encoding: 'utf8'}).stdout === 'function'
  let server
  if (withServer) {
    log('installing the CLI and the key service plugin into an empty project')
    server = install('server', [tarballs.cli.file, tarballs.server.file], shims)
  }
  log('apikey login + init from the CLI install, against a key service from this checkout')
  const fromInstall = await initFromInstall(cli.project)
  const strip = ({project, ...rest}) => rest
  const result = {
    method: 'npm pack; npm install TARBALL into an empty project with an empty npm cache and --dangerously-allow-all-scripts; compiler = logging wrappers of cc/gcc/g++/c++/make/python3/node-gyp first on PATH',
    npm: execFileSync('npm', ['--version'], {encoding: 'utf8'}).trim(),
    tarballs: Object.fromEntries(Object.entries(tarballs).map(([k, v]) => [k, {packedKB: v.packedKB, files: v.files}])),
    cli: strip(cli),
    verify: {...strip(verify), dependencies: verify.packages - 1, loads: verifyLoads},
    ...(server ? {server: strip(server)} : {}),
    fromInstall,
    targets: {
      verifyNoDependencies: verify.packages - 1 === 0,
      cliAtMost25MB: cli.MB <= 25,
      cliNoCompiler: !cli.compilerRan,
      cliNoServiceDependencies: cli.serviceDependencies.length === 0,
      noEbadengine: !cli.ebadengine && !verify.ebadengine && !(server?.ebadengine ?? false),
      initFromInstall: fromInstall.init === 0 && fromInstall.keyStored,
      serverCommandNamesPackage: fromInstall.serverStartExit === 1 && fromInstall.serverStartNamesPackage,
    },
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} finally {
  rmSync(work, {recursive: true, force: true})
}
