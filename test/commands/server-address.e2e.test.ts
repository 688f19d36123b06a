/**
 * `--server` names the key service itself: a trailing `/v1` (copied from a request
 * URL) means the service above it, and an address whose `GET /v1/meta` answers 404
 * is said to be no apikey service — before any password is sent to it.
 */
import {createServer, type Server} from 'node:http'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv, runCli} from '../helpers/cli.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
let other: Server
let otherUrl: string
/** Requests the other server received, as `METHOD path`. */
const seen: string[] = []

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
  // Some other HTTP API on the network: 404 problem details for every path.
  other = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`)
    res.writeHead(404, {'content-type': 'application/problem+json'})
    res.end(JSON.stringify({type: 'about:blank', title: 'Not Found', status: 404}))
  })
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  const address = other.address() as {port: number}
  otherUrl = `http://127.0.0.1:${address.port}`
})
afterAll(async () => {
  await new Promise((resolve) => other?.close(resolve))
  await svc?.close()
})

describe('--server', () => {
  it('with a trailing /v1 or /v1/ signs in to the service at the address above it, and remembers that address', async () => {
    for (const suffix of ['/v1', '/v1/']) {
      const env = await cliEnv()
      const login = await runCli(['login', '--server', `${svc.url}${suffix}`, '--username', 'ann', '--password-stdin', '--token-file', '--json'], {cwd: env.HOME!, env, input: PASSWORD})
      expect(login.code, login.stderr).toBe(0)
      expect(login.json.server.url).toBe(svc.url)
      const status = await runCli(['status', '--json'], {cwd: env.HOME!, env})
      expect(status.json.server.url, status.stdout).toBe(svc.url)
    }
  })

  it('naming something that answers GET /v1/meta with 404 says it is not an apikey key service (exit 1), and sends no password', async () => {
    const env = await cliEnv()
    const login = await runCli(['login', '--server', otherUrl, '--username', 'ann', '--password-stdin'], {cwd: env.HOME!, env, input: PASSWORD})
    expect(login.code).toBe(1)
    expect(login.stderr).toContain(`${otherUrl} is not an apikey key service`)
    expect(login.stderr).toMatch(/GET \S+\/v1\/meta answered HTTP 404/)
    expect(seen).toEqual(['GET /v1/meta'])

    // The same for the service's own address with a path that is not the service.
    const wrongPath = await runCli(['login', '--server', `${svc.url}/keys`, '--username', 'ann', '--password-stdin'], {cwd: env.HOME!, env, input: PASSWORD})
    expect(wrongPath.code).toBe(1)
    expect(wrongPath.stderr).toContain(`${svc.url}/keys is not an apikey key service`)
  })
})
