/**
 * The service against what real clients and other projects' tools expect: the OpenAPI document
 * passes Redocly's recommended lint rules; every operation documents its errors as
 * application/problem+json; and on every route, an over-long id, a malformed percent-escape and a
 * 20 KB header answer documented problem details that never echo the key-shaped value sent.
 */
import {execFile} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startHarness, type Answer, type Harness} from './helpers.js'

const run = promisify(execFile)
const REDOCLY = resolve('node_modules/@redocly/cli/bin/cli.js')

interface Operation {
  method: string
  path: string
  op: {security?: Array<Record<string, string[]>>; responses: Record<string, {content?: Record<string, unknown>}>}
}

function operationsOf(doc: any): Operation[] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation['op']>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({method: method.toUpperCase(), path, op})),
  )
}

describe('conformance of the key service with OpenAPI tools and HTTP clients', () => {
  let h: Harness
  let doc: any
  let session: string
  let verifier: string
  let key: string
  /** The part of the key that must never be echoed. */
  let secret: string

  beforeAll(async () => {
    h = await startHarness()
    await h.addUser('ann', 'mobile')
    session = await h.login('ann')
    await h.createApp(session, 'weather-app', 'mobile')
    key = (await h.issueKey(session, 'weather-app')).key as string
    secret = key.slice(-36)
    verifier = await h.addVerifier('gateway')
    doc = (await h.request('GET', '/openapi.json')).body
  })
  afterAll(async () => h.cleanup())

  it('the OpenAPI document passes `redocly lint` with the recommended rules, no errors and no warnings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'apikey-redocly-'))
    try {
      await writeFile(join(dir, 'openapi.json'), JSON.stringify(doc))
      await writeFile(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\ntelemetry: off\n')
      // Offline: no usage data, no update check.
      const env = {...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', CI: 'true', NO_COLOR: '1'}
      const result = await run(process.execPath, [REDOCLY, 'lint', '--config', join(dir, 'redocly.yaml'), '--format', 'json', join(dir, 'openapi.json')], {env, cwd: dir}).catch(
        (error: {stdout: string; stderr: string}) => error,
      )
      expect(result.stdout, `redocly printed no report; stderr: ${result.stderr}`).toContain('{')
      const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as {totals: {errors: number; warnings: number}; problems: Array<{ruleId: string; message: string}>}
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([])
      expect(report.totals).toMatchObject({errors: 0, warnings: 0})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  }, 60_000)

  it('names a server, and every operation states its security and documents its errors as application/problem+json', () => {
    expect(doc.servers).toEqual([{url: h.url, description: 'this key service'}])
    const ops = operationsOf(doc)
    expect(ops.length).toBeGreaterThan(20)
    for (const {method, path, op} of ops) {
      const where = `${method} ${path}`
      expect(op.security, where).toBeDefined()
      expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(['400', '431']))
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400 || response.content === undefined) continue
        expect(Object.keys(response.content), `${where} ${status}`).toEqual(['application/problem+json'])
      }
    }
    expect(doc.paths['/v1/meta'].get.security).toEqual([])
    expect(doc.paths['/docs'].get.security).toEqual([])
  })

  /** Credentials that get a request on `op` past authentication. */
  function credentialFor(op: Operation['op']): Record<string, string> {
    const schemes = (op.security ?? []).flatMap((s) => Object.keys(s))
    if (schemes.includes('verifierTokenHeader')) return {'x-verifier-token': verifier}
    if (schemes.includes('verifierToken')) return {authorization: `Bearer ${verifier}`}
    if (schemes.includes('apiKey')) return {authorization: `Bearer ${key}`}
    if (schemes.includes('session')) return {authorization: `Bearer ${session}`}
    return {}
  }

  function expectDocumentedProblem(answer: Answer, op: Operation, what: string, extraStatuses: number[] = []): void {
    const where = `${what} on ${op.method} ${op.path}: ${answer.status} ${answer.text}`
    expect(answer.headers.get('content-type'), where).toMatch(/^application\/problem\+json/)
    expect([...Object.keys(op.op.responses).map(Number), ...extraStatuses], where).toContain(answer.status)
    expect(answer.body, where).toMatchObject({type: expect.stringMatching(/^tag:apikey,2025:problem:/), title: expect.any(String), status: answer.status, code: expect.any(String)})
    expect(answer.text, where).not.toContain(secret)
    expect(answer.text, where).not.toContain('%E0%A4%A')
  }

  function send(op: Operation, path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const withBody = op.method === 'POST' || op.method === 'PUT'
    return h.request(op.method, path, {headers: {...credentialFor(op.op), ...headers}, ...(withBody ? {body: {}} : {})})
  }

  it('a 150-character id (holding a key) in every path parameter answers documented problem details, never Fastify\'s raw 414', async () => {
    const long = `${key}${'x'.repeat(150 - key.length)}`
    expect(long).toHaveLength(150)
    const ops = operationsOf(doc).filter((op) => op.path.includes('{'))
    expect(ops.length).toBeGreaterThan(8)
    for (const op of ops) {
      const answer = await send(op, op.path.replace(/\{[^}]+\}/g, long))
      expectDocumentedProblem(answer, op, '150-character id')
      expect(answer.status).not.toBe(414)
    }
  })

  it('a malformed percent-escape next to a key, on every route, answers a documented 400 problem that echoes nothing', async () => {
    for (const op of operationsOf(doc)) {
      // "%A" then a non-hex character: no valid escape ("%E0%A4%Aa" would decode to one character).
      const bad = `${key}%E0%A4%A`
      const path = op.path.includes('{') ? op.path.replace(/\{[^}]+\}/g, bad) : `${op.path}/${bad}`
      const answer = await send(op, path)
      expectDocumentedProblem(answer, op, 'malformed percent-escape', [404])
      if (op.path.includes('{')) expect(answer.status, `${op.method} ${op.path}`).toBe(400)
    }
  })

  it('a 20 KB header holding a key, on every route, answers a 431 problem that echoes nothing', async () => {
    const big = `${key} `.repeat(Math.ceil(20_000 / (key.length + 1)))
    for (const op of operationsOf(doc)) {
      const answer = await send(op, op.path.replace(/\{[^}]+\}/g, 'weather-app'), {'x-padding': big})
      expectDocumentedProblem(answer, op, '20 KB header')
      expect(answer.status).toBe(431)
      expect(answer.body.detail).toMatch(/header fields are larger than this service accepts \(16 KiB in all\)/)
    }
  })

  it('no key-shaped value sent in a URL or header reaches the log', () => {
    expect(h.logs.length).toBeGreaterThan(0)
    expect(h.logs.filter((line) => line.includes(secret))).toEqual([])
  })

  it('413 names the limit of the route: 8 MiB on POST /v1/usage, 64 KiB elsewhere', async () => {
    const usage = await h.request('POST', '/v1/usage', {token: verifier, rawBody: `{"events":[],"pad":"${'x'.repeat(9 * 1024 * 1024)}"}`})
    expect(usage.status).toBe(413)
    expect(usage.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(usage.body.detail).toBe('the request body is larger than this route accepts (8 MiB)')
    const apps = await h.request('POST', '/v1/apps', {token: session, rawBody: `{"pad":"${'x'.repeat(70 * 1024)}"}`})
    expect(apps.status).toBe(413)
    expect(apps.body.detail).toBe('the request body is larger than this route accepts (64 KiB)')
  })

  it('an app slug that is really a key is answered 404 without echoing it', async () => {
    const answer = await h.request('GET', `/v1/apps/${key}`, {token: session})
    expect(answer.status).toBe(404)
    expect(answer.text).not.toContain(secret)
  })
})
