/**
 * The key service as a real subprocess (`node bin/run.js server start --port 0`), for
 * tests that need a second process on one database or a `kill -9`; plus a usage batch sender.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {BIN, cliEnv} from '../helpers/cli.js'

/** A started `apikey server start` subprocess. */
export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Everything written to stderr so far. */
  stderr(): string
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>
}

/** What a `server start` that did not come up printed. */
export interface StartRefused {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Starts `apikey server start --db dbPath --port 0` and resolves once it listens, or —
 * when it exits first — with its exit code and output.
 */
export async function spawnService(dbPath: string, extraArgs: string[] = []): Promise<ServiceProcess | StartRefused> {
  const env = Object.fromEntries(Object.entries(await cliEnv()).filter(([, v]) => v !== undefined)) as Record<string, string>
  const child = spawn(process.execPath, [BIN, 'server', 'start', '--port', '0', '--db', dbPath, '--log-level', 'warn', ...extraArgs], {env, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  // Once it listens, the service prints its URL as the first line of stdout.
  const started = await new Promise<{url: string} | undefined>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const line = stdout.split('\n')[0]
      if (stdout.includes('\n') && line !== undefined && line.startsWith('http://')) resolve({url: line})
    })
    void exited.then(() => resolve(undefined))
  })
  if (started === undefined) return {code: await exited, stdout, stderr}
  return {child, url: started.url, stderr: () => stderr, exited}
}

/** Did {@link spawnService} start a service? */
export function isRunning(result: ServiceProcess | StartRefused): result is ServiceProcess {
  return 'url' in result
}

/** Ends a service subprocess: SIGTERM (or the given signal), then waits for its exit. */
export async function stopService(service: ServiceProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal)
  return service.exited
}

/** One usage batch: its events, the verifications they stand for, and the Idempotency-Key it is always sent under. */
export interface Batch {
  idempotencyKey: string
  events: Array<Record<string, unknown>>
  /** Sum of the events' counts. */
  verifications: number
}

/** `n` batches of `eventsPerBatch` events of key `keyId` at `at`, each batch a different number of verifications. */
export function makeBatches(n: number, eventsPerBatch: number, keyId: string, at: number, prefix = 'batch'): Batch[] {
  return Array.from({length: n}, (_, b) => {
    const events = Array.from({length: eventsPerBatch}, (_, i) => ({keyId, code: 'VALID', route: `/r/${i % 7}`, clientApp: 'com.example.weather', appVersion: `1.${b % 3}`, clientIp: `192.0.2.${i % 50}`, at, count: 1 + ((b + i) % 4)}))
    return {idempotencyKey: `${prefix}-${b}`, events, verifications: events.reduce((sum, e) => sum + e.count, 0)}
  })
}

/** Sends a batch to `POST /v1/usage`; resolves with the status, the Retry-After header and the body (undefined when the connection failed). */
export async function sendBatch(url: string, verifierToken: string, batch: Batch): Promise<{status: number; retryAfter: string | null; body: any} | undefined> {
  try {
    const res = await fetch(`${url}/v1/usage`, {
      method: 'POST',
      headers: {authorization: `Bearer ${verifierToken}`, 'content-type': 'application/json', 'idempotency-key': batch.idempotencyKey},
      body: JSON.stringify({events: batch.events}),
    })
    const text = await res.text()
    return {status: res.status, retryAfter: res.headers.get('retry-after'), body: text === '' ? undefined : JSON.parse(text)}
  } catch {
    return undefined
  }
}
