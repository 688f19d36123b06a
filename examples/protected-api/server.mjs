#!/usr/bin/env node
// A tiny protected API: every request needs an app's API key (X-API-Key or
// Authorization: Bearer), verified by `apikey/verify` against the key service.
//
//   APIKEY_SERVICE_URL     key service base URL (default http://127.0.0.1:4000)
//   APIKEY_VERIFIER_TOKEN  verifier token (akv_…) — required
//   PORT                   port to listen on (default 3000; 0 = any free port)
//
// Prints {"url": …} on stdout once listening. On SIGTERM/SIGINT it stops
// accepting connections, lets in-flight requests finish, flushes usage events
// within 5 s and prints the verifier's close report on stderr.
import {createServer} from 'node:http'
// In your own project: import {createVerifier, nodeMiddleware} from 'apikey/verify'
import {createVerifier, nodeMiddleware} from '../../dist/verify/index.js'

const serviceUrl = process.env.APIKEY_SERVICE_URL ?? 'http://127.0.0.1:4000'
const verifierToken = process.env.APIKEY_VERIFIER_TOKEN
if (verifierToken === undefined || verifierToken === '') {
  console.error('protected-api: set APIKEY_VERIFIER_TOKEN to a verifier token (create one with: apikey server verifiers add protected-api)')
  process.exit(2)
}

const verifier = createVerifier({serviceUrl, verifierToken, stalenessMs: 5000, hardCeilingMs: 60_000})

/** Route templates (never the concrete path) for usage reports. */
const routes = [
  {template: '/v1/forecast/:city', pattern: /^\/v1\/forecast\/([a-z-]+)$/},
  {template: '/v1/whoami', pattern: /^\/v1\/whoami$/},
]
const match = (url) => {
  const path = (url ?? '/').split('?')[0]
  for (const route of routes) {
    const m = route.pattern.exec(path)
    if (m !== null) return {template: route.template, params: m.slice(1)}
  }
  return null
}

const requireKey = nodeMiddleware(verifier, {route: (req) => match(req.url)?.template})

// When the key service cannot be asked (down, or it refuses this verifier token), callers get 503:
// say why in this process's log — the first failure at once, then at most every 10 s — so an
// operator can fix it.
let lastReported = ''
let lastReportedAt = 0
function reportFailure() {
  const failure = verifier.stats().lastFailure
  if (failure === null || failure.at <= lastReportedAt) return
  if (lastReportedAt !== 0 && (Date.now() - lastReportedAt < 10_000 || (failure.reason === lastReported && Date.now() - lastReportedAt < 60_000))) return
  lastReported = failure.reason
  lastReportedAt = Date.now()
  console.error(`protected-api: the key service could not be asked at ${new Date(failure.at).toISOString()}: ${failure.reason}`)
}
setInterval(reportFailure, 10_000).unref()

// Check the verifier token before taking requests: a rejected token is a configuration error.
const check = await verifier.check()
if (!check.ok && check.rejected) {
  console.error(`protected-api: verifier token rejected by ${serviceUrl}: ${check.reason}`)
  process.exit(1)
}
if (!check.ok) {
  console.error(`protected-api: the key service at ${serviceUrl} could not be asked yet (${check.reason}); starting anyway, callers get 503 until it answers`)
  lastReportedAt = Date.now()
  lastReported = check.reason
}

const server = createServer((req, res) => {
  const route = match(req.url)
  if (route === null) {
    res.writeHead(404, {'content-type': 'application/problem+json'})
    res.end(JSON.stringify({type: 'about:blank', title: 'Not found', status: 404}))
    return
  }
  res.on('finish', reportFailure)
  requireKey(req, res, (error) => {
    if (error !== undefined) {
      res.writeHead(500).end()
      return
    }
    const {app, team, env, keyId} = req.apikey
    res.writeHead(200, {'content-type': 'application/json'})
    if (route.template === '/v1/whoami') return res.end(JSON.stringify({app, team, env, keyId}))
    res.end(JSON.stringify({city: route.params[0], forecast: 'sunny', servedTo: {app, team}}))
  })
})

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({url: `http://127.0.0.1:${server.address().port}`})}\n`)
})

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  const closed = new Promise((resolve) => server.close(resolve))
  server.closeIdleConnections()
  // Reserve the deadline for the usage flush; in-flight requests finish meanwhile.
  const report = await verifier.close({deadlineMs: 5000})
  await closed
  console.error(JSON.stringify({event: 'shutdown', signal, usage: report}))
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
