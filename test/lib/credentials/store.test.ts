import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, test} from 'vitest'
import {ApikeyError} from '../../../src/core/errors.js'
import {createCredentialStore, credentialsPath, type CredentialStore} from '../../../src/lib/credentials/index.js'
import {createKeychain, keychainService, SESSION_ACCOUNT, type SecretStore} from '../../../src/lib/keychain/index.js'
import {envWithoutDbus, hungDbusEndpoint, noteSkipped, realKeychainAvailable, tempDir, testServerUrl} from '../keychain/helpers.js'

const posix = process.platform !== 'win32'

/** A keychain that fails the test if touched (the env token must win without it). */
const untouchableKeychain: SecretStore = {
  name: 'untouchable',
  timeoutMs: 1,
  probe: () => Promise.reject(new Error('keychain probed')),
  get: () => Promise.reject(new Error('keychain read')),
  set: () => Promise.reject(new Error('keychain written')),
  delete: () => Promise.reject(new Error('keychain deleted')),
}

async function failure(promise: Promise<unknown>): Promise<ApikeyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ApikeyError)
  return error as ApikeyError
}

let tmp: ReturnType<typeof tempDir>
let configDir: string
let warnings: string[]
const warn = (message: string) => warnings.push(message)
beforeEach(() => {
  tmp = tempDir()
  configDir = join(tmp.dir, 'config', 'apikey')
  warnings = []
})
afterEach(() => tmp.remove())

noteSkipped()

describe('APIKEY_TOKEN resolves first', () => {
  test('without touching the keychain or the disk, for any server', async () => {
    const store = createCredentialStore({env: {APIKEY_TOKEN: 'aks_from_env\n'}, keychain: untouchableKeychain, warn, configDir})
    expect(await store.resolve('https://keys.example.com')).toEqual({token: 'aks_from_env', source: 'env', host: 'keys.example.com', where: 'APIKEY_TOKEN'})
    expect(await store.requireToken('http://127.0.0.1:4000')).toMatchObject({token: 'aks_from_env', source: 'env'})
    expect(existsSync(join(tmp.dir, 'config'))).toBe(false)
    expect(warnings).toEqual([])
  })

  test('an empty APIKEY_TOKEN is ignored with a warning, never returned', async () => {
    const store = createCredentialStore({env: {...envWithoutDbus(tmp.dir), APIKEY_TOKEN: '  '}, keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})
    expect(await store.resolve('https://keys.example.com')).toBeNull()
    expect(warnings).toEqual(['APIKEY_TOKEN is set but empty; ignoring it'])
  })
})

describe('no keychain on this machine', () => {
  let store: CredentialStore
  beforeEach(() => {
    store = createCredentialStore({env: envWithoutDbus(tmp.dir), keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})
  })

  test('not signed in: resolve is null (quietly), requireToken is not_signed_in (exit 4) naming the login command', async () => {
    expect(await store.resolve('https://keys.example.com')).toBeNull()
    expect(warnings).toEqual([])
    const error = await failure(store.requireToken('https://keys.example.com/'))
    expect(error.code).toBe('not_signed_in')
    expect(error.exitCode).toBe(4)
    expect(error.suggestions).toContain('apikey login --server https://keys.example.com')
  })

  test('save falls back to a 0600 file in a 0700 directory, after a visible warning naming the file and why', async () => {
    const result = await store.save('https://keys.example.com', 'aks_file_token_1')
    const path = credentialsPath(configDir)
    expect(result).toMatchObject({location: 'file', path})
    if (result.location === 'file') expect(result.reason).toContain('no D-Bus session bus')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`storing the session token in plaintext in ${path} (mode 0600)`)
    expect(warnings[0]).not.toContain('aks_file_token_1')
    if (posix) {
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(statSync(configDir).mode & 0o777).toBe(0o700)
    }
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({version: 1, tokens: {'keys.example.com': {token: 'aks_file_token_1'}}})
    expect(readdirSync(configDir).filter((f) => f.endsWith('.tmp') || f.endsWith('-tmp') || f.endsWith('.lock'))).toEqual([])
    expect(await store.resolve('https://keys.example.com')).toEqual({token: 'aks_file_token_1', source: 'file', host: 'keys.example.com', where: path})
  })

  test('tokens of several servers share the file; concurrent saves all land', async () => {
    await Promise.all(['a', 'b', 'c', 'd'].map((h) => store.save(`https://${h}.example.com`, `aks_token_${h}`)))
    for (const h of ['a', 'b', 'c', 'd']) expect((await store.resolve(`https://${h}.example.com`))?.token).toBe(`aks_token_${h}`)
  })

  test('clear removes the file entry and says that APIKEY_TOKEN still supplies a token', async () => {
    await store.save('https://keys.example.com', 'aks_file_token_2')
    await store.save('https://other.example.com', 'aks_other')
    const withEnv = createCredentialStore({env: {...envWithoutDbus(tmp.dir), APIKEY_TOKEN: 'aks_env'}, keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})
    expect(await withEnv.clear('https://keys.example.com')).toEqual({cleared: ['file'], failed: [], envStillSet: true})
    expect(await store.resolve('https://keys.example.com')).toBeNull()
    expect((await store.resolve('https://other.example.com'))?.token).toBe('aks_other')
    await store.clear('https://other.example.com')
    expect(existsSync(credentialsPath(configDir))).toBe(false)
  })

  test('locations lists the file and reports the keychain as unavailable', async () => {
    await store.save('https://keys.example.com', 'aks_file_token_3')
    const where = await store.locations('https://keys.example.com')
    expect(where).toMatchObject({host: 'keys.example.com', active: 'file', conflict: false, file: {path: credentialsPath(configDir), exists: true}})
    expect(where.entries).toEqual([{source: 'file', where: credentialsPath(configDir), fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/), active: true}])
    expect(where.keychain).toMatchObject({status: 'unavailable', reason: 'no-dbus'})
    expect(JSON.stringify(where)).not.toContain('aks_file_token_3')
  })

  test('an env token shadowing a file token is listed as a conflict', async () => {
    await store.save('https://keys.example.com', 'aks_file_token_4')
    const withEnv = createCredentialStore({env: {...envWithoutDbus(tmp.dir), APIKEY_TOKEN: 'aks_env'}, keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})
    const where = await withEnv.locations('https://keys.example.com')
    expect(where.active).toBe('env')
    expect(where.conflict).toBe(true)
    expect(where.entries.map((e) => [e.source, e.active])).toEqual([
      ['env', true],
      ['file', false],
    ])
  })

  test('invalid tokens are refused before anything is written', async () => {
    expect((await failure(store.save('https://keys.example.com', ' \n'))).code).toBe('usage')
    expect((await failure(store.save('https://keys.example.com', 'aks_a b'))).code).toBe('usage')
    expect(existsSync(configDir)).toBe(false)
  })
})

describe('the credentials file', () => {
  const store = () => createCredentialStore({env: envWithoutDbus(tmp.dir), keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})

  test('a corrupt file is an io error naming the file', async () => {
    mkdirSync(configDir, {recursive: true})
    writeFileSync(credentialsPath(configDir), '{"version": 1, "tokens": ')
    const error = await failure(store().resolve('https://keys.example.com'))
    expect(error.code).toBe('io')
    expect(error.message).toContain(`the credentials file ${credentialsPath(configDir)} is corrupt`)
    expect(error.suggestions[0]).toContain(`delete ${credentialsPath(configDir)}`)
  })

  test('an entry without a token is corrupt, not an empty token', async () => {
    mkdirSync(configDir, {recursive: true})
    writeFileSync(credentialsPath(configDir), JSON.stringify({version: 1, tokens: {'keys.example.com': {token: ''}}}))
    expect((await failure(store().resolve('https://keys.example.com'))).message).toContain('the entry for "keys.example.com" has no token')
  })

  test('locations reports a corrupt file instead of failing', async () => {
    mkdirSync(configDir, {recursive: true})
    writeFileSync(credentialsPath(configDir), 'not json')
    const where = await store().locations('https://keys.example.com')
    expect(where.file.problem).toContain('is corrupt')
    expect(where.active).toBeNull()
  })

  test.skipIf(!posix)('a file readable by others is used with a warning to chmod it', async () => {
    await store().save('https://keys.example.com', 'aks_loose')
    chmodSync(credentialsPath(configDir), 0o644)
    warnings = []
    expect((await store().resolve('https://keys.example.com'))?.token).toBe('aks_loose')
    expect(warnings).toEqual([`${credentialsPath(configDir)} is readable by other users (mode 0644); run: chmod 600 ${credentialsPath(configDir)}`])
    // rewriting restores 0600
    await store().save('https://keys.example.com', 'aks_tight')
    expect(statSync(credentialsPath(configDir)).mode & 0o777).toBe(0o600)
  })

  test('the config directory defaults from the env object (XDG_CONFIG_HOME)', () => {
    const s = createCredentialStore({env: {XDG_CONFIG_HOME: join(tmp.dir, 'xdg')}, keychain: untouchableKeychain, warn})
    expect(s.path).toBe(join(tmp.dir, 'xdg', 'apikey', 'credentials.json'))
  })
})

describe('a keychain that exists but cannot be read', () => {
  let endpoint: Awaited<ReturnType<typeof hungDbusEndpoint>>
  let hungDir: ReturnType<typeof tempDir>
  beforeAll(async () => {
    hungDir = tempDir()
    endpoint = await hungDbusEndpoint(hungDir.dir)
  })
  afterAll(async () => {
    await endpoint.close()
    hungDir.remove()
  })
  const hungStore = () => {
    const env = {...process.env, DBUS_SESSION_BUS_ADDRESS: endpoint.address}
    return createCredentialStore({env, keychain: createKeychain({env, timeoutMs: 800}), warn, configDir})
  }

  test('with no other token it is keychain_unavailable (exit 1), not "not signed in", and no empty token', async () => {
    const error = await failure(hungStore().resolve('https://keys.example.com'))
    expect(error.code).toBe('keychain_unavailable')
    expect(error.exitCode).toBe(1)
    expect(error.message).toMatch(/^cannot tell whether you are signed in to keys\.example\.com: could not read .* did not answer within 800 ms/)
    expect(error.details).toMatchObject({reason: 'timeout', host: 'keys.example.com'})
  })

  test('with a token in the file, the file token is used and the keychain problem is warned about', async () => {
    await createCredentialStore({env: envWithoutDbus(tmp.dir), keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir}).save('https://keys.example.com', 'aks_fallback')
    warnings = []
    expect(await hungStore().resolve('https://keys.example.com')).toMatchObject({token: 'aks_fallback', source: 'file'})
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('did not answer within 800 ms')
    expect(warnings[0]).toContain(`using the session token from ${credentialsPath(configDir)}`)
  })

  test('clear reports that the keychain could not be cleared', async () => {
    const result = await hungStore().clear('https://keys.example.com')
    expect(result.cleared).toEqual([])
    expect(result.failed).toEqual([{place: 'keychain', message: expect.stringContaining('did not answer')}])
  })
})

describe.skipIf(!realKeychainAvailable)('with the real Secret Service (run under scripts/with-keyring.sh)', () => {
  const keychain = createKeychain()
  const servers: string[] = []
  afterAll(async () => {
    for (const url of servers) await keychain.delete(keychainService(url), SESSION_ACCOUNT).catch(() => {})
  })
  const server = () => {
    const url = testServerUrl()
    servers.push(url)
    return url
  }
  const store = (env: Record<string, string | undefined> = process.env) => createCredentialStore({env: {...env, APIKEY_TOKEN: env.APIKEY_TOKEN}, keychain, warn, configDir})
  const fileOnly = () => createCredentialStore({env: envWithoutDbus(tmp.dir), keychain: createKeychain({env: envWithoutDbus(tmp.dir)}), warn, configDir})

  test('save goes to the keychain (no warning, no file) and resolves from there', async () => {
    const url = server()
    const result = await store({}).save(url, 'aks_kc_token_1')
    expect(result).toMatchObject({location: 'keychain', store: 'Secret Service', service: keychainService(url), account: 'session', removedStale: []})
    expect(warnings).toEqual([])
    expect(existsSync(credentialsPath(configDir))).toBe(false)
    expect(await keychain.get(keychainService(url), 'session')).toBe('aks_kc_token_1')
    expect(await store({}).resolve(url)).toMatchObject({token: 'aks_kc_token_1', source: 'keychain'})
  })

  test('order env → keychain → file; locations lists every place and flags the conflict', async () => {
    const url = server()
    await fileOnly().save(url, 'aks_in_file')
    await keychain.set(keychainService(url), SESSION_ACCOUNT, 'aks_in_keychain')
    expect(await store({}).resolve(url)).toMatchObject({token: 'aks_in_keychain', source: 'keychain'})
    expect(await store({APIKEY_TOKEN: 'aks_in_env'}).resolve(url)).toMatchObject({token: 'aks_in_env', source: 'env'})

    const where = await store({}).locations(url)
    expect(where.active).toBe('keychain')
    expect(where.conflict).toBe(true)
    expect(where.keychain).toEqual({status: 'checked', store: 'Secret Service'})
    expect(where.entries.map((e) => [e.source, e.active])).toEqual([
      ['keychain', true],
      ['file', false],
    ])
    expect(where.entries[0]!.fingerprint).not.toBe(where.entries[1]!.fingerprint)
    expect(JSON.stringify(where)).not.toMatch(/aks_in_/)
  })

  test('saving to the keychain removes the stale file copy and says so', async () => {
    const url = server()
    await fileOnly().save(url, 'aks_old_file')
    const result = await store({}).save(url, 'aks_new_kc')
    expect(result).toMatchObject({location: 'keychain', removedStale: ['file']})
    expect((await store({}).locations(url)).entries.map((e) => e.source)).toEqual(['keychain'])
  })

  test('preferFile writes the file after a warning and removes the keychain copy', async () => {
    const url = server()
    await store({}).save(url, 'aks_kc_first')
    warnings = []
    const result = await store({}).save(url, 'aks_file_wanted', {preferFile: true})
    expect(result).toMatchObject({location: 'file', reason: 'file storage was requested', removedStale: ['keychain']})
    expect(warnings).toHaveLength(1)
    expect(await store({}).resolve(url)).toMatchObject({token: 'aks_file_wanted', source: 'file'})
  })

  test('a token over the keychain size limit goes to the file, with the reason in the warning', async () => {
    const url = server()
    const result = await store({}).save(url, `aks_${'x'.repeat(2100)}`)
    expect(result.location).toBe('file')
    expect(warnings[0]).toContain('the limit is 2048 bytes')
  })

  test('clear removes the token from the keychain and the file', async () => {
    const url = server()
    await fileOnly().save(url, 'aks_in_file')
    await keychain.set(keychainService(url), SESSION_ACCOUNT, 'aks_in_keychain')
    expect(await store({}).clear(url)).toEqual({cleared: ['keychain', 'file'], failed: [], envStillSet: false})
    expect(await store({}).resolve(url)).toBeNull()
  })
})
