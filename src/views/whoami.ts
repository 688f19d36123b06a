/**
 * Text rendering of `apikey whoami` results, shared by the oclif command and
 * the start-up fast path (bin/run.js), so both print the same bytes.
 */
import {isoTime, painter, renderRows} from '../lib/render.js'
import type {KeyView} from '../core/wire.js'
import type {WhoamiResult} from '../services/whoami.js'

/** A point in time as shown: relative on a terminal, else ISO 8601 after `preposition` (when given). */
export type TimeText = (ms: number | null, preposition?: string) => string

/** ISO 8601 after `preposition` (when given): the piped form. */
function isoTimeAt(ms: number | null, preposition?: string): string {
  return preposition === undefined || ms === null ? isoTime(ms) : `${preposition} ${isoTime(ms)}`
}

/** `active`, `active (rotated; grace ends at …)`, `revoked at … by …`, `expired at …`. */
export function statusText(key: KeyView, time: TimeText = isoTimeAt): string {
  if (key.status === 'revoked') return `revoked${key.revokedAt === null ? '' : ` ${time(key.revokedAt, 'at')}`}${key.revokedBy ? ` by ${key.revokedBy}` : ''} — rejected by the service`
  if (key.status === 'expired') return `expired ${time(key.expiresAt, 'at')} — rejected by the service`
  if (key.rotation) return `active (rotated; grace ends ${time(key.rotation.graceEndsAt, 'at')})`
  return 'active'
}

/** Renders a whoami result: data for stdout, warnings and lookup failures for stderr. */
export function renderWhoami(r: WhoamiResult, options: {stdoutTTY: boolean; color: boolean; time?: TimeText}): {stdout: string; stderr: string} {
  // Times: relative on a terminal, ISO 8601 when piped (the command passes Deps.time).
  const time = options.time ?? isoTimeAt
  const paint = painter(options.color)
  const rows: Array<[string, string | undefined]> = [
    ['key', r.key.start],
    ['source', r.source.location],
  ]
  if (r.lookup.state === 'ok') {
    const {app, apiKey} = r.lookup
    rows.push(
      ['app', `${app.slug} (${app.name})`],
      ['team', `${app.team.slug} (${app.team.name})`],
      ['contact', app.contactEmail],
      ['env', apiKey.env],
      ['kind', apiKey.kind],
      ['key id', apiKey.id],
      ['name', apiKey.name ?? undefined],
      ['status', statusText(apiKey, time)],
      ['created', `${time(apiKey.createdAt)} by ${apiKey.createdBy}`],
      ['expires', time(apiKey.expiresAt)],
      ['rotation', apiKey.rotation ? `rotated ${time(apiKey.rotation.rotatedAt)}, replaced by ${apiKey.rotation.replacedBy}; grace ends ${time(apiKey.rotation.graceEndsAt, 'at')}` : undefined],
      ['revoked', apiKey.revokedAt === null ? undefined : `${time(apiKey.revokedAt)}${apiKey.revokedBy ? ` by ${apiKey.revokedBy}` : ''}`],
      ['last used', apiKey.lastUsedAt === null ? undefined : time(apiKey.lastUsedAt)],
    )
    const m = apiKey.metadata
    rows.push(
      ['ci provider', m.ciProvider],
      ['build', m.build === undefined ? undefined : `${m.build}${m.buildUrl ? ` (${m.buildUrl})` : ''}`],
      ['build url', m.build === undefined ? m.buildUrl : undefined],
      ['commit', m.commit],
      ['branch', m.branch],
      ['repository', m.repository],
      ['version', m.version],
      ['host', m.hostname],
      ['server', r.lookup.server.url],
    )
  } else {
    rows.push(['app', `${r.key.app} (read from the key${r.lookup.state === 'skipped' ? '; --offline: owner not looked up' : '; not confirmed by the service'})`], ['env', r.key.env], ['checksum', 'valid'])
  }
  let stderr = ''
  for (const w of r.warnings) stderr += `${paint('yellow', '⚠')} ${w}\n`
  if (r.lookup.state === 'failed') {
    stderr += `${paint('red', 'Owner lookup failed:')} ${r.lookup.error.message}\n`
    for (const s of r.lookup.error.suggestions) stderr += `  ${paint('cyan', '→')} ${s}\n`
  }
  return {stdout: `${renderRows(rows, options.stdoutTTY)}\n`, stderr}
}
