/**
 * The service refuses a secret in every free-text field: every string
 * property of every request body, every query parameter and every path
 * parameter in the OpenAPI document gets each secret shape (a real API key,
 * session, provisioning and verifier token). A new field is covered as soon as
 * it is in the document; the fields meant to carry a secret are listed here
 * and must match the service's own list.
 */
import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {INPUT_RULES} from '../../src/server/input-guard.js'
import {PASSWORD, startHarness, T0, type Answer, type Harness} from './helpers.js'

/** Fields meant to carry a secret: not checked (and not tested here). */
const SECRET_FIELDS = ['POST /v1/sessions body.password', 'POST /v1/verify body.key']

interface Field {
  method: string
  path: string
  location: 'body' | 'query' | 'path'
  /** Dotted path, `[]` for array items. */
  name: string
  security: string
}

/** Every string field of the document (bodies walked through `$ref`s, arrays and nested objects). */
function stringFields(doc: any): Field[] {
  const resolve = (schema: any): any => (typeof schema?.$ref === 'string' ? doc.components.schemas[schema.$ref.replace(/^#\/components\/schemas\//, '')] : schema)
  const fields: Field[] = []
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const security = Object.keys(op.security?.[0] ?? {})[0] ?? 'public'
      const base = {method: method.toUpperCase(), path, security}
      for (const param of op.parameters ?? []) {
        const types = [resolve(param.schema)?.type].flat()
        if (types.includes('string') && (param.in === 'query' || param.in === 'path')) fields.push({...base, location: param.in, name: param.name})
      }
      const walk = (schema: any, name: string): void => {
        const s = resolve(schema)
        if (s === undefined) return
        for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) walk(alt, name)
        const types = [s.type].flat()
        if (types.includes('string') && name !== '') fields.push({...base, location: 'body', name})
        if (types.includes('array')) walk(s.items, `${name}[]`)
        for (const [prop, sub] of Object.entries(s.properties ?? {})) walk(sub, name === '' ? prop : `${name}.${prop}`)
      }
      walk(op.requestBody?.content?.['application/json']?.schema, '')
    }
  }
  return fields
}

/** `{a: {b: [ {c: value} ]}}` for `a.b[].c`; items of arrays get `extra` (required members of usage events). */
function bodyWith(name: string, value: string, extra: Record<string, unknown>): unknown {
  const parts = name.split('.')
  const build = (i: number): unknown => {
    if (i === parts.length) return value
    const part = parts[i]!
    const isArray = part.endsWith('[]')
    const key = isArray ? part.slice(0, -2) : part
    const inner = build(i + 1)
    return {[key]: isArray ? [typeof inner === 'object' ? {...extra, ...(inner as object)} : inner] : inner}
  }
  return build(0)
}

describe('a secret in any free-text field is refused by the service, never stored, never echoed', () => {
  let h: Harness
  let session: string
  let secrets: Record<string, string>
  let keyId: string
  let tokenId: string
  let verifierToken: string
  let validKey: string

  beforeAll(async () => {
    h = await startHarness()
    await h.addUser('ann', 'weather', {role: 'owner', teamContactEmail: 'weather@example.com'})
    session = await h.login('ann')
    expect((await h.createApp(session, 'weather-app', 'weather')).status).toBe(201)
    const issued = await h.issueKey(session, 'weather-app', {env: 'dev'})
    validKey = issued.key
    keyId = issued.id
    const provisioning = await h.createToken(session, 'weather-app')
    tokenId = provisioning.id
    verifierToken = await h.addVerifier('orders-prod')
    const secretKey = (await h.issueKey(session, 'weather-app', {env: 'prod'})).key
    secrets = {
      'API key': secretKey,
      'session token': await h.login('ann'),
      'provisioning token': (await h.createToken(session, 'weather-app')).token,
      'verifier token': await h.addVerifier('billing'),
    }
    // Disguised forms: every shape in capitals (a key's checksum gives its case back), and the API key
    // percent-encoded, split by a space or a line break, and with invisible characters inside.
    for (const [kind, secret] of Object.entries({...secrets})) secrets[`${kind} in capitals`] = secret.toUpperCase()
    secrets['API key with %5F for _'] = secretKey.replaceAll('_', '%5F')
    secrets['API key split by a space'] = `${secretKey.slice(0, 24)} ${secretKey.slice(24)}`
    secrets['API key split by a line break'] = `${secretKey.slice(0, 30)}\n${secretKey.slice(30)}`
    secrets['API key with a word joiner inside'] = `${secretKey.slice(0, 26)}\u2060${secretKey.slice(26)}`
    secrets['API key with a soft hyphen inside'] = `${secretKey.slice(0, 26)}\u00AD${secretKey.slice(26)}`
  })
  afterAll(async () => h.cleanup())

  function credentialFor(field: Field): {token?: string; headers?: Record<string, string>} {
    if (field.security === 'verifierToken') return {token: verifierToken}
    if (field.security === 'verifierTokenHeader') return {headers: {'x-verifier-token': verifierToken}}
    if (field.security === 'apiKey') return {token: validKey}
    if (field.security === 'public') return {}
    return {token: session}
  }

  function urlFor(field: Field, secret: string): string {
    let url = field.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (field.location === 'path' && field.name === name) return encodeURIComponent(secret)
      return name === 'slug' ? 'weather-app' : field.path.startsWith('/v1/tokens') ? tokenId : keyId
    })
    if (field.location === 'query') url += `?${field.name}=${encodeURIComponent(secret)}`
    return url
  }

  it('the document lists the fields this test walks, and the secret-carrying fields are exactly the service\'s exceptions', async () => {
    const fields = stringFields((await h.request('GET', '/openapi.json')).body)
    const names = fields.map((f) => `${f.method} ${f.path} ${f.location}.${f.name}`)
    // Spot checks that the walk reaches bodies, nested arrays, queries and paths.
    for (const expected of [
      'POST /v1/apps body.name',
      'POST /v1/apps body.description',
      'POST /v1/apps body.contactEmail',
      'POST /v1/apps/{slug}/keys body.name',
      'POST /v1/apps/{slug}/keys body.metadata.branch',
      'POST /v1/apps/{slug}/transfer body.contactEmail',
      'POST /v1/tokens body.name',
      'POST /v1/sessions body.username',
      'POST /v1/usage body.events[].userAgent',
      'POST /v1/verify body.context.clientApp',
      'GET /v1/audit query.app',
      'DELETE /v1/keys/{id} path.id',
    ])
      expect(names).toContain(expected)
    const declared = Object.entries(INPUT_RULES).flatMap(([route, rules]) => Object.entries(rules).filter(([, rule]) => rule === 'secret').map(([name]) => `${route} ${name}`))
    expect(declared.sort()).toEqual([...SECRET_FIELDS].sort())
    expect(fields.length).toBeGreaterThan(40)
  })

  it('every secret shape in every field: 400 (404 in a path) naming the field and kind (or dropped from a verifier\'s request context), never echoed', async () => {
    const fields = stringFields((await h.request('GET', '/openapi.json')).body).filter((f) => !SECRET_FIELDS.includes(`${f.method} ${f.path} ${f.location}.${f.name}`))
    const seen: string[] = []
    for (const field of fields) {
      for (const [kind, secret] of Object.entries(secrets)) {
        const label = `${kind} in ${field.method} ${field.path} ${field.location}.${field.name}`
        const body =
          field.location === 'body'
            ? bodyWith(field.name, secret, {code: 'VALID', at: T0})
            : field.method === 'POST' || field.method === 'PUT'
              ? {}
              : undefined
        if (field.path === '/v1/verify' && field.location === 'body') (body as Record<string, unknown>).key = validKey
        const answer: Answer = await h.request(field.method, urlFor(field, secret), {...credentialFor(field), ...(body === undefined ? {} : {body})})
        expect(answer.text, label).not.toContain(secret)
        expect(answer.text, label).not.toContain(secret.slice(-12))
        if (field.security === 'verifierToken' && field.location === 'body') {
          // A verifier reports its callers' context: the value is dropped, the verification or batch is not failed for it.
          expect(answer.status, label).toBeLessThan(500)
          continue
        }
        if (field.security === 'verifierTokenHeader') {
          // The nginx auth-request form answers only 2xx, 401 or 403.
          expect([200, 401, 403], label).toContain(answer.status)
          continue
        }
        // A path parameter names something: one that cannot be an id answers the routes' documented 404.
        expect(answer.status, label).toBe(field.location === 'path' ? 404 : 400)
        expect(answer.headers.get('content-type'), label).toContain('application/problem+json')
        expect(answer.body.code, label).toBe(field.location === 'path' ? 'not_found' : 'validation')
        expect(answer.body.reason, label).toBe('secret')
        expect(answer.body.field, label).toBe(field.location === 'body' ? field.name.replaceAll('[]', '[0]') : `${field.location}.${field.name}`)
        seen.push(label)
      }
    }
    expect(seen.length).toBeGreaterThan(100)
  })

  it('nothing of any secret was stored in any table, nor written to the log', async () => {
    // The writes that would store a name, a description or a contact, and a verifier's usage report, once more with each secret.
    for (const secret of Object.values(secrets)) {
      await h.request('POST', '/v1/apps/weather-app/keys', {token: session, body: {env: 'dev', name: secret}})
      await h.request('POST', '/v1/tokens', {token: session, body: {app: 'weather-app', name: `ci ${secret}`}})
      await h.request('POST', '/v1/apps', {token: session, body: {slug: 'other-app', name: secret, team: 'weather', contactEmail: 'a@example.com', description: secret}})
      await h.request('POST', '/v1/verify', {token: verifierToken, body: {key: validKey, context: {userAgent: secret, clientApp: secret, route: secret}}})
      await h.request('POST', '/v1/usage', {token: verifierToken, body: {events: [{code: 'VALID', at: T0, keyId, userAgent: secret, clientApp: secret}]}})
    }
    await h.server.flushUsage()
    const db = new Database(h.dbPath, {readonly: true})
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {name: string}[]
      const dump = tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n')
      expect(dump.length).toBeGreaterThan(1000)
      for (const secret of Object.values(secrets)) expect(dump).not.toContain(secret.slice(-12))
    } finally {
      db.close()
    }
    const logs = h.logs.join('')
    for (const secret of Object.values(secrets)) expect(logs).not.toContain(secret.slice(-12))
    // Names stayed as given: nothing was created under a secret.
    const keys = await h.request('GET', '/v1/apps/weather-app/keys', {token: session})
    expect(keys.body.keys.map((k: {name: string | null}) => k.name)).toEqual([null, null])
  })

  it('names refuse bidirectional-override, zero-width and control characters and lone surrogates; ordinary text passes', async () => {
    for (const [bad, what] of [
      ['evil\u202Egnp.exe', 'right-to-left override'],
      ['a\u2066b', 'left-to-right isolate'],
      ['pay\u200Bpal', 'zero-width space'],
      ['a\u200Fb', 'right-to-left mark'],
      ['bell\u0007', 'control character'],
    ] as const) {
      const answer = await h.request('POST', '/v1/apps/weather-app/keys', {token: session, body: {env: 'dev', name: bad}})
      expect(answer.status, what).toBe(400)
      expect(answer.body.reason, what).toBe('unsafe-character')
      expect(answer.body.field, what).toBe('name')
    }
    // A lone surrogate can only arrive as a JSON escape.
    const lone = await h.request('POST', '/v1/tokens', {token: session, rawBody: '{"app":"weather-app","name":"x\\ud800y"}'})
    expect(lone.status).toBe(400)
    expect(lone.body.reason).toBe('unsafe-character')
    const fine = await h.request('POST', '/v1/apps/weather-app/keys', {token: session, body: {env: 'dev', name: 'Ann’s laptop — café 🚀 ci_weather-app_prod_deploy01'}})
    expect(fine.status).toBe(201)
    await h.request('DELETE', `/v1/keys/${fine.body.id}`, {token: session})
  })

  it('a password given as a username is refused without being shown; a real username still signs in', async () => {
    for (const [username, reason] of [
      ['Tr0ub4dor&3 horse', 'not-a-username'],
      [PASSWORD, 'not-a-username'],
      ['samepassword1', 'password-as-username'],
    ] as const) {
      const answer = await h.request('POST', '/v1/sessions', {body: {username, password: username === 'samepassword1' ? username : 'whatever-it-is'}})
      expect(answer.status, username).toBe(400)
      expect(answer.body.reason, username).toBe(reason)
      expect(answer.body.field).toBe('username')
      expect(answer.text).not.toContain(username)
    }
    expect(h.logs.join('')).not.toContain('Tr0ub4dor')
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD}})).status).toBe(201)
  })

  it('a key\'s display start given as a key id is recognised and answered with apikey keys list', async () => {
    for (const start of ['ak_weather-app_dev_4fT9…', 'ak_weather-app_dev_4fT9', 'ak_weather-app_dev_4fT9...']) {
      const answer = await h.request('DELETE', `/v1/keys/${encodeURIComponent(start)}`, {token: session})
      expect(answer.status, start).toBe(404)
      expect(answer.body.reason).toBe('key-start')
      expect(answer.body.detail).toContain("display start")
      expect(answer.body.detail).not.toMatch(/secret/i)
      expect(answer.body.suggestions.join('\n')).toContain('apikey keys list --app weather-app')
    }
  })
})
