import {readFile, rm, stat, access} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {loadPepper, pepperPathFor} from '../../src/server/services/pepper.js'
import {startHarness, tempDir, type Harness} from './helpers.js'

describe('pepper', () => {
  const harnesses: Harness[] = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop()
    for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
  })
  async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
    const dir = options.dir ?? (await tempDir())
    if (!dirs.includes(dir)) dirs.push(dir)
    const h = await startHarness({...options, dir})
    harnesses.push(h)
    return h
  }

  it('is created on first start as <db>.pepper with mode 0600 and 32 random bytes, and reused after a restart', async () => {
    const first = await start()
    expect(first.server.pepperSource).toBe('file-created')
    const path = pepperPathFor(first.dbPath)
    expect(path).toBe(join(first.dir, 'apikey.db.pepper'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const content = (await readFile(path, 'utf8')).trim()
    expect(content).toMatch(/^[0-9a-f]{64}$/)

    await first.addUser('ann', 'mobile')
    const token = await first.login('ann')
    expect((await first.createApp(token, 'weather-app', 'mobile')).status).toBe(201)
    const issued = await first.issueKey(token, 'weather-app')
    await first.stop()
    harnesses.splice(0)

    const second = await start({dir: first.dir})
    expect(second.server.pepperSource).toBe('file')
    expect((await readFile(path, 'utf8')).trim()).toBe(content)
    const who = await second.request('POST', '/v1/keys/whoami', {token: issued.key})
    expect(who.status).toBe(200)
    expect(who.body.key.id).toBe(issued.id)
    expect(who.body.app.slug).toBe('weather-app')
  })

  it('takes APIKEY_PEPPER (option or env) instead of a file, and keys verify only with the same pepper', async () => {
    const pepper = 'p'.repeat(40)
    const first = await start({pepper})
    expect(first.server.pepperSource).toBe('option')
    await expect(access(pepperPathFor(first.dbPath))).rejects.toThrow()
    await first.addUser('ann', 'mobile')
    const token = await first.login('ann')
    await first.createApp(token, 'weather-app', 'mobile')
    const issued = await first.issueKey(token, 'weather-app')
    await first.stop()
    harnesses.splice(0)

    // The same pepper through the env map.
    const second = await start({dir: first.dir, env: {APIKEY_PEPPER: pepper}})
    expect(second.server.pepperSource).toBe('option')
    expect((await second.request('POST', '/v1/keys/whoami', {token: issued.key})).status).toBe(200)
    await second.stop()
    harnesses.splice(0)

    // A different pepper would make every key unverifiable: refused at start.
    await expect(start({dir: first.dir, pepper: 'q'.repeat(40)})).rejects.toThrow(/not the one this database was created with/)
  })

  it('refuses a supplied pepper shorter than 32 bytes', async () => {
    await expect(start({pepper: 'short'})).rejects.toThrow(/at least 32/)
  })

  it('two concurrent first loads agree on one pepper', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const path = join(dir, 'x.db.pepper')
    const [a, b] = await Promise.all([loadPepper(path), loadPepper(path)])
    expect(a.key.equals(b.key)).toBe(true)
    expect([a.source, b.source].sort()).toEqual(['file', 'file-created'])
  })
})
