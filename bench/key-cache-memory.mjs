#!/usr/bin/env node
// Heap per cached key record, measured against the cache's own estimate (services/key-cache.ts):
// fills a KeyRecordCache with the records of KEYS (default 200,000) keys read from a database
// through the same repository query verification uses, and prints V8 heap used after minus
// before (after full GCs) per record, next to the estimate per record. Run:
//   npm run build && node --expose-gc bench/key-cache-memory.mjs
// Prints one JSON object. The database is made by bench/hotpath-db.mjs (kept for the next run).
import {mod, prepare} from './hotpath-db.mjs'

if (typeof globalThis.gc !== 'function') {
  console.error('bench/key-cache-memory.mjs: run with node --expose-gc')
  process.exit(1)
}
const count = Number(process.env.KEYS ?? 200_000)
const prepared = await prepare(count)
const [{openDatabase}, {repositories}, {keyHash}, {KeyRecordCache}, {effectiveLimit}, {resolveSettings}, {deadlineOf, cacheId: cacheIdOf}] = await Promise.all(
  ['server/db/connection.js', 'server/repositories/index.js', 'server/services/crypto.js', 'server/services/key-cache.js', 'server/services/limits.js', 'server/settings.js', 'server/services/verify.js'].map(mod),
)
const settings = resolveSettings({})
const pepper = Buffer.from(prepared.pepper, 'utf8')
const handle = await openDatabase(prepared.dbPath)
const keys = repositories(handle.db).keys
const cache = new KeyRecordCache(1024 * 1024 * 1024)
/** Reads the key's row and caches its record, as verification does on a miss. */
async function add(plaintext) {
  const found = await keys.findForVerification(keyHash(pepper, plaintext))
  if (found === undefined) throw new Error('a prepared key is missing from the database')
  const cacheId = cacheIdOf(plaintext)
  cache.set(cache.record(cacheId, found.key, found.app, effectiveLimit(settings, found.key.env, found.overrides), deadlineOf(found.key), Date.now()))
}
// Warm-up: compiled query, shared app view and policy, JIT.
for (const key of prepared.keys.slice(0, 1000)) await add(key)
const heap = () => {
  globalThis.gc()
  globalThis.gc()
  return process.memoryUsage().heapUsed
}
const before = heap()
const bytesBefore = cache.bytes
const sizeBefore = cache.size
for (const key of prepared.keys.slice(1000)) await add(key)
const after = heap()
const added = cache.size - sizeBefore
await handle.close()
const measured = (after - before) / added
const estimated = (cache.bytes - bytesBefore) / added
console.log(
  JSON.stringify(
    {
      records: added,
      heapBytesPerRecord: Math.round(measured),
      estimatedBytesPerRecord: Math.round(estimated),
      estimateOverMeasured: Number((estimated / measured).toFixed(3)),
      recordsIn64MiB: Math.floor((64 * 1024 * 1024) / estimated),
      node: process.version,
    },
    null,
    2,
  ),
)
