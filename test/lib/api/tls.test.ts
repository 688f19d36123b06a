import {execFileSync, spawn} from 'node:child_process'
import {symlinkSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createApiClient} from '../../../src/lib/api/index.js'
import {META, makeSelfSignedCert, rejection, sendJson, startProxy, startServer, tempDir, type TestCert, type TestProxy, type TestServer} from './helpers.js'

const ROOT = resolve(import.meta.dirname, '../../..')

/**
 * NODE_EXTRA_CA_CERTS is read once at process start, so the "trusted" half of
 * these tests runs the real client (compiled with tsc) in a child `node`
 * process started with it.
 */
describe('TLS failures and NODE_EXTRA_CA_CERTS', () => {
  let dir: ReturnType<typeof tempDir>
  let trusted: TestCert
  let wrongName: TestCert
  let good: TestServer
  let misnamed: TestServer
  let proxy: TestProxy
  let childDir: string

  beforeAll(async () => {
    dir = tempDir('apikey-tls-')
    trusted = makeSelfSignedCert(dir.path, 'localhost')
    wrongName = makeSelfSignedCert(dir.path, 'other.example', 'DNS:other.example')
    const meta = (_req: unknown, res: Parameters<typeof sendJson>[0]): void => sendJson(res, 200, META)
    good = await startServer(meta, trusted)
    misnamed = await startServer(meta, wrongName)
    proxy = await startProxy()

    // Compile the client (and what it imports) for the child process.
    childDir = join(dir.path, 'child')
    execFileSync(process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      join(ROOT, 'src/lib/api/index.ts'),
      '--outDir', join(childDir, 'out'),
      '--rootDir', join(ROOT, 'src'),
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--skipLibCheck', '--types', 'node', '--declaration', 'false', '--sourceMap', 'false',
    ], {stdio: 'pipe'})
    writeFileSync(join(childDir, 'package.json'), '{"type": "module"}\n')
    symlinkSync(join(ROOT, 'node_modules'), join(childDir, 'node_modules'), 'dir')
    writeFileSync(
      join(childDir, 'run.mjs'),
      `import {createApiClient} from './out/lib/api/index.js'
const scenarios = JSON.parse(process.argv[2])
const results = {}
for (const [name, s] of Object.entries(scenarios)) {
  const api = createApiClient({baseUrl: s.baseUrl, env: s.env, timeoutMs: 5000})
  try {
    const meta = await api.meta()
    results[name] = {ok: true, service: meta.service}
  } catch (e) {
    results[name] = {ok: false, code: e.code, phase: e.details?.phase, errorCode: e.details?.errorCode, message: e.message}
  } finally {
    api.close()
  }
}
process.stdout.write(JSON.stringify(results))
`,
    )
  })

  afterAll(async () => {
    await good?.close()
    await misnamed?.close()
    await proxy?.close()
    dir?.remove()
  })

  it('an untrusted (self-signed) certificate → network, phase tls, names the code, suggests NODE_EXTRA_CA_CERTS', async () => {
    const api = createApiClient({baseUrl: good.url, env: {}})
    const error = await rejection(() => api.meta())
    api.close()
    expect(error.code).toBe('network')
    expect(error.details).toMatchObject({phase: 'tls', errorCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', url: `${good.url}/v1/meta`})
    expect(error.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT')
    expect(error.suggestions?.join('\n')).toContain('NODE_EXTRA_CA_CERTS')
    expect(good.requests).toHaveLength(0)
  })

  it('with NODE_EXTRA_CA_CERTS the same server works — directly and through HTTPS_PROXY / https_proxy', async () => {
    const bundle = join(dir.path, 'bundle.pem')
    writeFileSync(bundle, trusted.cert + wrongName.cert)
    const scenarios = {
      direct: {baseUrl: good.url, env: {}},
      upper: {baseUrl: good.url, env: {HTTPS_PROXY: proxy.url}},
      lower: {baseUrl: good.url, env: {https_proxy: proxy.url}},
      bypass: {baseUrl: good.url, env: {HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1'}},
      altname: {baseUrl: misnamed.url, env: {}},
    }
    const connectsBefore = proxy.connects.length
    const requestsBefore = good.requests.length
    const out = await new Promise<string>((done, fail) => {
      const child = spawn(process.execPath, [join(childDir, 'run.mjs'), JSON.stringify(scenarios)], {
        cwd: childDir,
        env: {PATH: process.env['PATH'] ?? '', NODE_EXTRA_CA_CERTS: bundle},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', fail)
      child.on('close', (code) => (code === 0 ? done(stdout) : fail(new Error(`child exited ${code}: ${stderr}`))))
    })
    const results = JSON.parse(out) as Record<string, {ok: boolean; code?: string; phase?: string; errorCode?: string}>
    expect(results['direct']).toEqual({ok: true, service: 'apikey'})
    expect(results['upper']).toEqual({ok: true, service: 'apikey'})
    expect(results['lower']).toEqual({ok: true, service: 'apikey'})
    expect(results['bypass']).toEqual({ok: true, service: 'apikey'})
    expect(results['altname']).toMatchObject({ok: false, code: 'network', phase: 'tls', errorCode: 'ERR_TLS_CERT_ALTNAME_INVALID'})
    // Two of the four successful calls went through the proxy's CONNECT tunnel.
    expect(proxy.connects.slice(connectsBefore)).toEqual([`127.0.0.1:${good.port}`, `127.0.0.1:${good.port}`])
    const served = good.requests.slice(requestsBefore)
    expect(served).toHaveLength(4)
    expect(served.filter((r) => proxy.outboundPorts.has(r.remotePort))).toHaveLength(2)
  })
})
