/**
 * Request logging: one line per request at the default level (no "incoming request" line), a
 * refused credential logged as a warning (so also at --log-level warn), and the service's
 * batching log destination (whole lines, in order, errors at once).
 */
import {pino} from 'pino'
import {afterEach, describe, expect, it} from 'vitest'
import {BufferedLogStream} from '../../src/server/logging.js'
import {startHarness, type Harness} from './helpers.js'

/** The parsed log lines of one request (by its X-Request-Id), once its "request completed" line is there. */
async function linesOf(h: Harness, requestId: string | null): Promise<Array<Record<string, any>>> {
  if (requestId === null) throw new Error('the answer has no x-request-id')
  const parsed = () => h.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((line) => line.reqId === requestId)
  // The line is written when the answer has been sent, so it may follow the answer by a moment.
  for (let i = 0; i < 500 && !parsed().some((line) => line.msg === 'request completed'); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  return parsed()
}

describe('request logging', () => {
  let h: Harness | undefined
  afterEach(async () => h?.cleanup())

  it('at the default level logs one line per request: method, safe path, address, status and time, never the key', async () => {
    h = await startHarness({logLevel: 'info'})
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    expect((await h.createApp(ann, 'weather-app', 'mobile')).status).toBe(201)
    const {key} = await h.issueKey(ann, 'weather-app', {env: 'prod'})
    const verifier = await h.addVerifier()

    const verified = await h.verify(verifier, key, {clientIp: '198.51.100.7'})
    expect(verified.body.code).toBe('VALID')
    const lines = await linesOf(h, verified.headers.get('x-request-id'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({level: 30, msg: 'request completed', req: {method: 'POST', url: '/v1/verify', remoteAddress: '127.0.0.1'}, res: {statusCode: 200}})
    expect(typeof lines[0]?.responseTime).toBe('number')
    expect(lines[0]).not.toHaveProperty('code')

    // A key in the path: the one line names the route without it.
    const inPath = await h.request('GET', `/v1/keys/${key}?key=${key}`, {token: ann})
    expect(inPath.status).toBe(404)
    const pathLines = await linesOf(h, inPath.headers.get('x-request-id'))
    expect(pathLines).toHaveLength(1)
    expect(pathLines[0]).toMatchObject({level: 30, req: {url: '/v1/keys/[REDACTED]'}, res: {statusCode: 404}, code: 'not_found'})

    const all = h.logs.join('')
    expect(all).not.toContain('"msg":"incoming request"')
    expect(all).not.toContain(key)
    expect(all).not.toContain(verifier)
  })

  it('logs a refused credential as a warning with its problem code, so that --log-level warn keeps it', async () => {
    h = await startHarness({logLevel: 'warn'})
    const meta = await h.request('GET', '/v1/meta')
    expect(meta.status).toBe(200)
    const refused = await h.request('GET', '/v1/me', {token: `aks_${'x'.repeat(40)}`})
    expect(refused.status).toBe(401)
    const lines = await linesOf(h, refused.headers.get('x-request-id'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({level: 40, msg: 'request completed', req: {method: 'GET', url: '/v1/me'}, res: {statusCode: 401}, code: 'unauthenticated'})
    // The successful request before it: nothing at warn.
    expect(h.logs.some((line) => line.includes(meta.headers.get('x-request-id') ?? 'missing'))).toBe(false)
    expect(h.logs.join('')).not.toContain('x'.repeat(40))
  })
})

describe('BufferedLogStream', () => {
  it('writes whole lines in order in one batch: at an error line, at flush, at close, and when maxChars are buffered', () => {
    const chunks: string[] = []
    const stream = new BufferedLogStream({write: (chunk) => chunks.push(chunk)})
    const log = pino({level: 'info', base: null}, stream)
    log.info('first')
    log.warn('second')
    expect(chunks).toEqual([])
    log.error('third')
    expect(chunks).toHaveLength(1)
    expect(chunks[0]?.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line).msg)).toEqual(['first', 'second', 'third'])

    log.info('fourth')
    stream.flush()
    expect(chunks).toHaveLength(2)
    stream.flush()
    expect(chunks).toHaveLength(2)
    log.info('fifth')
    stream.close()
    expect(chunks.slice(2).map((chunk) => JSON.parse(chunk).msg)).toEqual(['fifth'])
    // After close every line is written at once.
    log.info('sixth')
    expect(chunks.slice(3).map((chunk) => JSON.parse(chunk).msg)).toEqual(['sixth'])

    const small: string[] = []
    const bounded = new BufferedLogStream({write: (chunk) => small.push(chunk)}, {maxChars: 200})
    const boundedLog = pino({level: 'info', base: null}, bounded)
    for (let i = 0; i < 10; i++) boundedLog.info(`line ${i}`)
    expect(small.length).toBeGreaterThan(0)
    for (const chunk of small) expect(chunk.endsWith('\n')).toBe(true)
    bounded.close()
    expect(small.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line).msg)).toEqual(Array.from({length: 10}, (_, i) => `line ${i}`))
  })
})
