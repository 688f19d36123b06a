/**
 * Text rendering of the lifecycle commands (`keys`, `apps`, `tokens`,
 * `audit`): tables on a TTY, TSV when piped (see {@link renderTable}).
 */
import type {AppView, AuditEventView, KeyView, TokenView} from '../core/wire.js'
import {formatDuration, isPlausibleEpochMs} from '../core/duration.js'
import {renderTable, when, type Column} from './table.js'

/** Status of a key for a table: `active`, `rotated (grace ends …)`, `revoked`, `expired`. */
export function keyStatus(key: KeyView, tty: boolean): string {
  if (key.status === 'active' && key.rotation) return `rotated, grace ends ${when(key.rotation.graceEndsAt, tty)}`
  return key.status
}

const KEY_COLUMNS: Array<Column<KeyView>> = [
  {header: 'id', value: (k) => k.id},
  {header: 'start', value: (k) => k.start},
  {header: 'env', value: (k) => k.env},
  {header: 'kind', value: (k) => k.kind},
  {header: 'name', value: (k) => k.name},
  {header: 'created by', value: (k) => k.createdBy},
  {header: 'created', value: (k, tty) => when(k.createdAt, tty)},
  {header: 'expires', value: (k, tty) => when(k.expiresAt, tty)},
  {header: 'last used', value: (k, tty) => when(k.lastUsedAt, tty)},
  {header: 'status', value: (k, tty) => keyStatus(k, tty)},
]

/** Keys as a table / TSV (columns: id, start, env, kind, name, created by, created, expires, last used, status). */
export function renderKeys(keys: readonly KeyView[], tty: boolean, width?: number): string {
  return renderTable(keys, KEY_COLUMNS, tty, width)
}

const APP_COLUMNS: Array<Column<AppView>> = [
  {header: 'slug', value: (a) => a.slug},
  {header: 'name', value: (a) => a.name},
  {header: 'team', value: (a) => a.team.slug},
  {header: 'contact', value: (a) => a.contactEmail},
  {header: 'created', value: (a, tty) => when(a.createdAt, tty)},
]

/** Apps as a table / TSV (slug, name, team, contact, created). */
export function renderApps(apps: readonly AppView[], tty: boolean, width?: number): string {
  return renderTable(apps, APP_COLUMNS, tty, width)
}

const TOKEN_COLUMNS: Array<Column<TokenView>> = [
  {header: 'id', value: (t) => t.id},
  {header: 'app', value: (t) => t.app},
  {header: 'scope', value: (t) => t.scope},
  {header: 'name', value: (t) => t.name},
  {header: 'start', value: (t) => t.start},
  {header: 'created by', value: (t) => t.createdBy},
  {header: 'created', value: (t, tty) => when(t.createdAt, tty)},
  {header: 'expires', value: (t, tty) => when(t.expiresAt, tty)},
  {header: 'last used', value: (t, tty) => when(t.lastUsedAt, tty)},
  {header: 'status', value: (t) => t.status},
]

/** Provisioning tokens as a table / TSV. */
export function renderTokens(tokens: readonly TokenView[], tty: boolean, width?: number): string {
  return renderTable(tokens, TOKEN_COLUMNS, tty, width)
}

const AUDIT_COLUMNS: Array<Column<AuditEventView>> = [
  {header: 'time', value: (e, tty) => (tty ? when(e.time, tty) : new Date(e.time).toISOString())},
  {header: 'actor', value: (e) => e.actor ?? '(anonymous)'},
  {header: 'action', value: (e) => e.action},
  {header: 'target', value: (e) => e.target},
  {header: 'from', value: (e) => e.sourceAddress},
  {header: 'details', value: (e, tty) => (Object.keys(e.details).length === 0 ? '' : tty ? detailPairs(e.details) : JSON.stringify(e.details))},
]

/**
 * Audit details for people: `k=v` pairs, instants (`…At` fields and other
 * plausible epoch-ms numbers) as ISO 8601, nested values as compact JSON.
 */
export function detailPairs(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => {
      if (typeof v === 'number' && (/At$/.test(k) || isPlausibleEpochMs(v)) && isPlausibleEpochMs(v)) return `${k}=${new Date(v).toISOString()}`
      if (typeof v === 'number' && /Ms$/.test(k)) return `${k.replace(/Ms$/, '')}=${formatDuration(v)}`
      if (typeof v === 'string') return `${k}=${/\s/.test(v) ? JSON.stringify(v) : v}`
      return `${k}=${JSON.stringify(v)}`
    })
    .join(' ')
}

/** Audit events as a table (details as `k=v` pairs) / TSV (details as compact JSON): time, actor, action, target, from, details. */
export function renderAudit(events: readonly AuditEventView[], tty: boolean, width?: number): string {
  return renderTable(events, AUDIT_COLUMNS, tty, width)
}
