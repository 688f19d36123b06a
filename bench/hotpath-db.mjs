// Databases for bench/hotpath.mjs and bench/key-cache-memory.mjs: `count` keys of one app and a
// verifier, kept in HOTPATH_DB (default <tmp>/apikey-hotpath-bench/<count>) for the next run.
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
export const dist = resolve(process.env.APIKEY_DIST ?? join(root, 'packages', 'server', 'dist'))
export const dbRoot = process.env.HOTPATH_DB ?? join(tmpdir(), 'apikey-hotpath-bench')
export const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef'
const CHEAP_SCRYPT = {N: 2 ** 10, r: 8, p: 1}
/** A module of the built service. */
export const mod = (path) => import(pathToFileURL(join(dist, path)).href)

/** A database with `count` keys of one app and a verifier (kept in `dbRoot` for the next run); the plaintexts of all keys. */
export async function prepare(count) {
  const dir = join(dbRoot, String(count))
  const saved = join(dir, 'keys.json')
  if (existsSync(saved)) return {dbPath: join(dir, 'apikey.db'), pepper: PEPPER, ...JSON.parse(readFileSync(saved, 'utf8'))}
  console.error(`hotpath: storing ${count} keys in ${dir}…`)
  mkdirSync(dir, {recursive: true})
  const [connection, users, verifiers, repos, crypto, keyFormat] = await Promise.all(
    ['server/db/connection.js', 'server/services/users.js', 'server/services/verifiers.js', 'server/repositories/index.js', 'server/services/crypto.js', 'core/key-format.js'].map(mod),
  )
  const dbPath = join(dir, 'apikey.db')
  await (await connection.openDatabase(dbPath)).close()
  await users.addUser({dbPath, username: 'bench', password: 'bench-password-123', team: 'bench', admin: false, scryptCost: CHEAP_SCRYPT})
  const verifier = (await verifiers.addVerifier({dbPath, name: 'bench'})).token
  const handle = await connection.openDatabase(dbPath)
  const pepper = Buffer.from(PEPPER, 'utf8')
  const keys = []
  const user = (await handle.db.selectFrom('users').select('id').executeTakeFirstOrThrow()).id
  const team = (await handle.db.selectFrom('teams').select('id').executeTakeFirstOrThrow()).id
  await repos.inTransaction(handle.db, async (r) => {
    await r.apps.insert({id: 'app_bench', slug: 'bench-app', name: 'Bench', teamId: team, contactEmail: 'bench@example.com', description: null, createdBy: user, createdAt: Date.now()})
    let rows = []
    for (let i = 0; i < count; i++) {
      const key = keyFormat.generateKey({prefix: 'ak', app: 'bench-app', env: 'prod'})
      keys.push(key)
      rows.push({
        id: crypto.newId('key'),
        appId: 'app_bench',
        env: 'prod',
        kind: 'service',
        name: null,
        hash: crypto.keyHash(pepper, key),
        start: keyFormat.parseKey(key).start,
        createdBy: user,
        createdAt: Date.now(),
        expiresAt: Date.now() + 365 * 86_400_000,
        metadata: {},
      })
      if (rows.length === 20_000) {
        await r.keys.insertMany(rows)
        rows = []
      }
    }
    await r.keys.insertMany(rows)
  })
  await handle.close()
  writeFileSync(saved, JSON.stringify({verifier, keys}))
  return {dbPath, pepper: PEPPER, verifier, keys}
}

