// HTTP/1.1 load generator of the benchmarks: keep-alive connections, each sending prebuilt
// request bytes one after another in its own order, with exact latency percentiles. It costs the
// bench process less per request than autocannon with a per-request setup (measured on this
// machine: about 24 vs 38 µs), which matters when the load generator and the service share 2 cores.
import net from 'node:net'

/** The bytes of one request to `url`'s host: {method, path, headers?, body?}. */
export function requestBytes(url, {method, path, headers = {}, body}) {
  const target = new URL(url)
  const payload = body === undefined ? undefined : Buffer.from(body)
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  if (payload !== undefined) head += `content-length: ${payload.length}\r\n`
  head += '\r\n'
  return payload === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), payload])
}

const CRLFCRLF = Buffer.from('\r\n\r\n')
const CHUNKED_END = Buffer.from('0\r\n\r\n')

/**
 * Sends requests on `connections` keep-alive connections for `seconds`. Connection c sends
 * `requests[order(c)[i % n]]` for i = 0, 1, … (each waits for the previous answer).
 * @param options.requests Buffers from {@link requestBytes}
 * @param options.order (c) => Uint32Array of indexes into requests, or undefined for 0, 1, 2, …
 * @param options.limit most requests per connection (then it stops early), default no limit
 * @returns {reqPerSec, requests, non2xx, errors, p50Ms, p99Ms, maxMs, seconds} — answers completed in the window.
 */
export async function rawLoad({url, requests, order = () => undefined, connections = 10, seconds, limit = Infinity}) {
  const target = new URL(url)
  const port = Number(target.port)
  const host = target.hostname.replace(/^\[|\]$/g, '')
  let latencies = new Float64Array(1 << 16)
  let count = 0
  let non2xx = 0
  let errors = 0
  const began = performance.now()
  const deadline = began + seconds * 1000
  const record = (ms) => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2)
      bigger.set(latencies)
      latencies = bigger
    }
    latencies[count++] = ms
  }
  await Promise.all(
    Array.from({length: connections}, (_, c) => {
      const seq = order(c)
      const n = seq === undefined ? requests.length : seq.length
      let i = 0
      return new Promise((resolve) => {
        let socket
        let pending = Buffer.alloc(0)
        let sentAt = 0
        let done = false
        const finish = () => {
          if (done) return
          done = true
          socket?.destroy()
          resolve()
        }
        const send = () => {
          if (performance.now() >= deadline || i >= limit) return finish()
          const index = seq === undefined ? i % n : seq[i % n]
          i++
          sentAt = performance.now()
          socket.write(requests[index])
        }
        const connect = () => {
          socket = net.connect({host, port})
          socket.setNoDelay(true)
          socket.on('connect', send)
          socket.on('data', (chunk) => {
            pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
            for (;;) {
              const headEnd = pending.indexOf(CRLFCRLF)
              if (headEnd < 0) return
              const head = pending.toString('latin1', 0, headEnd).toLowerCase()
              const status = Number(head.slice(9, 12))
              let end
              const lengthAt = head.indexOf('\r\ncontent-length:')
              if (lengthAt >= 0) {
                const length = parseInt(head.slice(lengthAt + 17), 10)
                end = headEnd + 4 + length
                if (pending.length < end) return
              } else if (head.includes('transfer-encoding: chunked')) {
                const at = pending.indexOf(CHUNKED_END, headEnd + 4)
                if (at < 0) return
                end = at + CHUNKED_END.length
              } else end = headEnd + 4
              pending = pending.subarray(end)
              const now = performance.now()
              if (now <= deadline) {
                record(now - sentAt)
                if (status < 200 || status >= 300) non2xx++
              }
              send()
              if (done) return
            }
          })
          socket.on('error', () => {
            errors++
          })
          socket.on('close', () => {
            if (done) return
            // The server closed the connection: open another (the unanswered request counts as an error).
            pending = Buffer.alloc(0)
            if (performance.now() >= deadline) return finish()
            setTimeout(connect, 10)
          })
        }
        connect()
      })
    }),
  )
  const elapsed = Math.min(seconds, (performance.now() - began) / 1000)
  const sorted = latencies.subarray(0, count).sort()
  const pick = (q) => (count === 0 ? null : Math.round(sorted[Math.min(count - 1, Math.floor(count * q))] * 1000) / 1000)
  return {reqPerSec: Math.round(count / elapsed), requests: count, non2xx, errors, p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: pick(1), seconds: Math.round(elapsed * 100) / 100}
}
