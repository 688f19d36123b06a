/**
 * The verifier's HTTP transport: one POST of a JSON body, answered with a
 * status and a text body.
 *
 * Default: `node:http`/`node:https` with a keep-alive agent. Chosen over the
 * global `fetch` because a verifier makes many small server-to-server calls:
 * `http.request` with a pooled keep-alive socket avoids the WHATWG stream and
 * `Response` machinery on every call, needs no dependency, bounds the socket
 * pool explicitly (`maxSockets`), and reports refused connections with their
 * plain error codes (`ECONNREFUSED`). `got` (used by the CLI) adds retries and
 * hooks a verifier must not have: a retry would hide an outage the verifier
 * has to decide about itself. A `fetch`-shaped function can be injected for
 * failures that cannot be caused for real (see {@link fetchTransport}).
 */
import http from 'node:http'
import https from 'node:https'

/** One request of the transport. */
export interface TransportRequest {
  url: URL
  /** Header names in lower case. */
  headers: Record<string, string>
  /** JSON text. */
  body: string
  /** Aborts the request (timeouts, close). */
  signal: AbortSignal
}

/** The answer: status and body text (bodies over {@link MAX_RESPONSE_BYTES} are an error). */
export interface TransportResponse {
  status: number
  body: string
}

/** Sends one POST; rejects on network errors, aborts and oversized bodies. */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>

/** A transport that can also release its pooled sockets. */
export interface ClosableTransport {
  send: Transport
  /** Destroys idle keep-alive sockets. */
  close(): void
}

/** Largest response body accepted, in bytes (a verdict is well under 4 KB). */
export const MAX_RESPONSE_BYTES = 1_048_576

/** The `fetch` function shape accepted for injection (the global `fetch` fits). */
export type FetchLike = (url: string, init: {method: string; headers: Record<string, string>; body: string; signal: AbortSignal}) => Promise<{status: number; text(): Promise<string>}>

/**
 * The default transport: `node:http(s)` with keep-alive.
 * @param maxSockets most concurrent connections to the service (default 64).
 */
export function nodeHttpTransport(maxSockets = 64): ClosableTransport {
  const agents = {
    'http:': new http.Agent({keepAlive: true, maxSockets, keepAliveMsecs: 1000}),
    'https:': new https.Agent({keepAlive: true, maxSockets, keepAliveMsecs: 1000}),
  }
  const send: Transport = (request) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const isHttps = request.url.protocol === 'https:'
      const module = isHttps ? https : http
      const req = module.request(request.url, {
        method: 'POST',
        agent: isHttps ? agents['https:'] : agents['http:'],
        headers: {...request.headers, 'content-length': String(Buffer.byteLength(request.body))},
        signal: request.signal,
      })
      req.on('error', reject)
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy()
            reject(new Error(`response body over ${MAX_RESPONSE_BYTES} bytes`))
            return
          }
          chunks.push(chunk)
        })
        res.on('error', reject)
        res.on('aborted', () => reject(new Error('response aborted')))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
      })
      req.end(request.body)
    })
  return {
    send,
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}

/** Adapts an injected `fetch` to a {@link Transport}. */
export function fetchTransport(fetchFn: FetchLike): ClosableTransport {
  return {
    async send(request) {
      const res = await fetchFn(request.url.toString(), {method: 'POST', headers: request.headers, body: request.body, signal: request.signal})
      return {status: res.status, body: await res.text()}
    },
    close() {},
  }
}
