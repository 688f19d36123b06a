/**
 * The example protected API (examples/protected-api/server.mjs) as a real
 * process against the wire-contract stand-in: 401 without a key, 200 with one,
 * and SIGTERM flushes usage and prints the close report. Needs dist/
 * (`npm run build`, which `npm test` runs first).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {FakeClock, startStandin, TOKEN, type Standin} from './helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(`${root}dist/verify/index.js`)

let standin: Standin
let child: ChildProcess | undefined

beforeEach(async () => {
  standin = await startStandin(new FakeClock(Date.now()))
})
afterEach(async () => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL')
  await standin.close()
})

describe.skipIf(!built)('examples/protected-api', () => {
  it('401 names `apikey init`; 200 with a key; SIGTERM flushes usage and reports the counts', async () => {
    const key = standin.issue()
    child = spawn(process.execPath, ['examples/protected-api/server.mjs'], {
      cwd: root,
      env: {...process.env, APIKEY_SERVICE_URL: standin.url, APIKEY_VERIFIER_TOKEN: TOKEN, PORT: '0'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', () => {
        const line = stdout.split('\n').find((l) => l.startsWith('{'))
        if (line !== undefined) resolve((JSON.parse(line) as {url: string}).url)
      })
      child!.on('exit', (code) => reject(new Error(`example exited ${code}: ${stderr}`)))
    })

    const missing = await fetch(`${url}/v1/forecast/paris`)
    expect(missing.status).toBe(401)
    expect(((await missing.json()) as {detail: string}).detail).toContain('apikey init')
    for (let i = 0; i < 5; i++) {
      const ok = await fetch(`${url}/v1/forecast/paris`, {headers: {'X-API-Key': key}})
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({city: 'paris', forecast: 'sunny', servedTo: {app: 'weather-app', team: 'weather'}})
    }

    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    const report = JSON.parse(stderr.trim().split('\n').at(-1)!) as {signal: string; usage: {sent: number; dropped: number; flushed: boolean}}
    expect(report).toMatchObject({signal: 'SIGTERM', usage: {sent: 6, dropped: 0, flushed: true}})
    expect(standin.acknowledgedEvents).toBe(6)
    // Six verifications of the route, aggregated: the missing key, the miss and the four cache hits (one event, count 4).
    const events = standin.usageBodies.flatMap((b) => b.events).filter((e) => e.route === '/v1/forecast/:city')
    expect(events.reduce((n, e) => n + e.count, 0)).toBe(6)
    expect(events.map((e) => [e.code, e.source, e.count])).toEqual([
      ['MALFORMED', 'local', 1],
      ['VALID', 'service', 1],
      ['VALID', 'cache', 4],
    ])
  })
})
