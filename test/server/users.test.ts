import {join} from 'node:path'
import {rm} from 'node:fs/promises'
import {afterEach, describe, expect, it} from 'vitest'
import {ApikeyError} from '../../src/core/errors.js'
import {openDatabase} from '../../src/server/db/connection.js'
import {addUser, type AddUserOptions} from '../../src/server/services/users.js'
import {defaultDataDir, defaultDbPath, resolveServerPaths} from '../../src/server/settings.js'
import {startHarness, T0, TestClock, TEST_SCRYPT, tempDir} from './helpers.js'

describe('addUser', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
  })
  /** A database as `server start` leaves it (created and migrated); addUser never creates one. */
  async function dbPath(): Promise<string> {
    const dir = await tempDir()
    dirs.push(dir)
    const path = join(dir, 'sub', 'apikey.db')
    await (await openDatabase(path)).close()
    return path
  }
  const base = (db: string, over: Partial<AddUserOptions> = {}): AddUserOptions => ({
    dbPath: db,
    username: 'ann',
    password: 'a long password',
    team: 'mobile',
    admin: false,
    scryptCost: TEST_SCRYPT,
    clock: new TestClock(),
    ...over,
  })

  it('creates the team (first user is owner) and the user', async () => {
    const db = await dbPath()
    const result = await addUser(base(db, {teamName: 'Mobile', teamContactEmail: 'mobile@example.com'}))
    expect(result).toEqual({
      user: {id: expect.stringMatching(/^usr_/), username: 'ann', isAdmin: false},
      team: {slug: 'mobile', name: 'Mobile', contactEmail: 'mobile@example.com'},
      createdTeam: true,
      createdUser: true,
      role: 'owner',
      dbPath: db,
    })
    const second = await addUser(base(db, {username: 'bob'}))
    expect(second).toMatchObject({createdTeam: false, createdUser: true, role: 'member'})
  })

  it('adds an existing user to another team keeping their password; promotes to admin when asked', async () => {
    const db = await dbPath()
    await addUser(base(db))
    const again = await addUser(base(db, {team: 'web', password: 'ignored for existing users', admin: true, role: 'owner'}))
    expect(again).toMatchObject({createdUser: false, createdTeam: true, role: 'owner', user: {username: 'ann', isAdmin: true}})
    // The original password still signs in.
    const {dir} = {dir: join(db, '..')}
    const h = await startHarness({dir})
    try {
      const token = await h.login('ann', 'a long password')
      const me = await h.request('GET', '/v1/me', {token})
      expect(me.body.teams.map((t: {slug: string}) => t.slug)).toEqual(['mobile', 'web'])
      expect(me.body.user.isAdmin).toBe(true)
      expect((await h.request('POST', '/v1/sessions', {body: {username: 'ann', password: 'ignored for existing users'}})).status).toBe(401)
    } finally {
      await h.stop()
    }
  })

  it('refuses a duplicate membership and invalid input with clear errors', async () => {
    const db = await dbPath()
    await addUser(base(db))
    await expect(addUser(base(db))).rejects.toMatchObject({code: 'conflict', message: expect.stringContaining('already an owner of team mobile')})
    const invalid = [
      base(db, {username: 'Ann Smith'}),
      base(db, {team: 'Mobile Team'}),
      base(db, {username: 'newbie', password: 'short'}),
      base(db, {team: 'other', teamContactEmail: 'nope'}),
    ]
    for (const options of invalid) {
      const error = await addUser(options).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ApikeyError)
      expect((error as ApikeyError).code).toBe('validation')
    }
  })

  it('writes timestamps from the injected clock', async () => {
    const db = await dbPath()
    await addUser(base(db))
    const BetterSqlite3 = (await import('better-sqlite3')).default
    const raw = new BetterSqlite3(db, {readonly: true})
    try {
      expect(raw.prepare('select created_at from users').get()).toEqual({created_at: T0})
      const actions = (raw.prepare('select action from audit_events order by id').all() as Array<{action: string}>).map((r) => r.action)
      expect(actions).toEqual(['team.create', 'user.create', 'membership.add'])
    } finally {
      raw.close()
    }
  })
})

describe('server paths (XDG Base Directory)', () => {
  it('uses $XDG_DATA_HOME/apikey when absolute, else ~/.local/share/apikey', () => {
    expect(resolveServerPaths({env: {XDG_DATA_HOME: '/data'}, homedir: '/home/ann'})).toEqual({dataDir: '/data/apikey', dbPath: '/data/apikey/apikey.db'})
    expect(defaultDataDir({env: {}, homedir: '/home/ann'})).toBe('/home/ann/.local/share/apikey')
    expect(defaultDataDir({env: {XDG_DATA_HOME: 'relative/dir'}, homedir: '/home/ann'})).toBe('/home/ann/.local/share/apikey')
    expect(defaultDbPath({env: {XDG_DATA_HOME: ''}, homedir: '/h'})).toBe('/h/.local/share/apikey/apikey.db')
  })

  it('startServer and addUser default to the XDG path from the env they are given', async () => {
    const dir = await tempDir()
    try {
      const env = {XDG_DATA_HOME: dir}
      const {startServer} = await import('../../src/server/main.js')
      const server = await startServer({port: 0, env, logLevel: 'silent', settings: {scryptCost: TEST_SCRYPT}})
      try {
        const added = await addUser({env, username: 'ann', password: 'a long password', team: 'mobile', admin: false, scryptCost: TEST_SCRYPT})
        expect(added.dbPath).toBe(join(dir, 'apikey', 'apikey.db'))
        expect(server.dbPath).toBe(added.dbPath)
        expect(server.dataDir).toBe(join(dir, 'apikey'))
        expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        const res = await fetch(`${server.url}/v1/sessions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({username: 'ann', password: 'a long password'})})
        expect(res.status).toBe(201)
      } finally {
        await server.close()
        await server.close() // idempotent
      }
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
