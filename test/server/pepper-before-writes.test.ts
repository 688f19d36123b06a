/**
 * A pepper that is not the database's is refused before anything is written: by
 * `startServer` (before migrations, and without making a new pepper file) and by the
 * admin operations behind `apikey server users|verifiers …`.
 */
import {access, rm, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {Kysely, Migrator, SqliteDialect} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {staticMigrationProvider} from '../../src/server/db/connection.js'
import type {Database} from '../../src/server/db/schema.js'
import {PEPPER_FINGERPRINT, startServer} from '../../src/server/main.js'
import {pepperFingerprint, pepperPathFor} from '../../src/server/services/pepper.js'
import {addUser} from '../../src/server/services/users.js'
import {addVerifier, listVerifiers, revokeVerifier} from '../../src/server/services/verifiers.js'
import {TEST_SCRYPT, tempDir} from './helpers.js'

const PEPPER = 'p'.repeat(40)
const OTHER = 'q'.repeat(40)

/** Rows of one table, read without writing. */
function rows(dbPath: string, sql: string): unknown[] {
  const raw = new BetterSqlite3(dbPath, {readonly: true})
  try {
    return raw.prepare(sql).all()
  } finally {
    raw.close()
  }
}

describe('a pepper that is not the database\'s', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
  })
  async function dir(): Promise<string> {
    const d = await tempDir()
    dirs.push(d)
    return d
  }

  it('is refused by server start before any migration runs', async () => {
    // A database an older release left: migrated up to its first migration only, with a pepper fingerprint.
    const dbPath = join(await dir(), 'apikey.db')
    const db = new Kysely<Database>({dialect: new SqliteDialect({database: new BetterSqlite3(dbPath)})})
    const first = Object.keys(await staticMigrationProvider.getMigrations())[0]!
    const {error} = await new Migrator({db, provider: staticMigrationProvider}).migrateTo(first)
    expect(error).toBeUndefined()
    await db.insertInto('server_meta').values({name: PEPPER_FINGERPRINT, value: pepperFingerprint(Buffer.from(PEPPER, 'utf8'))}).execute()
    await db.destroy()
    const applied = rows(dbPath, 'select name from kysely_migration')
    expect(applied).toHaveLength(1)

    await expect(startServer({port: 0, dbPath, pepper: OTHER, logLevel: 'silent'})).rejects.toThrow(/not the one this database was created with[\s\S]*Nothing was written/)
    expect(rows(dbPath, 'select name from kysely_migration')).toEqual(applied)

    // Neither APIKEY_PEPPER nor a pepper file: refused too, and no new pepper file is made.
    await expect(startServer({port: 0, dbPath, logLevel: 'silent'})).rejects.toThrow(/neither APIKEY_PEPPER nor \S+\.pepper holds it/)
    await expect(access(pepperPathFor(dbPath))).rejects.toThrow()
    expect(rows(dbPath, 'select name from kysely_migration')).toEqual(applied)

    // The right pepper: migrated and started.
    const server = await startServer({port: 0, dbPath, pepper: PEPPER, logLevel: 'silent', settings: {scryptCost: TEST_SCRYPT}})
    await server.close()
    expect(rows(dbPath, 'select name from kysely_migration').length).toBe(Object.keys(await staticMigrationProvider.getMigrations()).length)
  })

  it('is refused by the admin operations (users add, verifiers add/revoke/list) before anything is written', async () => {
    const d = await dir()
    const dbPath = join(d, 'apikey.db')
    const server = await startServer({port: 0, dbPath, logLevel: 'silent', settings: {scryptCost: TEST_SCRYPT}})
    await server.close()
    const verifier = await addVerifier({dbPath, name: 'orders'})
    const wrong = {APIKEY_PEPPER: OTHER}
    const before = rows(dbPath, 'select action from audit_events')

    await expect(addUser({dbPath, env: wrong, username: 'ann', password: 'a long password', team: 'mobile', admin: false, scryptCost: TEST_SCRYPT})).rejects.toMatchObject({
      code: 'validation',
      message: expect.stringMatching(/given in APIKEY_PEPPER is not the one this database was created with/),
    })
    await expect(addVerifier({dbPath, env: wrong, name: 'gateway'})).rejects.toMatchObject({code: 'validation'})
    await expect(revokeVerifier({dbPath, env: wrong, verifier: verifier.name})).rejects.toMatchObject({code: 'validation'})
    await expect(listVerifiers({dbPath, env: wrong})).rejects.toMatchObject({code: 'validation'})
    expect(rows(dbPath, 'select action from audit_events')).toEqual(before)
    expect(rows(dbPath, 'select username from users')).toEqual([])

    // The pepper file beside the database is the right one: accepted without APIKEY_PEPPER.
    await expect(addUser({dbPath, env: {}, username: 'ann', password: 'a long password', team: 'mobile', admin: false, scryptCost: TEST_SCRYPT})).resolves.toMatchObject({createdUser: true})
    // A wrong pepper file is refused as well.
    await unlink(pepperPathFor(dbPath))
    const {writeFile} = await import('node:fs/promises')
    await writeFile(pepperPathFor(dbPath), `${'ab'.repeat(32)}\n`, {mode: 0o600})
    await expect(addVerifier({dbPath, env: {}, name: 'gateway'})).rejects.toThrow(/in \S+\.pepper is not the one/)
  })
})
