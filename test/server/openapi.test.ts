import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectProblemShape, startHarness, type Harness} from './helpers.js'

describe('GET /openapi.json and the error envelope', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => h.cleanup())

  it('lists every v1 route with request and response schemas', async () => {
    const res = await h.request('GET', '/openapi.json')
    expect(res.status).toBe(200)
    const doc = res.body
    expect(doc.openapi).toMatch(/^3\.1/)
    const ops: string[] = []
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(methods)) {
        ops.push(`${method.toUpperCase()} ${path}`)
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0)
      }
    }
    expect(ops.sort()).toEqual(
      [
        'GET /v1/meta',
        'POST /v1/sessions',
        'DELETE /v1/sessions/current',
        'GET /v1/me',
        'GET /v1/apps',
        'POST /v1/apps',
        'GET /v1/apps/{slug}',
        'GET /v1/apps/{slug}/keys',
        'POST /v1/apps/{slug}/keys',
        'POST /v1/keys/whoami',
      ].sort(),
    )
    expect(doc.paths['/v1/apps'].post.requestBody).toBeDefined()
    expect(doc.paths['/v1/apps/{slug}/keys'].post.requestBody).toBeDefined()
    expect(doc.paths['/v1/sessions'].post.requestBody).toBeDefined()
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Problem', 'AppView', 'KeyView', 'TeamView', 'UserView', 'MembershipView']))
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['session', 'apiKey'])
    expect(doc.paths['/v1/keys/whoami'].post.security).toEqual([{apiKey: []}])
  })

  it('unknown routes and methods answer 404 problem details', async () => {
    const res = await h.request('GET', '/v2/nothing')
    expect(expectProblemShape(res, 404, 'not_found').detail).toBe('no route GET /v2/nothing')
    expectProblemShape(await h.request('PUT', '/v1/meta'), 404, 'not_found')
  })

  it('a wrong content type and an oversized body are problem details too', async () => {
    const media = await h.request('POST', '/v1/sessions', {rawBody: 'username=ann', headers: {'content-type': 'application/x-www-form-urlencoded'}})
    expect(media.status).toBe(415)
    expect(media.body.code).toBe('validation')
    expect(media.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const big = await h.request('POST', '/v1/sessions', {rawBody: JSON.stringify({username: 'a', password: 'x'.repeat(70_000)})})
    expect(big.status).toBe(413)
    expect(big.body.code).toBe('validation')
  })

  it('every response carries a request id that matches the problem instance', async () => {
    const res = await h.request('GET', '/v1/apps')
    const id = res.headers.get('x-request-id')
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.body.instance).toBe(`urn:uuid:${id}`)
  })
})
