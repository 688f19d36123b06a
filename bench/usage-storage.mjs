#!/usr/bin/env node
// Storage of usage in a key service database: per usage table (and its indexes) the rows, the
// bytes (SQLite's dbstat: pages of the table's b-trees) and bytes per row; the verifications the
// database holds (days, then hours after the last rolled day, then minutes after the last rolled
// hour: each counted once) and bytes per million verifications, overall and per level.
//
//   node bench/usage-storage.mjs --db PATH        (a database built by `node bench/usage.mjs storage`,
//                                                  BENCH_DATA_DIR keeps those, or any service database)
//
// Prints one JSON object. Read-only: the database may be in use by a running service.
import {sqlite} from './lib.mjs'

const at = process.argv.indexOf('--db')
const dbPath = at >= 0 ? process.argv[at + 1] : undefined
if (dbPath === undefined) {
  console.error('usage: node bench/usage-storage.mjs --db PATH (a key service database; build one with node bench/usage.mjs storage and BENCH_DATA_DIR=DIR)')
  process.exit(2)
}
const Database = sqlite()
const db = new Database(dbPath, {readonly: true, fileMustExist: true})
const owners = new Map(db.prepare("select name, tbl_name from sqlite_master where type in ('table', 'index')").all().map((r) => [r.name, r.tbl_name]))
const bytes = {}
for (const r of db.prepare('select name, sum(pgsize) as bytes from dbstat group by name').all()) {
  const table = owners.get(r.name) ?? r.name
  if (!table.startsWith('usage_') || table === 'usage_batches') continue
  bytes[table] = (bytes[table] ?? 0) + r.bytes
}
const tables = Object.keys(bytes).sort()
const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`select count(*) as n from "${t}"`).get().n]))
const marks = Object.fromEntries(db.prepare('select level, rolled_before as r from usage_levels').all().map((m) => [m.level, m.r]))
const sum = (sql, ...params) => Number(db.prepare(sql).get(...params).n ?? 0)
const hoursFrom = marks.minute ?? 0
const daysFrom = marks.hour ?? 0
const verifications =
  sum('select sum(count) as n from usage_day where minute < ?', daysFrom) +
  sum('select sum(count) as n from usage_hour where minute >= ? and minute < ?', daysFrom, hoursFrom) +
  sum('select sum(count) as n from usage_minute where minute >= ?', hoursFrom)
const perMillion = (b) => (verifications === 0 ? null : Math.round(b / (verifications / 1e6)))
const level = (name, list) => {
  const b = list.reduce((a, t) => a + (bytes[t] ?? 0), 0)
  const n = list.reduce((a, t) => a + (rows[t] ?? 0), 0)
  return {tables: list, rows: n, bytes: b, bytesPerRow: n === 0 ? null : Math.round(b / n), bytesPerMillionVerifications: perMillion(b)}
}
const totalBytes = tables.reduce((a, t) => a + bytes[t], 0)
const totalRows = tables.reduce((a, t) => a + rows[t], 0)
console.log(
  JSON.stringify(
    {
      dbPath,
      verifications,
      tables: Object.fromEntries(tables.map((t) => [t, {rows: rows[t], bytes: bytes[t], bytesPerRow: rows[t] === 0 ? null : Math.round(bytes[t] / rows[t])}])),
      levels: {
        minute: level('minute', ['usage_minute']),
        hour: level('hour', ['usage_hour', 'usage_facet_hour']),
        day: level('day', ['usage_day', 'usage_facet_day', 'usage_facet_week']),
        values: level('values', ['usage_values']),
      },
      usageRows: totalRows,
      usageBytes: totalBytes,
      bytesPerRow: totalRows === 0 ? null : Math.round(totalBytes / totalRows),
      bytesPerMillionVerifications: perMillion(totalBytes),
      databaseFileBytes: db.prepare('select page_count * page_size as b from pragma_page_count(), pragma_page_size()').get().b,
    },
    null,
    2,
  ),
)
db.close()
