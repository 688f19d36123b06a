#!/usr/bin/env node
// Benchmarks (`npm run bench`): each result is a ratio against a baseline
// measured in the same run, on the same machine. Writes docs/benchmarks.md.
//
// cold start: `apikey --version` and `apikey whoami --offline KEY` against
// `node -e 0`, timed by hyperfine (target: at most 2.5x).
// install: each package packed and installed into an empty project (bench/install.mjs).
//
// Options: `--only install` runs only the install section and replaces it in
// docs/benchmarks.md (no hyperfine needed); `--with-server` also installs the
// key service plugin (compiles better-sqlite3 where no prebuilt binary downloads).
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import {cpus, totalmem, tmpdir, hostname, loadavg} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {checksumOf} from '../dist/core/key-format.js'
import {signInSection} from './sign-in-section.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'bin', 'run.js')
const out = join(root, 'docs', 'benchmarks.md')

const args = process.argv.slice(2)
const onlyAt = args.findIndex((a) => a === '--only' || a.startsWith('--only='))
const only = onlyAt < 0 ? undefined : args[onlyAt].includes('=') ? args[onlyAt].slice('--only='.length) : args[onlyAt + 1]
if (only !== undefined && only !== 'install') {
  console.error(`bench: --only ${only}: unknown section (known: install)`)
  process.exit(2)
}
const withServer = args.includes('--with-server')

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}
const machine = () => {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch} (${hostname()}).\nDate: ${new Date().toISOString()}.`
}

function runJson(script, extraEnv = {}, scriptArgs = []) {
  console.error(`\nbench: node ${script} ${scriptArgs.join(' ')}`)
  const text = execFileSync(process.execPath, [join(root, 'bench', script), ...scriptArgs], {cwd: root, env: {...process.env, ...extraEnv}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024})
  return JSON.parse(text.slice(text.indexOf('{')))
}

const INSTALL_HEADING = '## Install footprint: each user installs only their part'

/** The install section of docs/benchmarks.md from bench/install.mjs's result. */
function installSection(r) {
  const yes = (b) => (b ? 'yes' : 'no')
  const met = (b) => (b ? 'met' : 'NOT met')
  const row = (name, x, target) =>
    `| ${name} | ${x.packages} | ${x.MB} | ${x.seconds} | ${yes(x.compilerRan)} | ${x.serviceDependencies.length === 0 ? 'none' : x.serviceDependencies.join(', ')} | ${yes(x.ebadengine)} | ${target} |`
  return `${INSTALL_HEADING}

${machine()} npm ${r.npm}. Load average when the section was written: ${loadavg()[0].toFixed(1)} (seconds depend on it and on the network).
Method: ${r.method}. Packages include the installed package itself; MB = \`du -sk node_modules\`; seconds = wall time of \`npm install\` (downloads included).
Reproduce: \`npm run bench -- --only install\` (add \`--with-server\` for the key service row).

| install | packages | MB on disk | seconds | compiler ran | service deps | EBADENGINE | target |
|---|---|---|---|---|---|---|---|
${row('\`apikey\` (CLI: app developers, CI)', r.cli, `≤ 25 MB, no compiler, no service deps: ${met(r.targets.cliAtMost25MB && r.targets.cliNoCompiler && r.targets.cliNoServiceDependencies)}`)}
${row('\`@apikey/verify\` (protected APIs)', r.verify, `0 dependencies: ${met(r.targets.verifyNoDependencies)} (${r.verify.dependencies})`)}
${r.server ? row('\`apikey\` + \`@apikey/server\` (key service host)', r.server, '—') + '\n\nUntil the key service became its own package (\`@apikey/server\`), installing the CLI alone installed what the last row installs, compiler included.\n' : ''}
Packed tarballs: ${Object.entries(r.tarballs).map(([k, v]) => `${k} ${v.packedKB} KB (${v.files} files)`).join(', ')}.
From the CLI's install, against a key service started from this checkout: \`apikey login\` exit ${r.fromInstall.login}, \`apikey init\` exit ${r.fromInstall.init} (key stored in .env: ${yes(r.fromInstall.keyStored)}), \`apikey whoami\` lookup ${r.fromInstall.whoami}; \`apikey server start\` exit ${r.fromInstall.serverStartExit} naming @apikey/server: ${yes(r.fromInstall.serverStartNamesPackage)}.
`
}

if (only === 'install') {
  const install = runJson('install.mjs', {}, withServer ? ['--with-server'] : [])
  const section = installSection(install)
  const doc = readFileSync(out, 'utf8')
  const start = doc.indexOf(INSTALL_HEADING)
  let next
  if (start >= 0) {
    const end = doc.indexOf('\n## ', start + INSTALL_HEADING.length)
    next = doc.slice(0, start) + section + (end < 0 ? '' : doc.slice(end))
  } else {
    const at = doc.indexOf('\n## ', doc.indexOf('\n## ') + 1)
    next = at < 0 ? `${doc}\n${section}` : `${doc.slice(0, at + 1)}${section}\n${doc.slice(at + 1)}`
  }
  writeFileSync(out, next)
  console.log(`\n${section}\nwritten to ${out}`)
  process.exit(Object.values(install.targets).every(Boolean) ? 0 : 1)
}

if (!have('hyperfine')) {
  console.error('bench: hyperfine is not installed (apt-get install -y hyperfine)')
  process.exit(1)
}

const work = mkdtempSync(join(tmpdir(), 'apikey-bench-'))
const body = 'ak_weather-app_dev_' + 'x7Kq'.repeat(7) + 'ab'
const key = body + checksumOf(body)
const env = {...process.env, HOME: work, XDG_CONFIG_HOME: join(work, 'c'), OCLIF_SKIP_NEW_VERSION_CHECK: 'true', NO_COLOR: '1'}
delete env.API_KEY
const node = process.execPath
const commands = {
  baseline: `${node} -e 0`,
  version: `${node} ${bin} --version`,
  whoamiOffline: `${node} ${bin} whoami --offline ${key}`,
  // For reference: the same --version through oclif (what every other command pays).
  oclifVersion: `env APIKEY_NO_FAST_PATH=1 ${node} ${bin} --version`,
}
const json = join(work, 'hyperfine.json')
execFileSync(
  'hyperfine',
  ['-N', '--warmup', '5', '--min-runs', '30', '--export-json', json, '-n', 'node -e 0', commands.baseline, '-n', 'apikey --version', commands.version, '-n', 'apikey whoami --offline KEY', commands.whoamiOffline, '-n', 'apikey --version via oclif (APIKEY_NO_FAST_PATH=1)', commands.oclifVersion],
  {cwd: work, env, stdio: ['ignore', 'inherit', 'inherit']},
)
const results = JSON.parse(readFileSync(json, 'utf8')).results
rmSync(work, {recursive: true, force: true})
const [base, version, whoami, oclif] = results
const ms = (r) => (r.mean * 1000).toFixed(1)
const sd = (r) => (r.stddev * 1000).toFixed(1)
const ratio = (r) => r.mean / base.mean
const row = (r, target) => `| ${r.command} | ${ms(r)} ± ${sd(r)} | ${(r.median * 1000).toFixed(1)} | ${ratio(r).toFixed(2)}x | ${target} | ${ratio(r) <= 2.5 || target === '—' ? 'met' : 'NOT met'} |`

const cpu = cpus()[0]?.model ?? 'unknown CPU'
const section = `## Cold start

Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch} (${hostname()}).
Date: ${new Date().toISOString()}.
Method: \`hyperfine -N --warmup 5 --min-runs 30\`, the three commands in one run; ratio = mean / mean of \`node -e 0\`.
Reproduce: \`npm run bench\`.

| command | mean ± σ (ms) | median (ms) | ratio | target | |
|---|---|---|---|---|---|
${row(base, '—')}
${row(version, '≤ 2.5x')}
${row(whoami, '≤ 2.5x')}
${row(oclif, '—')}

\`--version\` and \`whoami --offline KEY\` take a fast path in \`bin/run.js\` that skips loading oclif
(src/fast-path.ts; same output, checked by test/commands/fast-path.e2e.test.ts). The last row shows
what loading oclif costs every other command.
`

// The verifier (in-process cache hits vs parseKey) and the key service (/v1/verify vs a trivial
// route, 1M vs 1k keys, usage ingestion) print JSON; each is run as its own process.
const verifier = runJson('verifier.mjs')
const service = runJson('service.mjs')
const signIn = runJson('sign-in.mjs')
const install = runJson('install.mjs', {}, withServer ? ['--with-server'] : [])
const fmt = (n) => Math.round(n).toLocaleString('en-US')

const verifierSection = `## Verifier library: cache hits

Method: ${verifier.method}; the baseline is \`parseKey\` (the offline checksum check every verification starts with), in the same process.

| measure | per second (best) | ratio to parseKey | target |
|---|---|---|---|
| parseKey alone | ${fmt(verifier.parseKeyPerSecond.best)} | 1.00 | — |
| cache hit, usage events recorded and sent | ${fmt(verifier.cacheHitPerSecond.best)} | ${verifier.ratioCacheHitToParseKey} | ≥ 500,000/s: ${verifier.target.metWithUsage ? 'met' : 'NOT met'} |
| cache hit, usage off | ${fmt(verifier.cacheHitNoUsagePerSecond.best)} | ${verifier.ratioCacheHitNoUsageToParseKey} | ≥ 500,000/s: ${verifier.target.metWithoutUsage ? 'met' : 'NOT met'} |

Misses (each asks a local stand-in of /v1/verify): node:http keep-alive vs fetch = ${verifier.ratioNodeHttpToFetch.concurrency1}x at 1 in flight, ${verifier.ratioNodeHttpToFetch.concurrency32}x at 32.
`

const serviceSection = `## Key service: /v1/verify throughput, latency at 1M keys, usage ingestion

Raw results of \`node bench/service.mjs\` (see the comment at its top for the method):

\`\`\`json
${JSON.stringify(service, null, 2)}
\`\`\`
`

// Hand-written analysis (profiles, experiments) kept across runs.
const analysis = readFileSync(join(root, 'bench', 'analysis.md'), 'utf8')

const doc = `# Benchmarks

Every number below is measured by \`npm run bench\` in one run on the machine named in the first
section; ratios are against a baseline measured in the same run. Tests never assert on time.

${section}
${installSection(install)}
${verifierSection}
${serviceSection}
${signInSection(signIn)}
${analysis}`
writeFileSync(out, doc)
console.log(`
${section}
${installSection(install)}
${verifierSection}
${serviceSection}
${signInSection(signIn)}
written to ${out}`)
if (ratio(version) > 2.5 || ratio(whoami) > 2.5 || !Object.values(install.targets).every(Boolean)) process.exitCode = 1
