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
        'GET /docs',
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
        'POST /v1/apps/{slug}/transfer',
        'GET /v1/keys/{id}',
        'POST /v1/keys/{id}/replace',
        'POST /v1/keys/{id}/rotate',
        'DELETE /v1/keys/{id}',
        'GET /v1/audit',
        'POST /v1/tokens',
        'GET /v1/tokens',
        'DELETE /v1/tokens/{id}',
        'POST /v1/verify',
        'GET /v1/verify/auth-request',
        'POST /v1/usage',
        'GET /v1/apps/{slug}/usage',
        'PUT /v1/keys/{id}/limit',
        'PUT /v1/apps/{slug}/limit',
      ].sort(),
    )
    expect(doc.paths['/v1/apps'].post.requestBody).toBeDefined()
    expect(doc.paths['/v1/apps/{slug}/keys'].post.requestBody).toBeDefined()
    expect(doc.paths['/v1/sessions'].post.requestBody).toBeDefined()
    for (const [path, method] of [['/v1/keys/{id}/rotate', 'post'], ['/v1/apps/{slug}/transfer', 'post'], ['/v1/tokens', 'post']] as const) {
      expect(doc.paths[path][method].requestBody, `${method} ${path} body`).toBeDefined()
    }
    expect(doc.paths['/v1/audit'].get.parameters.map((p: {name: string}) => p.name).sort()).toEqual(['app', 'limit', 'since'])
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['Problem', 'AppView', 'KeyView', 'KeyRotation', 'TokenView', 'AuditEventView', 'TeamView', 'UserView', 'MembershipView']),
    )
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['session', 'apiKey', 'provisioningToken', 'verifierToken', 'verifierTokenHeader'])
    expect(doc.paths['/v1/verify'].post.security).toEqual([{verifierToken: []}])
    expect(doc.paths['/v1/usage'].post.security).toEqual([{verifierToken: []}])
    expect(doc.paths['/v1/verify/auth-request'].get.security).toEqual([{verifierTokenHeader: []}])
    expect(doc.paths['/v1/keys/whoami'].post.security).toEqual([{apiKey: []}])
    // Only key issuance accepts a provisioning token.
    expect(doc.paths['/v1/apps/{slug}/keys'].post.security).toEqual([{session: []}, {provisioningToken: []}])
    const tokenRoutes = Object.entries(doc.paths as Record<string, Record<string, {security?: Array<Record<string, unknown>>}>>).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.some((s) => 'provisioningToken' in s))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    )
    expect(tokenRoutes).toEqual(['POST /v1/apps/{slug}/keys'])
  })

  it('unknown routes and methods answer 404 problem details', async () => {
    const res = await h.request('GET', '/v2/nothing')
    expect(expectProblemShape(res, 404, 'not_found').detail).toBe('no route GET for this path (the path is not repeated here; see /openapi.json for the routes)')
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
