#!/usr/bin/env node
// The main job end to end, on the embedded default (SQLite in a temp dir):
// start the key service on a free port, create a user and team, make a scratch
// git project, run the real `apikey login` and `apikey init` without prompts,
// show that .env holds the key and git ignores it, run `apikey whoami`, stop.
// Then a protected API (examples/protected-api, using apikey/verify) is called
// without and with the key (through `apikey run`), and `apikey usage` shows the
// request attributed to the app. Touches nothing outside a temp directory.
import {spawn, execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createInterface} from 'node:readline'

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'apikey-demo-'))
const home = join(root, 'home')
const project = join(root, 'weather-app')
const db = join(root, 'service', 'apikey.db')
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  XDG_DATA_HOME: join(home, '.local/share'),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Demo',
  GIT_AUTHOR_EMAIL: 'demo@example.com',
  GIT_COMMITTER_NAME: 'Demo',
  GIT_COMMITTER_EMAIL: 'demo@example.com',
  OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
}
delete env.APIKEY_TOKEN
delete env.APIKEY_SERVER
delete env.API_KEY
const PASSWORD = 'demo-password-123'

const step = (text) => process.stdout.write(`\n\u001B[1m$ ${text}\u001B[0m\n`)
function apikey(args, {input, cwd = project} = {}) {
  step(`apikey ${args.join(' ')}${input ? '   (password on stdin)' : ''}`)
  execFileSync(process.execPath, [BIN, ...args], {cwd, env, input: input ?? '', stdio: ['pipe', 'inherit', 'inherit']})
}
function sh(cmd, args, cwd = project) {
  step(`${cmd} ${args.join(' ')}`)
  const out = execFileSync(cmd, args, {cwd, env, encoding: 'utf8'})
  process.stdout.write(out)
  return out
}

let server
let api
async function main() {
  execFileSync('mkdir', ['-p', home, project, join(root, 'service')])
  step(`apikey server start --port 0 --db ${db}`)
  server = spawn(process.execPath, [BIN, 'server', 'start', '--port', '0', '--db', db, '--log-level', 'warn'], {cwd: root, env, stdio: ['ignore', 'pipe', 'inherit']})
  const url = await new Promise((resolve, reject) => {
    const rl = createInterface({input: server.stdout})
    rl.once('line', (line) => resolve(line.trim()))
    server.once('exit', (code) => reject(new Error(`the key service exited early (code ${code})`)))
    setTimeout(() => reject(new Error('the key service did not start within 30 s')), 30_000).unref()
  })
  process.stdout.write(`${url}\n`)

  apikey(['server', 'users', 'add', 'ann', '--team', 'weather', '--team-name', 'Weather', '--team-contact', 'weather@example.com', '--password-stdin', '--db', db], {input: PASSWORD, cwd: root})

  sh('git', ['init', '-q', '-b', 'main'])
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({name: 'weather-app', version: '1.0.0'}, null, 2)}\n`)
  writeFileSync(join(project, '.env'), '# local settings\nPORT=3000\n')
  sh('git', ['add', 'package.json'])
  sh('git', ['commit', '-q', '-m', 'initial'])

  apikey(['login', '--server', url, '--username', 'ann', '--password-stdin'], {input: PASSWORD})
  apikey(['init', '--app', 'weather-app', '--contact', 'ann@example.com', '--yes'])

  step('cat .env   (key masked here)')
  process.stdout.write(readFileSync(join(project, '.env'), 'utf8').replace(/(_dev_[0-9A-Za-z]{4})[0-9A-Za-z]{32}/, '$1…'))
  sh('git', ['check-ignore', '-v', '.env'])
  sh('git', ['status', '--short'])
  apikey(['whoami'])
  apikey(['status'])

  // The protected API: a verifier token for it, the sample API using apikey/verify, calls with and without the key.
  step(`apikey server verifiers add weather-api --db ${db}`)
  const verifierToken = execFileSync(process.execPath, [BIN, 'server', 'verifiers', 'add', 'weather-api', '--db', db], {cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']}).trim()
  process.stdout.write(`${verifierToken.slice(0, 8)}…   (printed once; masked here)\n`)
  step('node examples/protected-api/server.mjs   (PORT=0, APIKEY_SERVICE_URL, APIKEY_VERIFIER_TOKEN)')
  api = spawn(process.execPath, [fileURLToPath(new URL('../examples/protected-api/server.mjs', import.meta.url))], {
    cwd: root,
    env: {...env, PORT: '0', APIKEY_SERVICE_URL: url, APIKEY_VERIFIER_TOKEN: verifierToken},
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const apiUrl = await new Promise((resolve, reject) => {
    const rl = createInterface({input: api.stdout})
    rl.once('line', (line) => resolve(JSON.parse(line).url))
    api.once('exit', (code) => reject(new Error(`the protected API exited early (code ${code})`)))
  })
  process.stdout.write(`${apiUrl}\n`)
  step(`curl ${apiUrl}/v1/forecast/paris   (no key)`)
  const anonymous = await fetch(`${apiUrl}/v1/forecast/paris`)
  process.stdout.write(`${anonymous.status} ${JSON.stringify(await anonymous.json())}\n`)
  if (anonymous.status !== 401) throw new Error('the protected API let a request without a key through')
  const call = `fetch(${JSON.stringify(apiUrl + '/v1/forecast/paris')}, {headers: {'x-api-key': process.env.API_KEY, 'x-client-app': 'com.example.weather', 'x-client-version': '1.0.0'}}).then(async (r) => { console.log(r.status, JSON.stringify(await r.json())); process.exitCode = r.status === 200 ? 0 : 1 })`
  apikey(['run', '--', process.execPath, '-e', call])
  step('stopping the protected API (SIGTERM: flushes usage to the key service)')
  await new Promise((resolve) => {
    api.once('exit', resolve)
    api.kill('SIGTERM')
  })
  api = undefined
  apikey(['usage'])

  step('stopping the key service (SIGTERM)')
  const code = await new Promise((resolve) => {
    server.once('exit', (c) => resolve(c))
    server.kill('SIGTERM')
  })
  server = undefined
  if (code !== 0) throw new Error(`the key service exited with ${code}`)
  process.stdout.write('stopped cleanly\n\n\u001B[32mdemo finished: the key is in a gitignored .env, whoami attributes it to weather-app / weather, and the protected API traffic shows up in apikey usage\u001B[0m\n')
}

main()
  .catch((error) => {
    process.stderr.write(`\ndemo failed: ${error.message}\n`)
    process.exitCode = 1
  })
  .finally(() => {
    server?.kill('SIGKILL')
    api?.kill('SIGKILL')
    rmSync(root, {recursive: true, force: true})
  })
