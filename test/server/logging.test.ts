/**
 * Log secrecy: collect every log line of a full flow at level `trace` and
 * search it for every secret the flow handled.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {redactSecrets, safePath} from '../../src/server/logging.js'
import {PASSWORD, startHarness, type Harness} from './helpers.js'

describe('logs', () => {
  let h: Harness | undefined
  afterEach(async () => h?.cleanup())

  it('never contain a key, a session or provisioning token, or a password (full flow at trace)', async () => {
    h = await startHarness({logLevel: 'trace'})
    await h.addUser('ann', 'mobile')
    await h.addUser('bob', 'web')
    const secrets: string[] = [PASSWORD]

    const ann = await h.login('ann')
    secrets.push(ann)
    expect((await h.createApp(ann, 'weather-app', 'mobile')).status).toBe(201)
    const dev = await h.issueKey(ann, 'weather-app', {env: 'dev', metadata: {hostname: 'laptop'}})
    const ci = await h.issueKey(ann, 'weather-app', {env: 'ci', metadata: {commit: 'abc', build: '7'}})
    secrets.push(dev.key, ci.key)
    expect((await h.request('GET', '/v1/apps/weather-app/keys', {token: ann})).status).toBe(200)
    expect((await h.request('POST', '/v1/keys/whoami', {token: dev.key})).status).toBe(200)
    // A tampered key, a key in a URL and a query string, a token in a bad place.
    const tampered = dev.key.slice(0, -1) + (dev.key.endsWith('A') ? 'B' : 'A')
    secrets.push(tampered)
    expect((await h.request('POST', '/v1/keys/whoami', {token: tampered})).status).toBe(400)
    // Without a session: 401; with one: 404 that says "a secret, not a key id" without echoing it.
    expect((await h.request('GET', `/v1/keys/${ci.key}?key=${dev.key}&token=${ann}`)).status).toBe(401)
    const keyInUrl = await h.request('GET', `/v1/keys/${ci.key}?key=${dev.key}&token=${ann}`, {token: ann})
    expect(keyInUrl.status).toBe(404)
    expect(keyInUrl.text).not.toContain(ci.key)
    expect(keyInUrl.body.detail).toMatch(/looks like an API key/)
    expect((await h.request('GET', '/v1/me', {token: dev.key})).status).toBe(401)
    // Provisioning tokens: create, use (201), use out of scope (403), in a URL, at whoami, expired (401), revoked (401).
    const tok = await h.createToken(ann, 'weather-app')
    secrets.push(tok.token)
    const tokKey = await h.request('POST', '/v1/apps/weather-app/keys', {token: tok.token, body: {metadata: {commit: 'abc'}}})
    expect(tokKey.status).toBe(201)
    secrets.push(tokKey.body.key)
    expect((await h.request('GET', '/v1/me', {token: tok.token})).status).toBe(403)
    expect((await h.request('POST', '/v1/apps/other-app/keys', {token: tok.token, body: {}})).status).toBe(403)
    expect((await h.request('POST', '/v1/keys/whoami', {token: tok.token})).status).toBe(400)
    expect((await h.request('DELETE', `/v1/tokens/${tok.token}?t=${tok.token}`, {token: ann})).status).toBe(404)
    const rotated = await h.request('POST', `/v1/keys/${dev.id}/rotate`, {token: ann, body: {graceMs: 0}})
    secrets.push(rotated.body.newKey.key)
    const shortTok = await h.createToken(ann, 'weather-app', {expiresAt: h.clock.now() + 1000})
    secrets.push(shortTok.token)
    h.clock.advance(1000)
    expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: shortTok.token, body: {}})).status).toBe(401)
    h.clock.advance(-1000)
    expect((await h.request('DELETE', `/v1/tokens/${tok.id}`, {token: ann})).status).toBe(200)
    expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: tok.token, body: {}})).status).toBe(401)
    expect((await h.request('GET', '/v1/audit?app=weather-app', {token: ann})).status).toBe(200)
    // Another user's flow, their 403, and logout.
    const bob = await h.login('bob')
    secrets.push(bob)
    expect((await h.request('POST', '/v1/apps/weather-app/keys', {token: bob, body: {env: 'dev'}})).status).toBe(403)
    expect((await h.request('DELETE', '/v1/sessions/current', {token: ann})).status).toBe(204)
    expect((await h.request('GET', '/v1/me', {token: ann})).status).toBe(401)
    // Failed logins: wrong password, unknown user, malformed JSON holding a password, password in the username field.
    const wrong = 'wrong-password-1234'
    secrets.push(wrong)
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: wrong}})).status).toBe(401)
    expect((await h.request('POST', '/v1/sessions', {body: {username: PASSWORD.replaceAll(' ', '-'), password: PASSWORD}})).status).toBe(401)
    secrets.push(PASSWORD.replaceAll(' ', '-'))
    expect((await h.request('POST', '/v1/sessions', {rawBody: `{"username":"ann","password":"${PASSWORD}`})).status).toBe(400)
    expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: PASSWORD, extra: PASSWORD}})).status).toBe(400)

    const all = h.logs.join('')
    // The flow was really logged (at trace/debug), so the absence below means something.
    expect(h.logs.length).toBeGreaterThan(30)
    expect(all).toContain('"msg":"incoming request"')
    expect(all).toContain('"msg":"request refused"')
    for (const line of h.logs) expect(() => JSON.parse(line)).not.toThrow()
    for (const secret of secrets) {
      expect(all.includes(secret), `a secret of length ${secret.length} appears in the logs`).toBe(false)
      // Nor the random part alone (e.g. a key split at "_").
      const tail = secret.split('_').at(-1) as string
      if (tail.length >= 20) expect(all.includes(tail)).toBe(false)
    }
    expect(all.toLowerCase()).not.toContain('authorization')
  })

  it('redactSecrets and safePath remove keys, tokens, bearer values and query strings', () => {
    const key = 'ak_weather-app_dev_' + 'a'.repeat(36)
    expect(redactSecrets(`x ${key} y`)).toBe('x [REDACTED] y')
    expect(redactSecrets(`aks_${'Z'.repeat(40)}`)).toBe('[REDACTED]')
    expect(redactSecrets(`x akp_${'Q'.repeat(40)} y`)).toBe('x [REDACTED] y')
    expect(redactSecrets('Bearer abc.def')).toBe('Bearer [REDACTED]')
    expect(safePath(`/v1/keys/${key}?token=abc`)).toBe('/v1/keys/[REDACTED]')
  })
})
