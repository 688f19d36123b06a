/**
 * Real sockets on 127.0.0.1 for the API client's transport tests: a forward
 * proxy (absolute-URI HTTP + CONNECT tunnels), canned HTTP(S) servers, a
 * blackhole, a closed port, and self-signed certificates made with `openssl`.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ApikeyError} from '../../../src/core/errors.js'

const HOST = '127.0.0.1'

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port))
  })
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy()
  if (server instanceof http.Server) server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return sockets
}

/** What the test proxy saw. */
export interface ProxyLog {
  /** `CONNECT host:port` tunnels opened. */
  connects: string[]
  /** Absolute-URI requests forwarded (`GET http://…`). */
  forwarded: string[]
  /** `Proxy-Authorization` values received. */
  proxyAuth: string[]
  /** Local ports of the proxy's outbound sockets: a target server seeing a request from one of these got it through the proxy. */
  outboundPorts: Set<number>
}

/** A running forward proxy. */
export interface TestProxy extends ProxyLog {
  port: number
  /** `http://127.0.0.1:<port>` */
  url: string
  close(): Promise<void>
}

/**
 * A tiny forward proxy: absolute-URI HTTP requests are forwarded with
 * `http.request`, `CONNECT` opens a TCP tunnel (`net.connect`). A target that
 * refuses the connection gets the client a `502`.
 */
export async function startProxy(): Promise<TestProxy> {
  const log: ProxyLog = {connects: [], forwarded: [], proxyAuth: [], outboundPorts: new Set()}
  const server = http.createServer((req, res) => {
    log.forwarded.push(`${req.method} ${req.url}`)
    if (req.headers['proxy-authorization']) log.proxyAuth.push(String(req.headers['proxy-authorization']))
    let target: URL
    try {
      target = new URL(req.url ?? '')
    } catch {
      res.writeHead(400).end('not an absolute URI')
      return
    }
    const headers = {...req.headers}
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const upstream = http.request({host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers, agent: false}, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('socket', (s) => s.on('connect', () => log.outboundPorts.add(s.localPort ?? 0)))
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, {'content-type': 'text/html'}).end('<html><body>502 Bad Gateway (test proxy)</body></html>')
    })
    req.pipe(upstream)
  })
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    log.connects.push(req.url ?? '')
    if (req.headers['proxy-authorization']) log.proxyAuth.push(String(req.headers['proxy-authorization']))
    const [host, port] = (req.url ?? '').split(':')
    const upstream = net.connect(Number(port), host ?? HOST, () => {
      log.outboundPorts.add(upstream.localPort ?? 0)
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => {
      client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nbad gateway')
    })
    client.on('error', () => upstream.destroy())
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
  })
  const sockets = track(server)
  const port = await listen(server)
  return Object.assign(log, {port, url: `http://${HOST}:${port}`, close: () => closeServer(server, sockets)})
}

/** One request a canned server received. */
export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
  remotePort: number
}

/** A running canned HTTP(S) server. */
export interface TestServer {
  port: number
  /** `http(s)://127.0.0.1:<port>` */
  url: string
  requests: SeenRequest[]
  close(): Promise<void>
}

/** Handler of a canned server: gets the request (body read) and answers. */
export type Handler = (req: SeenRequest, res: http.ServerResponse) => void

/**
 * A local HTTP (or, with `tls`, HTTPS) server answering with `handler`; every
 * request is recorded with its body and the client's port.
 */
export async function startServer(handler: Handler, tls?: {key: string; cert: string}): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen: SeenRequest = {method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), remotePort: req.socket.remotePort ?? 0}
      requests.push(seen)
      handler(seen, res)
    })
  }
  const server = tls ? https.createServer({key: tls.key, cert: tls.cert}, onRequest) : http.createServer(onRequest)
  const sockets = track(server)
  const port = await listen(server)
  return {port, url: `${tls ? 'https' : 'http'}://${HOST}:${port}`, requests, close: () => closeServer(server, sockets)}
}

/** Sends `body` as JSON with `status` (and `content-type`, default `application/json`). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers})
  res.end(text)
}

/** Sends an RFC 9457 problem (`application/problem+json`). */
export function sendProblem(res: http.ServerResponse, status: number, problem: Record<string, unknown>, headers: Record<string, string> = {}): void {
  sendJson(res, status, {type: 'about:blank', status, ...problem}, {'content-type': 'application/problem+json', ...headers})
}

/** A `MetaResponse` as the service would send it. */
export const META = {service: 'apikey', version: '0.1.0', keyPrefix: 'ak', keyEnvVar: 'API_KEY', authModes: ['password'], docsUrl: 'https://docs.example/apikey', environments: ['dev', 'test', 'stage', 'prod', 'ci']}

/** A server that accepts TCP connections and never answers. */
export async function startBlackhole(): Promise<{port: number; url: string; accepted: () => number; close(): Promise<void>}> {
  let accepted = 0
  const server = net.createServer(() => {
    accepted++
  })
  const sockets = track(server)
  const port = await listen(server)
  return {port, url: `http://${HOST}:${port}`, accepted: () => accepted, close: () => closeServer(server, sockets)}
}

/** A port that was bound and closed again: connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  const port = await listen(server)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A temporary directory and its remover. */
export function tempDir(prefix = 'apikey-api-'): {path: string; remove(): void} {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {path, remove: () => rmSync(path, {recursive: true, force: true})}
}

/** A self-signed certificate (P-256, 1 day) written to `dir`. */
export interface TestCert {
  keyPath: string
  certPath: string
  key: string
  cert: string
}

/**
 * Generates a self-signed certificate with the `openssl` CLI.
 *
 * @param san - subjectAltName, default `IP:127.0.0.1,DNS:localhost`.
 */
export function makeSelfSignedCert(dir: string, name: string, san = 'IP:127.0.0.1,DNS:localhost'): TestCert {
  const keyPath = join(dir, `${name}.key`)
  const certPath = join(dir, `${name}.pem`)
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-days', '1', '-keyout', keyPath, '-out', certPath],
    {stdio: 'ignore'},
  )
  return {keyPath, certPath, key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8')}
}

/** Runs `fn` and returns the {@link ApikeyError} it rejects with; throws (failing the test) if it resolves or rejects with anything else. */
export async function rejection(fn: () => Promise<unknown>): Promise<ApikeyError> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof ApikeyError) return error
    throw new Error(`expected an ApikeyError, got: ${String(error)}`, {cause: error})
  }
  throw new Error('expected a rejection, but the call succeeded')
}
