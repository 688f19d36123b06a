/**
 * Test harness for the key service: the real server via `startServer` on
 * 127.0.0.1:0, a real SQLite file in a fresh temp dir, an injected clock, and
 * every log line captured.
 */
import {rm} from 'node:fs/promises'
import {request as httpRequest} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {tempDir as tempDirOf} from '../helpers/temp.js'
import {startServer, type RunningServer, type StartServerOptions} from '../../src/server/main.js'
import {addUser, type AddUserResult} from '../../src/server/services/users.js'
import {addVerifier, revokeVerifier} from '../../src/server/services/verifiers.js'
import type {ScryptCost} from '../../src/server/settings.js'
import type {LogLevel} from '../../src/server/app.js'

/** A cheap scrypt cost so suites with many sign-ins stay fast (the default is exercised in its own test). */
export const TEST_SCRYPT: ScryptCost = {N: 2 ** 10, r: 8, p: 1}
export const PASSWORD = 'correct horse battery staple'
/** 2030-01-01T00:00:00Z. */
export const T0 = Date.UTC(2030, 0, 1)

/** A clock tests move by hand. */
export class TestClock {
  constructor(public t: number = T0) {}
  now(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
}

/** A temp directory removed by {@link Harness.cleanup}. */
export async function tempDir(): Promise<string> {
  return tempDirOf('apikey-server-test-')
}

/** An HTTP answer. */
export interface Answer<T = any> {
  status: number
  headers: Headers
  body: T
  text: string
}

/** Options of {@link startHarness}. */
export interface HarnessOptions extends Omit<StartServerOptions, 'dbPath' | 'clock' | 'logStream'> {
  dir?: string
  clock?: TestClock
}

/** A running service plus helpers. */
export interface Harness {
  server: RunningServer
  url: string
  dir: string
  dbPath: string
  clock: TestClock
  /** Every log line written so far. */
  logs: string[]
  /**
   * Sends a request. `from`: the client's source address, any of 127.0.0.0/8 (all local on
   * Linux), so the service sees different client addresses; default 127.0.0.1.
   */
  request<T = any>(method: string, path: string, options?: {token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; from?: string}): Promise<Answer<T>>
  /** Creates a user (and team) directly in the database, as `apikey server users add` does. */
  addUser(username: string, team: string, options?: {admin?: boolean; teamContactEmail?: string; role?: 'member' | 'owner'; password?: string}): Promise<AddUserResult>
  /** Signs in (from `from`, default 127.0.0.1) and returns the session token. */
  login(username: string, password?: string, from?: string): Promise<string>
  /** Creates an app as `token`'s user. */
  createApp(token: string, slug: string, team: string, contactEmail?: string): Promise<Answer>
  /** Issues a key; returns the 201 body. */
  issueKey(token: string, slug: string, body?: Record<string, unknown>): Promise<any>
  /** Creates a provisioning token (`POST /v1/tokens`); returns the 201 body (with `token`). */
  createToken(token: string, app: string, body?: Record<string, unknown>): Promise<any>
  /**
   * Creates a verifier token directly in the database (as `apikey server verifiers add`); returns the token.
   * @param options.envs the key environments it accepts (as `--env`); default every environment.
   */
  addVerifier(name?: string, options?: {envs?: string[]}): Promise<string>
  /** Revokes a verifier token by name or id (as `apikey server verifiers revoke`). */
  revokeVerifier(nameOrId: string): Promise<void>
  /** `POST /v1/verify` with a verifier token. */
  verify(verifierToken: string, key: string, context?: Record<string, unknown>, headers?: Record<string, string>): Promise<Answer>
  /** Stops the server (keeps the directory). */
  stop(): Promise<void>
  /** Stops the server and removes the directory. */
  cleanup(): Promise<void>
}

/** Starts the real service on 127.0.0.1:0 with a fresh (or given) data dir. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? (await tempDir())
  const dbPath = join(dir, 'apikey.db')
  const clock = options.clock ?? new TestClock()
  const logs: string[] = []
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk))
      callback()
    },
  })
  const {dir: _dir, clock: _clock, ...rest} = options
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    logLevel: (options.logLevel ?? 'debug') as LogLevel,
    // Admin changes are read when a test asks (pollAdminChanges), so event-counting tests see only their own events.
    adminChangePollMs: 0,
    ...rest,
    dbPath,
    clock,
    logStream,
    // Usage rollups run when a test asks (rollupUsage), never on a wall-clock timer.
    settings: {scryptCost: TEST_SCRYPT, usageRollupIntervalMs: 0, ...options.settings},
  })
  const request: Harness['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {...opts.headers}
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
    let body: string | undefined
    if (opts.rawBody !== undefined) body = opts.rawBody
    else if (opts.body !== undefined) body = JSON.stringify(opts.body)
    if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
    const res = opts.from === undefined ? await fetch(server.url + path, {method, headers, ...(body === undefined ? {} : {body})}) : await requestFrom(opts.from, server.url + path, method, headers, body)
    const text = await res.text()
    let parsed: unknown = undefined
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
    }
    return {status: res.status, headers: res.headers, body: parsed as any, text}
  }
  const harness: Harness = {
    server,
    url: server.url,
    dir,
    dbPath,
    clock,
    logs,
    request,
    addUser: (username, team, o = {}) =>
      addUser({
        dbPath,
        username,
        password: o.password ?? PASSWORD,
        team,
        teamName: `Team ${team}`,
        teamContactEmail: o.teamContactEmail ?? `${team}-lead@example.com`,
        admin: o.admin ?? false,
        ...(o.role === undefined ? {} : {role: o.role}),
        clock,
        scryptCost: TEST_SCRYPT,
      }),
    async login(username, password = PASSWORD, from) {
      const res = await request('POST', '/v1/sessions', {body: {username, password}, ...(from === undefined ? {} : {from})})
      if (res.status !== 201) throw new Error(`login of ${username} failed: ${res.status} ${res.text}`)
      return res.body.token as string
    },
    createApp: (token, slug, team, contactEmail = `${slug}-poc@example.com`) =>
      request('POST', '/v1/apps', {token, body: {slug, name: `App ${slug}`, team, contactEmail}}),
    async issueKey(token, slug, body = {env: 'dev'}) {
      const res = await request('POST', `/v1/apps/${slug}/keys`, {token, body})
      if (res.status !== 201) throw new Error(`issue key failed: ${res.status} ${res.text}`)
      return res.body
    },
    async createToken(token, app, body = {}) {
      const res = await request('POST', '/v1/tokens', {token, body: {app, scope: 'ci', ...body}})
      if (res.status !== 201) throw new Error(`create token failed: ${res.status} ${res.text}`)
      return res.body
    },
    async addVerifier(name = 'test-verifier', o = {}) {
      return (await addVerifier({dbPath, name, clock, ...(o.envs === undefined ? {} : {envs: o.envs})})).token
    },
    async revokeVerifier(nameOrId) {
      await revokeVerifier({dbPath, verifier: nameOrId, clock})
    },
    verify: (verifierToken, key, context, headers) =>
      request('POST', '/v1/verify', {token: verifierToken, body: {key, ...(context === undefined ? {} : {context})}, ...(headers === undefined ? {} : {headers})}),
    stop: () => server.close(),
    async cleanup() {
      await server.close()
      await rm(dir, {recursive: true, force: true})
    },
  }
  return harness
}

/**
 * One HTTP request over a new connection bound to the source address `localAddress`
 * (node:http, since fetch cannot choose it). Answers like fetch's Response: status, headers, text().
 */
export function requestFrom(localAddress: string, url: string, method: string, headers: Record<string, string>, body?: string): Promise<{status: number; headers: Headers; text(): Promise<string>}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {method, headers, localAddress, agent: false}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const answerHeaders = new Headers()
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answerHeaders.append(name, v)
        }
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({status: res.statusCode ?? 0, headers: answerHeaders, text: async () => text})
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Asserts the common problem-details shape and returns the body. */
export function expectProblemShape(answer: Answer, status: number, code: string): any {
  const ct = answer.headers.get('content-type') ?? ''
  if (!ct.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${ct}: ${answer.text}`)
  if (answer.status !== status || answer.body?.code !== code) throw new Error(`expected ${status} ${code}, got ${answer.status}: ${answer.text}`)
  for (const field of ['type', 'title', 'status', 'detail', 'code']) {
    if (answer.body[field] === undefined) throw new Error(`problem lacks ${field}: ${answer.text}`)
  }
  return answer.body
}

/** The usual verification setup: users ann (team mobile) and bob (team web), ann's app and key, a verifier token. */
export interface VerifyFixture {
  h: Harness
  ann: string
  verifier: string
  key: {id: string; key: string; expiresAt: number}
}

/** Starts a harness with {@link VerifyFixture}'s users, app, key and verifier token. */
export async function verifyFixture(options: HarnessOptions = {}): Promise<VerifyFixture> {
  const h = await startHarness(options)
  await h.addUser('ann', 'mobile')
  await h.addUser('bob', 'web')
  const ann = await h.login('ann')
  await h.createApp(ann, 'weather-app', 'mobile')
  const key = await h.issueKey(ann, 'weather-app')
  const verifier = await h.addVerifier('weather-gateway')
  return {h, ann, verifier, key}
}
