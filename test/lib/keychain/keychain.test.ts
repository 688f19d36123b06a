import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {ApikeyError} from '../../../src/core/errors.js'
import {checkSecretSize, createKeychain, DEFAULT_KEYCHAIN_TIMEOUT_MS, MAX_SECRET_BYTES, type SecretStore} from '../../../src/lib/keychain/index.js'
import {
  canStartPrivateSecretService,
  envWithoutDbus,
  fakeBindingEnv,
  hungDbusEndpoint,
  noteSkipped,
  realKeychainAvailable,
  startPrivateSecretService,
  tempDir,
  testService,
} from './helpers.js'

/** Awaits a rejection and returns it as an ApikeyError. */
async function failure(promise: Promise<unknown>): Promise<ApikeyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ApikeyError)
  return error as ApikeyError
}

/** A user-facing message: one line, no stack frames. */
function expectCleanMessage(error: ApikeyError): void {
  expect(error.message).not.toMatch(/\n/)
  expect(error.message).not.toMatch(/\bat .*\(.*:\d+:\d+\)/)
  expect(error.message).not.toMatch(/Require stack|\.js:\d+/)
}

noteSkipped()

describe.skipIf(!realKeychainAvailable)('real Secret Service (run under scripts/with-keyring.sh)', () => {
  const keychain = createKeychain()
  const created: Array<[string, string]> = []
  afterAll(async () => {
    for (const [service, account] of created) await keychain.delete(service, account).catch(() => {})
  })
  const entry = (account = 'session'): [string, string] => {
    const e: [string, string] = [testService(), account]
    created.push(e)
    return e
  }

  test('probe succeeds, is time-boxed by the default, and is cached per store instance', async () => {
    const first = await keychain.probe()
    expect(first).toMatchObject({available: true, store: 'Secret Service'})
    expect(keychain.timeoutMs).toBe(DEFAULT_KEYCHAIN_TIMEOUT_MS)
    expect(await keychain.probe()).toBe(first)
  })

  test('set / get / delete round-trip; a missing entry is null, deleting it is false', async () => {
    const [service, account] = entry('weather-app/dev')
    expect(await keychain.get(service, account)).toBeNull()
    await keychain.set(service, account, 'ak_weather-app_dev_secret-value')
    expect(await keychain.get(service, account)).toBe('ak_weather-app_dev_secret-value')
    expect(await keychain.delete(service, account)).toBe(true)
    expect(await keychain.get(service, account)).toBeNull()
    expect(await keychain.delete(service, account)).toBe(false)
  })

  test('set replaces an existing value and reads it back; non-ASCII survives', async () => {
    const [service, account] = entry()
    await keychain.set(service, account, 'first')
    await keychain.set(service, account, 'sécond-✓')
    expect(await keychain.get(service, account)).toBe('sécond-✓')
  })

  test('entries are separated by service and account', async () => {
    const [service] = entry('a/dev')
    created.push([service, 'b/dev'])
    await keychain.set(service, 'a/dev', 'value-a')
    await keychain.set(service, 'b/dev', 'value-b')
    expect(await keychain.get(service, 'a/dev')).toBe('value-a')
    expect(await keychain.get(service, 'b/dev')).toBe('value-b')
  })

  test('a 3,000-character secret is refused before writing; nothing is stored', async () => {
    const [service, account] = entry()
    const error = await failure(keychain.set(service, account, 'x'.repeat(3000)))
    expect(error.code).toBe('keychain_error')
    expect(error.details).toMatchObject({reason: 'too-long', sizeBytes: 3000, limitBytes: 2048})
    expect(await keychain.get(service, account)).toBeNull()
  })

  test('a secret of exactly the limit is stored', async () => {
    const [service, account] = entry()
    const secret = 'y'.repeat(MAX_SECRET_BYTES)
    await keychain.set(service, account, secret)
    expect(await keychain.get(service, account)).toBe(secret)
  })
})

describe('a locked keyring (private gnome-keyring, needs dbus-daemon and gnome-keyring-daemon)', () => {
  let service: Awaited<ReturnType<typeof startPrivateSecretService>> | undefined
  beforeAll(async () => {
    if (await canStartPrivateSecretService()) service = await startPrivateSecretService()
  })
  afterAll(() => service?.stop())

  test('reading from a locked keyring is keychain_unavailable (locked), not "not found"', async (ctx) => {
    if (!service) return ctx.skip()
    const keychain = createKeychain({env: service.env})
    const name = testService()
    await keychain.set(name, 'session', 'locked-away-token')
    await service.lock()
    const locked = createKeychain({env: service.env})
    const error = await failure(locked.get(name, 'session'))
    expect(error.code).toBe('keychain_unavailable')
    expect(error.details.reason).toBe('locked')
    expect(error.message).toContain('locked')
    expectCleanMessage(error)
    const probe = await createKeychain({env: service.env}).probe()
    expect(probe).toMatchObject({available: false, reason: 'locked'})
  })
})

describe('no Secret Service reachable', () => {
  const tmp = tempDir()
  afterAll(() => tmp.remove())

  test('probe reports unavailable with the reason, without throwing', async () => {
    const probe = await createKeychain({env: envWithoutDbus(tmp.dir)}).probe()
    expect(probe.available).toBe(false)
    if (probe.available) return
    expect(probe.reason).toBe('no-dbus')
    expect(probe.error.code).toBe('keychain_unavailable')
    expect(probe.message).toContain('D-Bus')
  })

  test('get, set and delete fail with keychain_unavailable, an actionable one-line message, no stack trace', async () => {
    const keychain = createKeychain({env: envWithoutDbus(tmp.dir)})
    for (const call of [() => keychain.get('apikey:x', 'session'), () => keychain.set('apikey:x', 'session', 'tok_value_123'), () => keychain.delete('apikey:x', 'session')]) {
      const error = await failure(call())
      expect(error.code).toBe('keychain_unavailable')
      expect(error.exitCode).toBe(1)
      expect(error.details).toMatchObject({reason: 'no-dbus', store: 'Secret Service'})
      expect(error.message).toMatch(/^could not (read|write|delete) entry "apikey:x" \/ "session" (from|to) the OS keychain \(Secret Service\): no D-Bus session bus/)
      expect(error.suggestions.join('\n')).toContain('--store dotenv')
      expect(error.message).not.toContain('tok_value_123')
      expectCleanMessage(error)
    }
  })

  test('entries are never written to the kernel keyring instead (set fails, it does not silently succeed)', async () => {
    // Without a Secret Service an unpinned @napi-rs/keyring entry falls back to the kernel keyring.
    const keychain = createKeychain({env: envWithoutDbus(tmp.dir)})
    const error = await failure(keychain.set('apikey:x', 'session', 'not-persisted'))
    expect(error.code).toBe('keychain_unavailable')
  })

  test('with DBUS_SESSION_BUS_ADDRESS unset on Linux it is unavailable at once, without starting the helper', async () => {
    const env = {...process.env, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: tmp.dir, NAPI_RS_NATIVE_LIBRARY_PATH: join(tmp.dir, 'would-fail-differently.node')}
    const error = await failure(createKeychain({env, platform: 'linux'}).get('apikey:x', 'session'))
    expect(error.details).toMatchObject({reason: 'no-dbus'})
    expect(error.message).toContain('DBUS_SESSION_BUS_ADDRESS is unset')
  })
})

describe('time box (hung D-Bus endpoint)', () => {
  const tmp = tempDir()
  let endpoint: Awaited<ReturnType<typeof hungDbusEndpoint>>
  beforeAll(async () => {
    endpoint = await hungDbusEndpoint(tmp.dir)
  })
  afterAll(async () => {
    await endpoint.close()
    tmp.remove()
  })

  test('a call to a D-Bus that never answers returns within the time box and says timeout', async () => {
    const keychain = createKeychain({timeoutMs: 1000, env: {...process.env, DBUS_SESSION_BUS_ADDRESS: endpoint.address}})
    const started = Date.now()
    const error = await failure(keychain.get('apikey:x', 'session'))
    expect(Date.now() - started).toBeLessThan(1000 + 10_000) // returned at all: generous slack, no timing claims
    expect(error.code).toBe('keychain_unavailable')
    expect(error.details).toMatchObject({reason: 'timeout', timeoutMs: 1000})
    expect(error.message).toContain('did not answer within 1000 ms')
    expectCleanMessage(error)
    // Later calls in the same process fail fast with the same reason instead of waiting again.
    const again = await failure(keychain.set('apikey:x', 'session', 'tok_value_456'))
    expect(again.details.reason).toBe('timeout')
    expect(again.message).not.toContain('tok_value_456')
  })

  test('probe times out too and reports it', async () => {
    const probe = await createKeychain({timeoutMs: 800, env: {...process.env, DBUS_SESSION_BUS_ADDRESS: endpoint.address}}).probe()
    expect(probe).toMatchObject({available: false, reason: 'timeout'})
  })

  test('the timeout comes from APIKEY_KEYCHAIN_TIMEOUT_MS when not given; an invalid value is a usage error', () => {
    expect(createKeychain({env: {APIKEY_KEYCHAIN_TIMEOUT_MS: '7000'}}).timeoutMs).toBe(7000)
    expect(createKeychain({env: {}}).timeoutMs).toBe(DEFAULT_KEYCHAIN_TIMEOUT_MS)
    expect(() => createKeychain({env: {APIKEY_KEYCHAIN_TIMEOUT_MS: 'soon'}})).toThrow(/APIKEY_KEYCHAIN_TIMEOUT_MS must be a whole number/)
  })
})

describe('the native module cannot be loaded', () => {
  const tmp = tempDir()
  afterAll(() => tmp.remove())
  // A D-Bus address is set so the adapter gets as far as loading the module.
  const env = () => ({...envWithoutDbus(tmp.dir), NAPI_RS_NATIVE_LIBRARY_PATH: join(tmp.dir, 'missing-binding.node')})

  test('probe says unavailable (not-installed) and names the cause', async () => {
    const probe = await createKeychain({env: env()}).probe()
    expect(probe).toMatchObject({available: false, reason: 'not-installed'})
    if (!probe.available) expect(probe.message).toContain('native keychain module (@napi-rs/keyring)')
  })

  test('calls fail with keychain_unavailable and a message without a stack trace', async () => {
    const error = await failure(createKeychain({env: env()}).get('apikey:x', 'session'))
    expect(error.code).toBe('keychain_unavailable')
    expect(error.details.reason).toBe('not-installed')
    expect(error.message).toContain(`no native binary for ${process.platform}-${process.arch} could be loaded`)
    expect(error.message).toContain('missing-binding.node')
    expectCleanMessage(error)
  })

  test('the CLI process itself never loads the native binding (only the helper does)', () => {
    const report = process.report.getReport() as unknown as {sharedObjects: string[]}
    expect(report.sharedObjects.filter((o) => o.includes('keyring'))).toEqual([])
  })
})

describe('with the fake binding (failures that cannot be caused for real)', () => {
  let tmp: ReturnType<typeof tempDir>
  beforeAll(() => {
    tmp = tempDir()
  })
  afterEach(() => {
    tmp.remove()
    tmp = tempDir()
  })
  afterAll(() => tmp.remove())
  const logged = () =>
    readFileSync(join(tmp.dir, 'fake-log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {options: unknown; argv: string[]; execArgv: string[]})

  test('a write that reports success but reads back nothing is an error', async () => {
    const keychain = createKeychain({env: fakeBindingEnv('lost-write', tmp.dir)})
    const error = await failure(keychain.set('apikey:x', 'session', 'tok_lost_789'))
    expect(error.code).toBe('keychain_error')
    expect(error.details.reason).toBe('read-back')
    expect(error.message).toContain('reading it back found nothing')
    expect(error.message).not.toContain('tok_lost_789')
  })

  test('the probe does not trust such a store', async () => {
    const probe = await createKeychain({env: fakeBindingEnv('lost-write', tmp.dir)}).probe()
    expect(probe).toMatchObject({available: false, reason: 'read-back'})
  })

  test('every entry is pinned to the Secret Service store (no kernel-keyring fallback)', async () => {
    const keychain = createKeychain({env: fakeBindingEnv('record', tmp.dir)})
    await keychain.probe()
    await keychain.set('apikey:x', 'a/dev', 'value-1')
    await keychain.get('apikey:x', 'a/dev')
    await keychain.delete('apikey:x', 'a/dev')
    const entries = logged()
    expect(entries.length).toBeGreaterThanOrEqual(6)
    for (const e of entries) expect(e.options).toEqual({linux: {store: 'secret-service'}})
  })

  test('the secret is never on the helper command line', async () => {
    const secret = 'ak_weather-app_dev_NeverOnTheCommandLine0123456'
    const keychain = createKeychain({env: fakeBindingEnv('record', tmp.dir)})
    await keychain.set('apikey:x', 'weather-app/dev', secret)
    expect(await keychain.get('apikey:x', 'weather-app/dev')).toBe(secret)
    for (const e of logged()) expect([...e.argv, ...e.execArgv].join(' ')).not.toContain(secret)
  })

  test('an error that quotes the secret is redacted', async () => {
    const secret = 'ak_weather-app_dev_QuotedInAnError9876543210abc'
    const error = await failure(createKeychain({env: fakeBindingEnv('leak', tmp.dir)}).set('apikey:x', 'weather-app/dev', secret))
    expect(error.code).toBe('keychain_error')
    expect(error.message).not.toContain(secret)
    expect(error.message).toContain('[redacted]')
    expect(String((error.cause as Error).message)).not.toContain(secret)
    expect(JSON.stringify(error.toJSON())).not.toContain(secret)
  })
})

describe('size limit (checked before any keychain call)', () => {
  const tmp = tempDir()
  afterAll(() => tmp.remove())

  test('a 3,000-character secret fails with the limit and the .env alternative', async () => {
    // The environment has no keychain at all: the size check must come first.
    const keychain: SecretStore = createKeychain({env: envWithoutDbus(tmp.dir)})
    const error = await failure(keychain.set('apikey:x', 'weather-app/dev', 'z'.repeat(3000)))
    expect(error.code).toBe('keychain_error')
    expect(error.message).toContain('3000 bytes, the limit is 2048 bytes')
    expect(error.message).not.toContain('zzzz')
    expect(error.suggestions.join(' ')).toContain('--store dotenv')
  })

  test('the limit counts UTF-8 bytes; Windows also caps UTF-16 code units', () => {
    expect(() => checkSecretSize('a'.repeat(2048), 'linux')).not.toThrow()
    expect(() => checkSecretSize('a'.repeat(2049), 'linux')).toThrow(/2049 bytes, the limit is 2048 bytes/)
    expect(() => checkSecretSize('é'.repeat(1025), 'linux')).toThrow(/2050 bytes/)
    expect(() => checkSecretSize('a'.repeat(1280), 'win32')).not.toThrow()
    expect(() => checkSecretSize('a'.repeat(1281), 'win32')).toThrow(/1280 UTF-16 code units on Windows/)
  })

  test('an empty secret is refused', () => {
    expect(() => checkSecretSize('', 'linux')).toThrow(/empty secret/)
  })

  test('invalid entry names are usage errors', async () => {
    const keychain = createKeychain({env: envWithoutDbus(tmp.dir)})
    expect((await failure(keychain.get('', 'session'))).code).toBe('usage')
    expect((await failure(keychain.get('apikey:x', 'a\u0000b'))).code).toBe('usage')
  })
})
