import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createApiClient, isNoProxy, resolveProxy, validateProxyUrl} from '../../../src/lib/api/index.js'
import {META, closedPort, rejection, sendJson, startProxy, startServer, type TestProxy, type TestServer} from './helpers.js'

describe('resolveProxy (proxy env conventions)', () => {
  it('uses HTTPS_PROXY for https and HTTP_PROXY for http, in either case, lower case winning', () => {
    expect(resolveProxy('https://svc.example/v1/meta', {HTTPS_PROXY: 'http://up:1'})).toEqual({url: 'http://up:1', envVar: 'HTTPS_PROXY'})
    expect(resolveProxy('https://svc.example/v1/meta', {https_proxy: 'http://low:1'})).toEqual({url: 'http://low:1', envVar: 'https_proxy'})
    expect(resolveProxy('https://svc.example/', {HTTPS_PROXY: 'http://up:1', https_proxy: 'http://low:1'})?.envVar).toBe('https_proxy')
    expect(resolveProxy('http://svc.example/', {HTTP_PROXY: 'http://p:2', HTTPS_PROXY: 'http://q:3'})).toEqual({url: 'http://p:2', envVar: 'HTTP_PROXY'})
    expect(resolveProxy('http://svc.example/', {HTTPS_PROXY: 'http://q:3'})).toBeUndefined()
    expect(resolveProxy('https://svc.example/', {ALL_PROXY: 'socks5://s:1080'})).toEqual({url: 'socks5://s:1080', envVar: 'ALL_PROXY'})
    expect(resolveProxy('https://svc.example/', {HTTPS_PROXY: ''})).toBeUndefined()
  })

  it('reads a proxy without a scheme as http:// (as curl), never as https://', () => {
    expect(resolveProxy('https://svc.example/', {HTTPS_PROXY: 'proxy.corp:3128'})?.url).toBe('http://proxy.corp:3128')
  })

  it('honours NO_PROXY: *, names with subdomains, leading dots, ports, IPs and CIDR blocks', () => {
    expect(isNoProxy('svc.example', 443, {NO_PROXY: '*'})).toBe(true)
    expect(isNoProxy('svc.example', 443, {no_proxy: 'example'})).toBe(true)
    expect(isNoProxy('a.svc.example', 443, {NO_PROXY: '.svc.example'})).toBe(true)
    expect(isNoProxy('a.svc.example', 443, {NO_PROXY: '*.svc.example'})).toBe(true)
    expect(isNoProxy('svc.example', 443, {NO_PROXY: 'other.example, svc.example'})).toBe(true)
    expect(isNoProxy('notsvc.example', 443, {NO_PROXY: 'svc.example'})).toBe(false)
    expect(isNoProxy('svc.example', 443, {NO_PROXY: 'svc.example:8443'})).toBe(false)
    expect(isNoProxy('svc.example', 8443, {NO_PROXY: 'svc.example:8443'})).toBe(true)
    expect(isNoProxy('127.0.0.1', 80, {NO_PROXY: '127.0.0.1'})).toBe(true)
    expect(isNoProxy('10.1.2.3', 80, {NO_PROXY: '10.0.0.0/8'})).toBe(true)
    expect(isNoProxy('11.1.2.3', 80, {NO_PROXY: '10.0.0.0/8'})).toBe(false)
    expect(isNoProxy('::1', 80, {NO_PROXY: '[::1]'})).toBe(true)
    expect(resolveProxy('https://svc.example/', {HTTPS_PROXY: 'http://p:1', NO_PROXY: 'svc.example'})).toBeUndefined()
  })

  it('rejects unusable proxy URLs with a reason', () => {
    expect(validateProxyUrl('http://p:3128')).toBeUndefined()
    expect(validateProxyUrl('ftp://p:21')).toMatch(/not supported/)
    expect(validateProxyUrl('http://')).toBeDefined()
  })
})

describe('every request goes through a real forward proxy', () => {
  let proxy: TestProxy
  let server: TestServer

  beforeAll(async () => {
    proxy = await startProxy()
    server = await startServer((req, res) => {
      if (req.url === '/v1/meta') sendJson(res, 200, META)
      else if (req.url === '/v1/me') sendJson(res, 200, {user: {id: 'u1', username: 'alice', isAdmin: false}, teams: [], sessionExpiresAt: 1})
      else if (req.url === '/v1/apps') sendJson(res, 200, {apps: []})
      else sendJson(res, 404, {})
    })
  })
  afterAll(async () => {
    await server.close()
    await proxy.close()
  })

  for (const envVar of ['HTTP_PROXY', 'http_proxy', 'ALL_PROXY']) {
    it(`${envVar}: all calls of a command are forwarded by the proxy`, async () => {
      const before = {forwarded: proxy.forwarded.length, requests: server.requests.length}
      const api = createApiClient({baseUrl: server.url, token: 'aks_test-token-0123456789', env: {[envVar]: proxy.url}})
      try {
        await api.meta()
        await api.me()
        await api.listApps()
      } finally {
        api.close()
      }
      const seen = server.requests.slice(before.requests)
      expect(proxy.forwarded.slice(before.forwarded)).toEqual([`GET ${server.url}/v1/meta`, `GET ${server.url}/v1/me`, `GET ${server.url}/v1/apps`])
      expect(seen).toHaveLength(3)
      for (const r of seen) expect(proxy.outboundPorts.has(r.remotePort)).toBe(true)
    })
  }

  for (const envVar of ['HTTPS_PROXY', 'https_proxy']) {
    it(`${envVar}: an https:// service is reached through a CONNECT tunnel`, async () => {
      // Plain HTTP on the target port: the tunnel opens, the TLS handshake inside it fails —
      // enough to prove the route (successful HTTPS through the proxy is covered with a trusted CA in tls.test.ts).
      const before = proxy.connects.length
      const api = createApiClient({baseUrl: `https://127.0.0.1:${server.port}`, env: {[envVar]: proxy.url}, timeoutMs: 5000})
      const error = await rejection(() => api.meta())
      api.close()
      expect(proxy.connects.slice(before)[0]).toBe(`127.0.0.1:${server.port}`)
      expect(error.code).toBe('network')
      expect(error.details?.['phase']).toBe('tls')
      expect(error.message).toContain(proxy.url)
      expect(error.details?.['proxyEnvVar']).toBe(envVar)
    })
  }

  it('NO_PROXY (either case) bypasses the proxy', async () => {
    for (const noProxyVar of ['NO_PROXY', 'no_proxy']) {
      const before = {forwarded: proxy.forwarded.length, connects: proxy.connects.length}
      const api = createApiClient({baseUrl: server.url, env: {HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, [noProxyVar]: 'localhost,127.0.0.1'}})
      await expect(api.meta()).resolves.toMatchObject({service: 'apikey'})
      api.close()
      expect(proxy.forwarded.length).toBe(before.forwarded)
      expect(proxy.connects.length).toBe(before.connects)
      const last = server.requests.at(-1)
      expect(last && proxy.outboundPorts.has(last.remotePort)).toBe(false)
    }
  })

  it('a proxy that refuses connections is named, credentials redacted', async () => {
    const port = await closedPort()
    const api = createApiClient({baseUrl: server.url, env: {http_proxy: `http://proxyuser:s3cretpass@127.0.0.1:${port}`}, retry: {backoffMs: 1}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(error.code).toBe('network')
    expect(error.details?.['phase']).toBe('connect')
    expect(error.message).toContain(`http://proxyuser:***@127.0.0.1:${port}`)
    expect(error.message).toContain('http_proxy')
    expect(error.message).toContain(`${server.url}/v1/meta`)
    expect(JSON.stringify((error as unknown as {toJSON(): unknown}).toJSON())).not.toContain('s3cretpass')
    expect(String((error as {cause?: unknown}).cause)).not.toContain('s3cretpass')
  })

  it('proxy credentials are sent to the proxy, never to the debug output', async () => {
    const lines: string[] = []
    const proxyWithCreds = proxy.url.replace('http://', 'http://proxyuser:s3cretpass@')
    const api = createApiClient({baseUrl: server.url, env: {HTTP_PROXY: proxyWithCreds}, debug: (l) => lines.push(l)})
    await api.meta()
    api.close()
    expect(proxy.proxyAuth.at(-1)).toBe(`Basic ${Buffer.from('proxyuser:s3cretpass').toString('base64')}`)
    expect(lines.join('\n')).toContain('proxyuser:***@')
    expect(lines.join('\n')).not.toContain('s3cretpass')
  })

  it('a proxy answering 502 for an unreachable service is reported as the proxy’s answer', async () => {
    const port = await closedPort()
    const before = proxy.forwarded.length
    const api = createApiClient({baseUrl: `http://127.0.0.1:${port}`, env: {HTTP_PROXY: proxy.url}, retry: {backoffMs: 1}})
    const error = await rejection(() => api.meta())
    api.close()
    // GET is retried on 502; every attempt is an absolute-URI request to the proxy.
    expect(proxy.forwarded.slice(before)).toEqual(Array(3).fill(`GET http://127.0.0.1:${port}/v1/meta`))
    expect(error.code).toBe('server_error')
    expect(error.details?.['reason']).toBe('not_apikey_service')
    expect(error.message).toContain('through proxy')
    expect(error.message).toContain('HTTP 502')
  })

  it('an unsupported proxy scheme is a usage error naming the variable', async () => {
    const api = createApiClient({baseUrl: server.url, env: {HTTP_PROXY: 'ftp://u:pw@proxy:21'}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(error.code).toBe('usage')
    expect(error.message).toContain('HTTP_PROXY')
    expect(error.message).not.toContain(':pw@')
  })
})
