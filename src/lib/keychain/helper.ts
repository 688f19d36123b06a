/**
 * Runs `@napi-rs/keyring` calls in a short-lived child process so that every
 * call can be time-boxed for real.
 *
 * Why a child process: the binding's `Entry` constructor connects to D-Bus
 * synchronously, and a D-Bus endpoint that accepts but never answers (or a
 * locked keyring waiting on a prompt) blocks it indefinitely. A blocked call on
 * the main thread or the libuv pool cannot be cancelled and would keep the CLI
 * from exiting; a worker thread stuck in native code cannot be terminated
 * either. A child process can always be killed (SIGKILL).
 *
 * The child's command line holds only the helper's source (no secret).
 * Requests (including secrets to write) go over the child's stdin as one JSON
 * document; results (including secrets read) come back on its stdout. The
 * native module is loaded only in the child, so the CLI process never loads it
 * (a missing prebuilt binary only disables the keychain).
 */
import {spawn} from 'node:child_process'

/** One keychain operation for the helper. */
export type HelperOp =
  | {op: 'get'; service: string; account: string}
  | {op: 'set'; service: string; account: string; secret: string}
  | {op: 'delete'; service: string; account: string}

/** Result of one {@link HelperOp}: `value` is the password (get) or whether an entry was deleted (delete). */
export type HelperOpResult = {ok: true; value?: string | boolean | null} | {ok: false; message: string; code?: string}

/** What the helper answered. */
export type HelperOutcome =
  /** Ran the ops in order, stopping after the first failure (so `results` may be shorter than the ops). */
  | {kind: 'results'; results: HelperOpResult[]; elapsedMs: number}
  /** The native module could not be loaded in the child. */
  | {kind: 'load-failed'; message: string; elapsedMs: number}
  /** No answer within the time box; the child was killed. */
  | {kind: 'timeout'; elapsedMs: number}
  /** The child could not be started, crashed, or answered garbage. */
  | {kind: 'crashed'; message: string; elapsedMs: number}

/** Inputs of {@link runHelper}. */
export interface HelperRequest {
  /** Absolute path of the `@napi-rs/keyring` entry module. */
  modulePath: string
  /** Linux store to pin entries to (`secret-service`), so a missing store throws instead of falling back. */
  linuxStore: 'secret-service'
  ops: HelperOp[]
}

/**
 * Source of the helper, run as `node -e HELPER_SOURCE` (CommonJS). Reads one
 * JSON request from stdin, writes one JSON answer to stdout. Never prints a
 * secret anywhere else.
 */
export const HELPER_SOURCE = String.raw`'use strict'
const chunks = []
process.stdin.on('data', (c) => chunks.push(c))
process.stdin.on('end', () => {
  let req
  try { req = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { return reply({fatal: 'crashed', message: 'helper received an unreadable request'}) }
  let mod
  try { mod = require(req.modulePath) } catch (e) { return reply({fatal: 'load-failed', message: describeLoadError(e)}) }
  const options = {linux: {store: req.linuxStore}}
  const results = []
  for (const op of req.ops) {
    try {
      const entry = new mod.Entry(op.service, op.account, options)
      if (op.op === 'get') results.push({ok: true, value: entry.getPassword()})
      else if (op.op === 'set') { entry.setPassword(op.secret); results.push({ok: true}) }
      else if (op.op === 'delete') results.push({ok: true, value: entry.deleteCredential()})
      else { results.push({ok: false, message: 'unknown helper operation'}); break }
    } catch (e) {
      results.push({ok: false, message: String((e && e.message) || e), code: e && typeof e.code === 'string' ? e.code : undefined})
      break
    }
  }
  reply({results})
})
function describeLoadError(e) {
  // @napi-rs/keyring chains its load errors newest-first; the deepest cause is the first attempt.
  let first = e
  for (let i = 0; first && first.cause && i < 20; i++) first = first.cause
  const why = String((first && first.message) || first).split('\n')[0]
  return 'no native binary for ' + process.platform + '-' + process.arch + ' could be loaded: ' + why
}
function reply(obj) { process.stdout.write(JSON.stringify(obj), () => process.exit(0)) }
`

/** Largest helper answer we accept, in bytes (a guard against runaway output). */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024

/**
 * Runs `request.ops` in a fresh child process (`process.execPath -e …`) with
 * environment `env`, killing it after `timeoutMs` milliseconds.
 *
 * Never rejects: every failure is an outcome. Messages come from the child
 * verbatim; callers redact secrets before showing them.
 */
export function runHelper(request: HelperRequest, env: Record<string, string | undefined>, timeoutMs: number): Promise<HelperOutcome> {
  const started = Date.now()
  const elapsed = () => Date.now() - started
  // NODE_OPTIONS could preload code or open an inspector port in the helper; it needs none of it.
  const childEnv: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined && name !== 'NODE_OPTIONS') childEnv[name] = value

  return new Promise((resolve) => {
    let settled = false
    const finish = (outcome: HelperOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(outcome)
    }
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(process.execPath, ['-e', HELPER_SOURCE], {env: childEnv, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true})
    } catch (error) {
      resolve({kind: 'crashed', message: `could not start the keychain helper: ${(error as Error).message}`, elapsedMs: elapsed()})
      return
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({kind: 'timeout', elapsedMs: elapsed()})
    }, timeoutMs)

    const out: Buffer[] = []
    let outBytes = 0
    let errTail = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length
      if (outBytes > MAX_OUTPUT_BYTES) {
        child.kill('SIGKILL')
        finish({kind: 'crashed', message: 'the keychain helper produced too much output', elapsedMs: elapsed()})
        return
      }
      out.push(chunk)
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      errTail = (errTail + chunk.toString('utf8')).slice(-500)
    })
    child.on('error', (error) => finish({kind: 'crashed', message: `could not run the keychain helper: ${error.message}`, elapsedMs: elapsed()}))
    child.on('close', (code, signal) => {
      const text = Buffer.concat(out).toString('utf8')
      let answer: unknown
      try {
        answer = JSON.parse(text)
      } catch {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
        const tail = errTail.trim().split('\n').pop()
        finish({kind: 'crashed', message: `the keychain helper ${how} without an answer${tail ? ` (${tail})` : ''}`, elapsedMs: elapsed()})
        return
      }
      finish(toOutcome(answer, elapsed()))
    })
    // The child may die before reading stdin (EPIPE); its exit is reported by 'close'.
    child.stdin!.on('error', () => {})
    child.stdin!.end(JSON.stringify(request))
  })
}

function toOutcome(answer: unknown, elapsedMs: number): HelperOutcome {
  if (answer !== null && typeof answer === 'object') {
    const obj = answer as Record<string, unknown>
    if (obj.fatal === 'load-failed') return {kind: 'load-failed', message: String(obj.message), elapsedMs}
    if (obj.fatal === 'crashed') return {kind: 'crashed', message: String(obj.message), elapsedMs}
    if (Array.isArray(obj.results)) return {kind: 'results', results: obj.results as HelperOpResult[], elapsedMs}
  }
  return {kind: 'crashed', message: 'the keychain helper answered in an unexpected shape', elapsedMs}
}
