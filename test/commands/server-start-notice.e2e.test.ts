/**
 * `apikey server start` as the real binary: without --public-url it says, on one stderr line at
 * start, that links are built from each request's Host header and how to fix them behind a
 * gateway; with --public-url it does not. Each service listens on 127.0.0.1:0 with its database
 * in a temp dir, and is stopped with SIGTERM.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, cliEnv} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

/** Starts the service, waits until it says how to stop it, stops it; returns its stderr and exit code. */
async function startAndStop(extra: string[]): Promise<{stderr: string; code: number | null}> {
  const dir = await tempDir('apikey-start-')
  const child = spawn(process.execPath, [BIN, 'server', 'start', '--port', '0', '--db', join(dir, 'apikey.db'), '--log-level', 'warn', ...extra], {
    env: await cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      if (stderr.includes('stop with Ctrl+C')) resolve()
    })
    child.once('exit', () => reject(new Error(`server start exited early: ${stderr}`)))
  })
  child.kill('SIGTERM')
  const code = await exited
  return {stderr, code}
}

describe('apikey server start: where links point', () => {
  it('without --public-url: one stderr line says links come from the Host header and names --public-url and exposing /docs', async () => {
    const {stderr} = await startAndStop([])
    const lines = stderr.split('\n').filter((l) => l.includes('--public-url'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/Host header/)
    expect(lines[0]).toMatch(/\/docs/)
  })

  it('with --public-url: no such line', async () => {
    const {stderr} = await startAndStop(['--public-url', 'https://apikey.acme.test'])
    expect(stderr).toContain('stop with Ctrl+C')
    expect(stderr).not.toContain('Host header')
  })
})
