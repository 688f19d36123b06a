import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ApikeyError} from '../../../src/core/errors.js'
import {classifyNetworkError, createApiClient, createDeadline, redactUrl} from '../../../src/lib/api/index.js'
import {META, closedPort, rejection, sendJson, startBlackhole, startProxy, startServer, type TestProxy, type TestServer} from './helpers.js'

describe('transport failures say which phase failed', () => {
  it('connection refused → network, phase connect, names the URL', async () => {
    const port = await closedPort()
    const api = createApiClient({baseUrl: `http://127.0.0.1:${port}`, env: {}, retry: {backoffMs: 1}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(error).toBeInstanceOf(ApikeyError)
    expect(error.code).toBe('network')
    expect(error.exitCode).toBe(1)
    expect(error.details).toMatchObject({phase: 'connect', errorCode: 'ECONNREFUSED', url: `http://127.0.0.1:${port}/v1/meta`})
    expect(error.message).toContain(`http://127.0.0.1:${port}/v1/meta`)
    expect(error.message).toContain('connection refused')
  })

  it('a name under .invalid (RFC 6761) → network, phase dns, names the host', async () => {
    const api = createApiClient({baseUrl: 'https://apikey.does-not-exist.invalid', env: {}, timeoutMs: 5000, retry: {backoffMs: 1}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(error.code).toBe('network')
    expect(error.details?.['phase']).toBe('dns')
    expect(error.message).toContain('apikey.does-not-exist.invalid')
    expect(error.suggestions?.join('\n')).toContain('--server')
  })

  it('a blackhole (accepts, never answers) → timeout within the deadline, phase http', async () => {
    const hole = await startBlackhole()
    const api = createApiClient({baseUrl: hole.url, env: {}, timeoutMs: 500})
    const error = await rejection(() => api.meta())
    api.close()
    await hole.close()
    expect(error.code).toBe('timeout')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain(`${hole.url}/v1/meta`)
    expect(error.message).toContain('500 ms')
    expect(error.details?.['phase']).toBe('http')
    expect(error.suggestions?.join('\n')).toContain('--timeout')
    expect(hole.accepted()).toBeGreaterThanOrEqual(1)
  })

  it('the deadline is shared by the calls of one command', async () => {
    const hole = await startBlackhole()
    const server = await startServer((_req, res) => sendJson(res, 200, META))
    const deadline = createDeadline(400)
    const slow = createApiClient({baseUrl: hole.url, env: {}, deadline})
    const fast = createApiClient({baseUrl: server.url, env: {}, deadline})
    expect((await rejection(() => slow.meta())).code).toBe('timeout')
    // Nothing left for the next call: it fails without sending anything.
    const error = await rejection(() => fast.meta())
    slow.close()
    fast.close()
    await hole.close()
    await server.close()
    expect(error.code).toBe('timeout')
    expect(error.message).toContain('400 ms deadline')
    expect(server.requests).toHaveLength(0)
  })

  it('session routes without a token fail as not signed in, without a request', async () => {
    const server = await startServer((_req, res) => sendJson(res, 200, {}))
    const api = createApiClient({baseUrl: server.url, env: {}})
    const error = await rejection(() => api.me())
    api.close()
    await server.close()
    expect(error.code).toBe('not_signed_in')
    expect(error.exitCode).toBe(4)
    expect(error.suggestions).toEqual([`apikey login --server ${server.url}`])
    expect(server.requests).toHaveLength(0)
  })

  it('a server URL that is not http(s) is a usage error', () => {
    expect(() => createApiClient({baseUrl: 'ftp://x', env: {}})).toThrow(/must start with http/)
    expect(() => createApiClient({baseUrl: 'not a url', env: {}})).toThrow(/not a valid URL/)
  })
})

describe('HTTPS_PROXY=https://… at a plain-HTTP proxy', () => {
  let proxy: TestProxy
  let server: TestServer
  beforeAll(async () => {
    proxy = await startProxy()
    server = await startServer((_req, res) => sendJson(res, 200, META))
  })
  afterAll(async () => {
    await server.close()
    await proxy.close()
  })

  for (const [envVar, target] of [
    ['HTTPS_PROXY', 'https'],
    ['https_proxy', 'https'],
    ['HTTP_PROXY', 'http'],
  ] as const) {
    it(`${envVar}=https://user:pass@… names the proxy and suggests http:// (${target} service)`, async () => {
      const proxyUrl = `https://puser:ppass@127.0.0.1:${proxy.port}`
      const api = createApiClient({baseUrl: `${target}://127.0.0.1:${server.port}`, env: {[envVar]: proxyUrl}, timeoutMs: 5000, retry: {backoffMs: 1}})
      const error = await rejection(() => api.meta())
      api.close()
      expect(error.code).toBe('network')
      expect(error.details?.['phase']).toBe('tls')
      expect(error.message).toContain(`https://puser:***@127.0.0.1:${proxy.port}`)
      expect(error.message).toContain(envVar)
      expect(error.suggestions?.[0]).toBe(`Use the http:// scheme for the proxy: export ${envVar}=http://puser:***@127.0.0.1:${proxy.port} (with your real credentials in place of ***)`)
      expect(JSON.stringify(error)).not.toContain('ppass')
    })
  }
})

describe('classifyNetworkError', () => {
  const url = 'https://keys.example/v1/me'
  const err = (code: string, message = code): Error => Object.assign(new Error(message), {code})

  it('maps codes to phases', () => {
    expect(classifyNetworkError(err('ENOTFOUND'), {url}).details['phase']).toBe('dns')
    expect(classifyNetworkError(err('EAI_AGAIN'), {url}).details['phase']).toBe('dns')
    expect(classifyNetworkError(err('ECONNREFUSED'), {url}).details['phase']).toBe('connect')
    expect(classifyNetworkError(err('EHOSTUNREACH'), {url}).details['phase']).toBe('connect')
    expect(classifyNetworkError(err('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:443'), {url}).details['phase']).toBe('connect')
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']) {
      const e = classifyNetworkError(err(code), {url})
      expect(e.code).toBe('network')
      expect(e.details['phase']).toBe('tls')
      expect(e.message).toContain(code)
    }
  })

  it('suggests NODE_EXTRA_CA_CERTS for untrusted certificates, a matching host for altname errors', () => {
    expect(classifyNetworkError(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), {url}).suggestions.join('\n')).toContain('NODE_EXTRA_CA_CERTS')
    expect(classifyNetworkError(err('DEPTH_ZERO_SELF_SIGNED_CERT'), {url}).suggestions.join('\n')).toContain('NODE_EXTRA_CA_CERTS')
    expect(classifyNetworkError(err('ERR_TLS_CERT_ALTNAME_INVALID'), {url}).message).toContain('not valid for the host name "keys.example"')
  })

  it('names the proxy, with credentials redacted, for failures reaching it', () => {
    const e = classifyNetworkError(err('ECONNREFUSED'), {url, proxyUrl: 'http://me:hunter2@proxy.corp:3128', proxyEnvVar: 'HTTPS_PROXY'})
    expect(e.message).toContain('proxy http://me:***@proxy.corp:3128 (from HTTPS_PROXY)')
    expect(e.details).toMatchObject({proxy: 'http://me:***@proxy.corp:3128', phase: 'connect'})
    expect(JSON.stringify(e.toJSON())).not.toContain('hunter2')
    const dns = classifyNetworkError(err('ENOTFOUND'), {url, proxyUrl: 'http://proxy.corp:3128'})
    expect(dns.message).toContain('proxy host "proxy.corp" (proxy http://proxy.corp:3128)')
  })

  it('keeps only a sanitised cause (no request options, no secrets)', () => {
    const gotLike = Object.assign(new Error('boom Bearer aks_abcdefghijklmnopqrstuvwxyz'), {code: 'ECONNRESET', options: {headers: {authorization: 'Bearer aks_abcdefghijklmnopqrstuvwxyz'}}})
    const e = classifyNetworkError(gotLike, {url})
    expect(e.cause).toBeInstanceOf(Error)
    expect((e.cause as {options?: unknown}).options).toBeUndefined()
    expect(String(e.cause)).not.toContain('aks_abcdefghijklmnopqrstuvwxyz')
  })

  it('redactUrl removes credentials and secret query values', () => {
    expect(redactUrl('https://u:p@keys.example/x')).toBe('https://u:***@keys.example/x')
    expect(redactUrl('https://tok@keys.example/')).toBe('https://***@keys.example/')
    expect(redactUrl('https://keys.example/?token=abc&page=2')).toBe('https://keys.example/?token=***&page=2')
    expect(redactUrl('nonsense://a:b@c d')).not.toContain('a:b')
  })
})
