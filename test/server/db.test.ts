import {join} from 'node:path'
import {rm, stat} from 'node:fs/promises'
import BetterSqlite3 from 'better-sqlite3'
import {sql} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {openDatabase, type DatabaseHandle} from '../../src/server/db/connection.js'
import {migrations} from '../../src/server/db/migrations/index.js'
import {newVerifierToken, sha256Hex, tokenStart} from '../../src/server/services/crypto.js'
import {startHarness, tempDir} from './helpers.js'

describe('database', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function open(): Promise<{handle: DatabaseHandle; path: string}> {
    const dir = await tempDir()
    const path = join(dir, 'nested', 'apikey.db')
    const handle = await openDatabase(path)
    cleanups.push(async () => {
      await handle.close()
      await rm(dir, {recursive: true, force: true})
    })
    return {handle, path}
  }

  it('migrates an empty file to the full schema, in the static order, named by ISO date', async () => {
    const {path, handle} = await open()
    await handle.close()
    const raw = new BetterSqlite3(path, {readonly: true})
    try {
      const tables = (raw.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as Array<{name: string}>).map((r) => r.name)
      expect(tables).toEqual(
        expect.arrayContaining(['users', 'teams', 'memberships', 'apps', 'api_keys', 'sessions', 'audit_events', 'server_meta', 'kysely_migration']),
      )
      const applied = (raw.prepare('select name from kysely_migration order by name').all() as Array<{name: string}>).map((r) => r.name)
      expect(applied).toEqual(Object.keys(migrations))
      for (const name of applied) expect(name).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}_[a-z0-9-]+$/)
      const keyColumns = (raw.prepare('pragma table_info(api_keys)').all() as Array<{name: string}>).map((r) => r.name)
      expect(keyColumns).toEqual(expect.arrayContaining(['hash', 'start', 'expires_at', 'revoked_at', 'revoked_by', 'last_used_at', 'metadata']))
      expect(keyColumns).not.toContain('key')
    } finally {
      raw.close()
    }
  })

  it('creates a new database file (and its WAL) with mode 0600, under umask 022', async () => {
    const previous = process.umask(0o022)
    try {
      const {handle, path} = await open()
      await sql`select 1`.execute(handle.db)
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      expect((await stat(`${path}-wal`)).mode & 0o777).toBe(0o600)
    } finally {
      process.umask(previous)
    }
  })

  it('runs in WAL mode with a busy timeout and foreign keys on', async () => {
    const {handle, path} = await open()
    expect(handle.journalMode).toBe('wal')
    const busy = await sql<{timeout: number}>`pragma busy_timeout`.execute(handle.db)
    expect(Object.values(busy.rows[0] ?? {})[0]).toBe(5000)
    const fk = await sql<{foreign_keys: number}>`pragma foreign_keys`.execute(handle.db)
    expect(fk.rows[0]?.foreign_keys).toBe(1)
    // WAL is a property of the file: a second connection sees it too.
    const raw = new BetterSqlite3(path)
    try {
      expect(raw.pragma('journal_mode', {simple: true})).toBe('wal')
    } finally {
      raw.close()
    }
  })

  it('re-opening an up-to-date database applies nothing and keeps data', async () => {
    const {handle, path} = await open()
    await handle.db.insertInto('server_meta').values({name: 'probe', value: '1'}).execute()
    await handle.close()
    const again = await openDatabase(path)
    try {
      const row = await again.db.selectFrom('server_meta').select('value').where('name', '=', 'probe').executeTakeFirst()
      expect(row?.value).toBe('1')
    } finally {
      await again.close()
    }
  })

  it('upgrades a database created before the lifecycle migration, keeping its rows', async () => {
    const dir = await tempDir()
    const path = join(dir, 'old.db')
    cleanups.push(() => rm(dir, {recursive: true, force: true}))
    // A database at the initial schema only, with a key and an audit event in it.
    const {Kysely, Migrator, SqliteDialect} = await import('kysely')
    const old = new Kysely<any>({dialect: new SqliteDialect({database: new BetterSqlite3(path)})})
    const initialOnly = {getMigrations: async () => ({'2025-11-30T10-00-00_initial': migrations['2025-11-30T10-00-00_initial']!})}
    expect((await new Migrator({db: old, provider: initialOnly}).migrateToLatest()).error).toBeUndefined()
    await old.insertInto('users').values({id: 'usr_1', username: 'ann', password_hash: 'x', is_admin: 0, created_at: 1}).execute()
    await old.insertInto('teams').values({id: 'team_1', slug: 'mobile', name: 'Mobile', contact_email: null, created_at: 1}).execute()
    await old.insertInto('apps').values({id: 'app_1', slug: 'weather-app', name: 'W', team_id: 'team_1', contact_email: 'w@example.com', description: null, created_by: 'usr_1', created_at: 1}).execute()
    await old
      .insertInto('api_keys')
      .values({id: 'key_1', app_id: 'app_1', env: 'dev', kind: 'dev', name: null, hash: 'h', start: 's', created_by: 'usr_1', created_at: 1, expires_at: 2, metadata: '{}'})
      .execute()
    await old.insertInto('audit_events').values({at: 1, actor_user_id: 'usr_1', action: 'key.create', target_type: 'key', target_id: 'key_1', details: '{}'}).execute()
    await old.destroy()

    const handle = await openDatabase(path)
    cleanups.push(() => handle.close())
    const {repositories} = await import('../../src/server/repositories/index.js')
    const repos = repositories(handle.db)
    expect(await repos.keys.findById('key_1')).toMatchObject({id: 'key_1', createdBy: 'ann', createdByTokenId: null, rotation: null, expiresAt: 2})
    expect(await repos.audit.query({limit: 10})).toEqual([{id: 1, at: 1, actor: 'ann', action: 'key.create', target: 'key:key_1', sourceAddress: null, details: {}}])
    expect(await repos.tokens.listAll()).toEqual([])
  })

  it('upgrades a database created before the verifier-scope migration: its verifiers keep working and accept every environment', async () => {
    const dir = await tempDir()
    const path = join(dir, 'apikey.db')
    cleanups.push(() => rm(dir, {recursive: true, force: true}))
    // A database at the verification schema (every migration before the scope), with a verifier in it.
    const {Kysely, Migrator, SqliteDialect} = await import('kysely')
    const old = new Kysely<any>({dialect: new SqliteDialect({database: new BetterSqlite3(path)})})
    const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '2026-11-30T12-00-00_verifier-scope'))
    expect(Object.keys(before)).toEqual(['2025-11-30T10-00-00_initial', '2025-12-14T09-00-00_key-lifecycle', '2026-01-05T09-00-00_verification'])
    expect((await new Migrator({db: old, provider: {getMigrations: async () => before}}).migrateToLatest()).error).toBeUndefined()
    const token = newVerifierToken()
    await old.insertInto('verifier_tokens').values({id: 'vrf_old', name: 'old-gateway', token_hash: sha256Hex(token), start: tokenStart(token), created_at: 1, revoked_at: null}).execute()
    await old.destroy()

    // The service opens it (applying the new migration) and the old verifier accepts dev and prod keys, as before.
    const h = await startHarness({dir})
    cleanups.push(() => h.stop())
    const raw = new BetterSqlite3(path)
    cleanups.push(async () => void raw.close())
    expect((raw.prepare('select name from kysely_migration order by name').all() as Array<{name: string}>).map((r) => r.name)).toEqual(Object.keys(migrations))
    expect(raw.prepare('select id, name, allowed_envs from verifier_tokens').all()).toEqual([{id: 'vrf_old', name: 'old-gateway', allowed_envs: null}])
    // The column holds null or a non-empty JSON array, nothing else.
    for (const bad of ['[]', 'prod', '{"env":"prod"}']) expect(() => raw.prepare("update verifier_tokens set allowed_envs = ? where id = 'vrf_old'").run(bad), bad).toThrow(/CHECK constraint/)
    await h.addUser('ann', 'mobile')
    const ann = await h.login('ann')
    await h.createApp(ann, 'weather-app', 'mobile')
    for (const env of ['dev', 'prod']) {
      const key = await h.issueKey(ann, 'weather-app', {env})
      expect((await h.verify(token, key.key)).body, env).toMatchObject({valid: true, code: 'VALID', env})
    }
  })

  it('keeps audit_events append-only: UPDATE and DELETE are refused', async () => {
    const {handle} = await open()
    await handle.db.insertInto('audit_events').values({at: 1, actor_user_id: null, action: 'test', target_type: 'user', target_id: null, details: '{}'}).execute()
    await expect(handle.db.updateTable('audit_events').set({action: 'changed'}).execute()).rejects.toThrow(/append-only/)
    await expect(handle.db.deleteFrom('audit_events').execute()).rejects.toThrow(/append-only/)
  })
})
