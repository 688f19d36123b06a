/**
 * The nginx auth-request example against REAL nginx with examples/nginx/nginx.conf: the auth-request
 * form answers only 204, 401 or 403, and the example maps them to what clients
 * should see — the protected API with attribution headers (and neither key header), a problem+json 401
 * of its own type for a missing, malformed, unknown, expired or revoked key naming the command the
 * key service is configured with and its docs page, a problem+json 403 naming the command for a key of
 * an accepted environment (a second nginx whose verifier token accepts only prod
 * keys), a real 429 with Retry-After, 503 for an outage.
 * nginx runs as a child process (`-p <tmp> -c <conf> -g 'daemon off; master_process off;'`)
 * on a free loopback port in front of the real key service and a trivial upstream.
 * Skipped with a message when nginx is not installed (apt-get install -y nginx-light).
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, request as httpRequest, type IncomingHttpHeaders, type Server} from 'node:http'
import {connect, type AddressInfo} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import BetterSqlite3 from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {checksumOf} from '../../src/core/key-format.js'
import {startHarness, type Harness} from './helpers.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/nginx/nginx.conf', import.meta.url))
const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0) ?? (spawnSync('nginx', ['-v']).status === 0 ? 'nginx' : undefined)
if (NGINX === undefined) console.warn('nginx.test.ts: SKIPPED — nginx is not installed (apt-get install -y nginx-light); the nginx example is not verified in this run')

/** The key service's public URL in these tests (its --public-url). */
const PUBLIC_URL = 'https://apikey.acme.test'

/** A well-formed key with a valid checksum that was never issued. */
function wellFormed(fill: string): string {
  const body = `ak_weather-app_dev_${fill.repeat(30)}`
  return body + checksumOf(body)
}

/** Replaces `from` in `text`, failing loudly when the example no longer contains it. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from)
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`examples/nginx/nginx.conf: expected exactly one "${from}"`)
  return text.slice(0, at) + to + text.slice(at + from.length)
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr()}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`nginx did not listen on ${port}: ${stderr()}`)
}

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  body: any
}

/** A raw HTTP request (repeated headers allowed: give an array). */
function send(port: number, path: string, headers: Record<string, string | string[]> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: '127.0.0.1', port, path, method: 'GET', headers, agent: false}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
        resolve({status: res.statusCode ?? 0, headers: res.headers, text, body})
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** A running nginx with the example's configuration. */
interface Nginx {
  child: ChildProcess
  port: number
  /** Its stderr and error log so far. */
  errors(): string
}

/**
 * Starts nginx with examples/nginx/nginx.conf in `dir` (its own pid, logs and temp paths), in
 * front of the key service at `service` and the upstream on `upstreamPort`, sending `token`.
 */
async function startNginx(dir: string, service: URL, upstreamPort: number, token: string): Promise<Nginx> {
  mkdirSync(dir, {recursive: true})
  const port = await freePort()
  writeFileSync(join(dir, 'apikey-verifier-token.conf'), `proxy_set_header X-Verifier-Token ${token};\n`, {mode: 0o600})
  let conf = readFileSync(EXAMPLE, 'utf8')
  conf = replaceOnce(conf, 'error_log /var/log/nginx/apikey-error.log warn;', `error_log ${join(dir, 'nginx-error.log')} warn;`)
  conf = replaceOnce(conf, 'pid /run/nginx-apikey.pid;', `pid ${join(dir, 'nginx.pid')};`)
  conf = replaceOnce(conf, 'server 127.0.0.1:4000;', `server ${service.host};`)
  conf = replaceOnce(conf, 'server 127.0.0.1:8080;', `server 127.0.0.1:${upstreamPort};`)
  conf = replaceOnce(conf, 'listen 127.0.0.1:8000;', `listen 127.0.0.1:${port};`)
  conf = replaceOnce(conf, 'include /etc/nginx/apikey-verifier-token.conf;', `include ${join(dir, 'apikey-verifier-token.conf')};`)
  // Writable temp paths for an unprivileged run (the example keeps the distribution's).
  conf = replaceOnce(
    conf,
    '  access_log off;',
    ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t === 'body' ? 'client_body' : t}_temp_path ${join(dir, `nginx-${t}`)};`).join('\n') + '\n  access_log off;',
  )
  const confPath = join(dir, 'nginx.conf')
  writeFileSync(confPath, conf)
  const child = spawn(NGINX as string, ['-p', dir, '-c', confPath, '-g', 'daemon off; master_process off;'], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const errors = (): string => {
    let log = ''
    try {
      log = readFileSync(join(dir, 'nginx-error.log'), 'utf8')
    } catch {
      // not written yet
    }
    return stderr + log
  }
  await waitForPort(port, child, errors)
  return {child, port, errors}
}

async function stopNginx(nginx: Nginx | undefined): Promise<void> {
  if (nginx === undefined || nginx.child.exitCode !== null) return
  const exited = new Promise((resolve) => nginx.child.once('exit', resolve))
  nginx.child.kill('SIGTERM')
  await exited
}

describe.skipIf(NGINX === undefined)('real nginx with examples/nginx/nginx.conf', () => {
  let h: Harness
  let nginx: Nginx
  /** The same configuration with a verifier token that accepts only prod keys. */
  let prodNginx: Nginx
  let upstream: Server
  let port: number
  let ann: string
  let key: {id: string; key: string}
  let limited: {id: string; key: string}
  const seen: IncomingHttpHeaders[] = []

  beforeAll(async () => {
    // Behind a gateway the service cannot know the URL callers reach it at: --public-url says.
    h = await startHarness({settings: {cliPackage: '@acme/apikey', publicUrl: PUBLIC_URL}})
    await h.addUser('ann', 'mobile')
    ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    key = await h.issueKey(ann, 'weather-app')
    limited = await h.issueKey(ann, 'weather-app')
    expect((await h.request('PUT', `/v1/keys/${limited.id}/limit`, {token: ann, body: {rpm: 1}})).status).toBe(200)
    const token = await h.addVerifier('nginx')
    const prodToken = await h.addVerifier('nginx-prod', {envs: ['prod']})

    upstream = createServer((req, res) => {
      seen.push(req.headers)
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({ok: true, path: req.url}))
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const upstreamPort = (upstream.address() as AddressInfo).port
    const service = new URL(h.url)
    nginx = await startNginx(h.dir, service, upstreamPort, token)
    port = nginx.port
    prodNginx = await startNginx(join(h.dir, 'prod'), service, upstreamPort, prodToken)
  })

  afterAll(async () => {
    await stopNginx(nginx)
    await stopNginx(prodNginx)
    await new Promise((resolve) => upstream?.close(resolve))
    await h?.cleanup()
  })

  it('VALID: the protected API answers, with attribution headers nginx set (clients cannot forge them) and no key; RateLimit-* on the response', async () => {
    seen.length = 0
    const res = await send(port, '/v1/forecast/berlin?units=metric', {'x-api-key': key.key, 'x-apikey-team': 'forged', 'user-agent': 'okhttp/4.12.0'})
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ok: true, path: '/v1/forecast/berlin?units=metric'})
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({'x-apikey-app': 'weather-app', 'x-apikey-team': 'mobile', 'x-apikey-env': 'dev', 'x-apikey-key-id': key.id})
    expect(seen[0]?.['x-api-key']).toBeUndefined()
    expect([res.headers['ratelimit-limit'], res.headers['ratelimit-remaining']]).toEqual(['60', '59'])
  })

  it('a key in Authorization: Bearer passes and reaches the API in neither header', async () => {
    seen.length = 0
    const res = await send(port, '/v1/forecast/oslo', {authorization: `Bearer ${key.key}`})
    expect(res.status).toBe(200)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.authorization).toBeUndefined()
    expect(seen[0]?.['x-api-key']).toBeUndefined()
    expect(JSON.stringify(seen[0])).not.toContain(key.key)
  })

  it.each([
    ['no key', {}, 'missing_key', 'Missing API key'],
    ['an empty key', {'x-api-key': ''}, 'missing_key', 'Missing API key'],
    ['a malformed key', {'x-api-key': 'ak_weather-app_dev_nope'}, 'malformed_key', 'Malformed API key'],
    ['two different keys', {'x-api-key': ['KEY', 'OTHER']}, 'malformed_key', 'Malformed API key'],
    ['an unknown key', {'x-api-key': 'UNKNOWN'}, 'key_not_found', 'API key not found'],
  ] as const)('%s → 401 problem+json %s naming the configured command and the docs page', async (_name, headers, code, title) => {
    // UNKNOWN: well-formed, valid checksum, never issued — it reaches the lookup.
    const fill = (v: string) => (v === 'KEY' ? key.key : v === 'OTHER' ? limited.key : v === 'UNKNOWN' ? wellFormed('Q') : v)
    const filled = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(fill) : fill(v as string)]))
    seen.length = 0
    const res = await send(port, '/v1/forecast/berlin', filled)
    expect(res.status).toBe(401)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.body).toMatchObject({type: `tag:apikey,2025:problem:${code}`, title, status: 401, code, suggestions: ['npx --yes @acme/apikey init'], docsUrl: `${PUBLIC_URL}/docs`})
    expect(res.body.detail).toContain('npx --yes @acme/apikey init')
    expect(res.body.detail).not.toContain('npx apikey')
    expect(seen).toHaveLength(0)
  })

  it('FORBIDDEN: a dev key at a prod-only gateway → 403 problem+json naming the command for a prod key; the API never sees it; a prod key passes', async () => {
    seen.length = 0
    const res = await send(prodNginx.port, '/v1/orders', {'x-api-key': key.key})
    expect(res.status).toBe(403)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['retry-after']).toBeUndefined()
    expect(res.body).toEqual({
      type: 'tag:apikey,2025:problem:key_not_allowed',
      title: 'API key not allowed here',
      status: 403,
      code: 'key_not_allowed',
      detail: 'This is a dev key of weather-app; this API accepts only prod keys. Get one: apikey keys create --app weather-app --env prod',
      keyId: key.id,
      suggestions: ['apikey keys create --app weather-app --env prod'],
    })
    expect(seen).toHaveLength(0)

    const prod = await h.issueKey(ann, 'weather-app', {env: 'prod'})
    const ok = await send(prodNginx.port, '/v1/orders', {'x-api-key': prod.key})
    expect(ok.status).toBe(200)
    expect(seen[0]).toMatchObject({'x-apikey-app': 'weather-app', 'x-apikey-env': 'prod', 'x-apikey-key-id': prod.id})
    // The same dev key through the unscoped gateway still passes.
    expect((await send(port, '/v1/forecast/berlin', {'x-api-key': key.key})).status).toBe(200)
  })

  it('RATE_LIMITED → a real 429 with Retry-After and the RateLimit-* numbers', async () => {
    expect((await send(port, '/v1/alerts', {'x-api-key': limited.key})).status).toBe(200)
    const res = await send(port, '/v1/alerts', {'x-api-key': limited.key})
    expect(res.status).toBe(429)
    expect(res.headers['retry-after']).toBe('60')
    expect(res.headers['ratelimit-limit']).toBe('1')
    expect(res.headers['ratelimit-remaining']).toBe('0')
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.body).toMatchObject({type: 'tag:apikey,2025:problem:rate_limited', title: 'Too many requests', status: 429, code: 'rate_limited', retryAfterSeconds: 60})
  })

  it('REVOKED through the service → 401 at once, with its own title and the new-key command', async () => {
    const extra = await h.issueKey(ann, 'weather-app')
    expect((await send(port, '/', {'x-api-key': extra.key})).status).toBe(200)
    expect((await h.request('DELETE', `/v1/keys/${extra.id}`, {token: ann})).status).toBe(200)
    const res = await send(port, '/', {'x-api-key': extra.key})
    expect(res.status).toBe(401)
    expect(res.body).toMatchObject({type: 'tag:apikey,2025:problem:key_revoked', title: 'API key revoked', code: 'key_revoked', suggestions: ['npx --yes @acme/apikey init --new-key']})
    expect(res.body.detail).toMatch(/^This API key was revoked; .*Get a new key: npx --yes @acme\/apikey init --new-key \(see https:\/\/apikey\.acme\.test\/docs\)$/)
  })

  it('EXPIRED → 401 with its own title and the new-key command', async () => {
    const short = await h.issueKey(ann, 'weather-app', {env: 'dev', expiresAt: h.clock.now() + 60_000})
    h.clock.advance(60_000)
    const res = await send(port, '/', {'x-api-key': short.key})
    h.clock.advance(-60_000)
    expect(res.status).toBe(401)
    expect(res.body).toMatchObject({type: 'tag:apikey,2025:problem:key_expired', title: 'API key expired', code: 'key_expired', suggestions: ['npx --yes @acme/apikey init --new-key']})
    expect(res.body.detail).toMatch(/^This API key expired /)
  })

  it('a revoked or expired service key → 401 naming the command that issues a service key (keys create), not init --new-key', async () => {
    const revoked = await h.issueKey(ann, 'weather-app', {env: 'test', kind: 'service'})
    expect((await h.request('DELETE', `/v1/keys/${revoked.id}`, {token: ann})).status).toBe(200)
    const r = await send(port, '/', {'x-api-key': revoked.key})
    expect(r.status).toBe(401)
    expect(r.body).toMatchObject({code: 'key_revoked', suggestions: ['apikey keys create --app weather-app --env test']})
    expect(r.body.detail).toContain('Get a new key: apikey keys create --app weather-app --env test (see')

    const short = await h.issueKey(ann, 'weather-app', {env: 'test', kind: 'service', expiresAt: h.clock.now() + 60_000})
    h.clock.advance(60_000)
    const e = await send(port, '/', {'x-api-key': short.key})
    h.clock.advance(-60_000)
    expect(e.status).toBe(401)
    expect(e.body).toMatchObject({code: 'key_expired', suggestions: ['apikey keys create --app weather-app --env test']})
  })

  it('the key store failing (UNAVAILABLE) → 503 with Retry-After, never 500', async () => {
    const raw = new BetterSqlite3(h.dbPath)
    raw.exec('alter table api_keys rename to api_keys_hidden')
    try {
      const res = await send(port, '/', {'x-api-key': wellFormed('W')})
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(res.body).toMatchObject({type: 'tag:apikey,2025:problem:verification_unavailable', title: 'Verification unavailable', status: 503, code: 'verification_unavailable', reason: 'UNAVAILABLE'})
    } finally {
      raw.exec('alter table api_keys_hidden rename to api_keys')
      raw.close()
    }
  })

  it('the key service unreachable → 503, never 500', async () => {
    await h.stop()
    const res = await send(port, '/', {'x-api-key': key.key})
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('1')
    expect(res.body).toMatchObject({code: 'verification_unavailable', reason: 'UNAVAILABLE'})
  })
})

describe.skipIf(NGINX === undefined)('real nginx with examples/nginx/nginx.conf and the default service settings (no --public-url)', () => {
  let h: Harness
  let nginx: Nginx
  let upstream: Server

  beforeAll(async () => {
    h = await startHarness()
    upstream = createServer((_req, res) => res.writeHead(200).end('{}'))
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    nginx = await startNginx(h.dir, new URL(h.url), (upstream.address() as AddressInfo).port, await h.addVerifier('nginx'))
  })

  afterAll(async () => {
    await stopNginx(nginx)
    await new Promise((resolve) => upstream?.close(resolve))
    await h?.cleanup()
  })

  it('the docs link of a 401 answers 200 through the gateway, as HTML and as Markdown, without a key', async () => {
    const res = await send(nginx.port, '/v1/forecast/paris')
    expect(res.status).toBe(401)
    const docsUrl: string = res.body.docsUrl
    expect(res.body.detail).toContain(`(see ${docsUrl})`)
    // The link as a caller resolves it: against the gateway it came from.
    const link = new URL(docsUrl, `http://127.0.0.1:${nginx.port}/v1/forecast/paris`)
    expect(link.origin).toBe(`http://127.0.0.1:${nginx.port}`)
    const html = await send(nginx.port, link.pathname + link.search)
    expect(html.status, nginx.errors()).toBe(200)
    expect(html.headers['content-type']).toMatch(/^text\/html/)
    expect(html.text).toContain('apikey init')
    const markdown = await send(nginx.port, link.pathname + link.search, {accept: 'text/markdown'})
    expect(markdown.status).toBe(200)
    expect(markdown.headers['content-type']).toMatch(/^text\/markdown/)
  })
})
