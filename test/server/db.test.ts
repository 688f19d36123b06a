import {join} from 'node:path'
import {rm} from 'node:fs/promises'
import BetterSqlite3 from 'better-sqlite3'
import {sql} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {openDatabase, type DatabaseHandle} from '../../src/server/db/connection.js'
import {migrations} from '../../src/server/db/migrations/index.js'
import {tempDir} from './helpers.js'

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

  it('keeps audit_events append-only: UPDATE and DELETE are refused', async () => {
    const {handle} = await open()
    await handle.db.insertInto('audit_events').values({at: 1, actor_user_id: null, action: 'test', target_type: 'user', target_id: null, details: '{}'}).execute()
    await expect(handle.db.updateTable('audit_events').set({action: 'changed'}).execute()).rejects.toThrow(/append-only/)
    await expect(handle.db.deleteFrom('audit_events').execute()).rejects.toThrow(/append-only/)
  })
})
