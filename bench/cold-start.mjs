#!/usr/bin/env node
// Cold start of every CLI command against `node -e 0`, timed by hyperfine. Prints one JSON object.
//
// Commands: `--version`, `--help`, `X --help` for every command and topic of oclif.manifest.json,
// `status` (no login: nothing to ask), `status` signed in (asks the service), `whoami KEY --server URL`
// (a real lookup) — both against a key service started from this checkout, in its own process — and
// `whoami --offline KEY`.
// Rounds (BENCH_ROUNDS, default 5): each round is one hyperfine run of every command
// (`-N --warmup 1 --runs BENCH_COLD_RUNS`, default 3), node -e 0 first; a command's ratio in a
// round is its mean over the mean of node -e 0 in that round; reported: median and min–max over
// the rounds. Target: ≤ 2x for every command.
import {execFileSync} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {QUICK, load1, loadService, prepare, root, signIn, size, spread, startService} from './lib.mjs'

const rounds = Math.max(1, size('BENCH_ROUNDS', 5, 2))
const runs = Math.max(1, size('BENCH_COLD_RUNS', 3, 2))
const bin = join(root, 'bin', 'run.js')
const node = process.execPath

const svc = await loadService()
const prepared = await prepare(svc, 1, 1)
const server = await startService(prepared.dbPath)
const key = prepared.keys[0]
const session = await signIn(server.url)
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const ids = Object.keys(manifest.commands).sort()
const topics = Object.keys(pkg.oclif?.topics ?? {}).sort()
const words = (id) => id.split(':').join(' ')
/** name → argv (after node), in the order shown. */
const commands = [
  ['node -e 0', ['-e', '0']],
  ['apikey --version', [bin, '--version']],
  ['apikey --help', [bin, '--help']],
  ...topics.map((t) => [`apikey ${t} --help`, [bin, t, '--help']]),
  ...ids.map((id) => [`apikey ${words(id)} --help`, [bin, ...words(id).split(' '), '--help']]),
  ['apikey status', [bin, 'status']],
  // Signed in (APIKEY_TOKEN, through env(1): hyperfine -N sets no variables): status asks the service who is signed in.
  ['apikey status (signed in: asks a running service)', [bin, 'status', '--server', server.url], {APIKEY_TOKEN: session}],
  ['apikey whoami KEY (lookup on a running service)', [bin, 'whoami', key, '--server', server.url]],
  ['apikey whoami --offline KEY', [bin, 'whoami', '--offline', key]],
]
const env = {...process.env, HOME: prepared.dir, XDG_CONFIG_HOME: join(prepared.dir, 'config'), XDG_DATA_HOME: join(prepared.dir, 'data'), OCLIF_SKIP_NEW_VERSION_CHECK: 'true', NO_COLOR: '1'}
delete env.API_KEY
delete env.APIKEY_SERVER
// Every command must succeed as measured (a failing command can be fast for the wrong reason).
/** The command line for hyperfine (variables through env(1)). */
const line = ([, argv, vars]) => [...(vars === undefined ? [] : ['env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]), node, ...argv].join(' ')
for (const [name, argv, vars] of commands) {
  try {
    execFileSync(node, argv, {cwd: prepared.dir, env: {...env, ...vars}, stdio: 'ignore'})
  } catch (error) {
    console.error(`bench/cold-start.mjs: \`${name}\` exits ${error.status}; fix it before timing it`)
    process.exitCode = 1
  }
}
const date = new Date().toISOString()
const perRound = []
const json = join(prepared.dir, 'hyperfine.json')
for (let r = 0; r < rounds; r++) {
  console.error(`bench: cold start round ${r + 1}/${rounds} (${commands.length} commands)`)
  const args = ['-N', '--warmup', '1', '--runs', String(runs), '--export-json', json, '--style', 'none']
  for (const command of commands) args.push('-n', command[0], line(command))
  execFileSync('hyperfine', args, {cwd: prepared.dir, env, stdio: ['ignore', 'ignore', 'inherit']})
  const results = JSON.parse(readFileSync(json, 'utf8')).results
  perRound.push({load1: load1(), meanMs: Object.fromEntries(results.map((x) => [x.command, x.mean * 1000]))})
}
await server.close()
rmSync(prepared.dir, {recursive: true, force: true})
const baseName = commands[0][0]
const out = commands.map(([name]) => {
  const ratio = spread(perRound.map((r) => r.meanMs[name] / r.meanMs[baseName]))
  return {command: name, meanMs: spread(perRound.map((r) => r.meanMs[name]), 1), ratio, met: name === baseName ? null : ratio.median <= 2}
})
console.log(JSON.stringify({date, quick: QUICK, rounds, runsPerRound: runs, loadAverage: spread(perRound.map((r) => r.load1)), commands: out, met: out.every((c) => c.met !== false)}, null, 2))
