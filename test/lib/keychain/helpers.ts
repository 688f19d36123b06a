/**
 * Test fixtures for the keychain: availability of a real Secret Service, a
 * hung D-Bus endpoint, a private (lockable) Secret Service, and the fake
 * binding for failures that cannot be caused for real.
 */
import {execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, mkdirSync, rmSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {createKeychain} from '../../../src/lib/keychain/index.js'

const execFileP = promisify(execFile)

/** Whether the real OS keychain works in this process's environment (probed once per test file). */
export const realKeychainAvailable: boolean = (await createKeychain({timeoutMs: 10_000}).probe()).available

/** Logs why real-keychain tests are skipped. */
export function noteSkipped(): void {
  if (!realKeychainAvailable) console.log('keychain tests skipped: no Secret Service; run under scripts/with-keyring.sh')
}

/** A unique service name for one test, so parallel test files never share entries. */
export function testService(): string {
  return `apikey:test-${randomBytes(5).toString('hex')}.invalid`
}

/** A unique server URL for one test. */
export function testServerUrl(): string {
  return `http://test-${randomBytes(5).toString('hex')}.invalid:4000`
}

/** `process.env` with the D-Bus session pointing at a socket that does not exist. */
export function envWithoutDbus(dir: string): Record<string, string | undefined> {
  return {...process.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-such-bus.sock')}`}
}

/** Fresh temporary directory, removed by the returned function. */
export function tempDir(): {dir: string; remove: () => void} {
  const dir = mkdtempSync(join(tmpdir(), 'apikey-kc-'))
  return {dir, remove: () => rmSync(dir, {recursive: true, force: true})}
}

/**
 * A unix socket that accepts D-Bus connections and never answers — the
 * "dead D-Bus" that makes a naive synchronous keychain call hang forever.
 */
export async function hungDbusEndpoint(dir: string): Promise<{address: string; close: () => Promise<void>}> {
  const path = join(dir, 'hung-bus.sock')
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return {
    address: `unix:path=${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Path of the fake binding (see fixtures/fake-binding.cjs). */
export const FAKE_BINDING = fileURLToPath(new URL('./fixtures/fake-binding.cjs', import.meta.url))

/** Environment that makes the real `@napi-rs/keyring` load the fake binding in the helper. */
export function fakeBindingEnv(mode: 'lost-write' | 'leak' | 'record', dir: string): Record<string, string | undefined> {
  // Any D-Bus address, so the adapter starts the helper (the fake ignores it).
  return {...process.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'fake-bus.sock')}`, NAPI_RS_NATIVE_LIBRARY_PATH: FAKE_BINDING, FAKE_KEYRING_MODE: mode, FAKE_KEYRING_FILE: join(dir, 'fake-store.json'), FAKE_KEYRING_LOG: join(dir, 'fake-log.jsonl')}
}

/** Are `dbus-daemon`, `gnome-keyring-daemon` and `dbus-send` installed? */
export async function canStartPrivateSecretService(): Promise<boolean> {
  try {
    await Promise.all(['dbus-daemon', 'gnome-keyring-daemon', 'dbus-send'].map((cmd) => execFileP('sh', ['-c', `command -v ${cmd}`])))
    return true
  } catch {
    return false
  }
}

/**
 * Starts a private D-Bus session with an unlocked gnome-keyring (no display,
 * so unlock prompts fail at once) — used to lock a keyring without disturbing
 * other tests.
 */
export async function startPrivateSecretService(): Promise<{env: Record<string, string | undefined>; lock: () => Promise<void>; stop: () => void}> {
  const {dir, remove} = tempDir()
  mkdirSync(join(dir, 'run'), {mode: 0o700})
  const base = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config')}
  const address = `unix:path=${join(dir, 'bus')}`
  const {stdout} = await execFileP('dbus-daemon', ['--session', '--fork', `--address=${address}`, '--print-pid=1', '--nopidfile'], {env: base})
  const pid = Number(stdout.trim())
  const env = {...base, DBUS_SESSION_BUS_ADDRESS: address}
  await new Promise<void>((resolve, reject) => {
    const child = spawn('gnome-keyring-daemon', ['--unlock', '--components=secrets', '--daemonize'], {env, stdio: ['pipe', 'ignore', 'ignore']})
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gnome-keyring-daemon exited with ${code}`))))
    child.stdin.end('pass')
  })
  return {
    env,
    async lock() {
      await execFileP('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login'], {env})
    },
    stop() {
      try {
        process.kill(pid)
      } catch {
        // already gone
      }
      remove()
    },
  }
}
