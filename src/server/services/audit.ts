/**
 * Reading the audit log (`GET /v1/audit`). The log itself is written by the
 * services that mutate (in the same transaction as the change) and is
 * append-only at the database level (triggers refuse UPDATE and DELETE).
 *
 * Who reads what: admins every event (with or without `app`); owners (role
 * `owner`) of an app's current owning team the events of that app — including
 * those from before a transfer; everyone else 403.
 */
import {ApikeyError} from '../../core/errors.js'
import {isPlausibleEpochMs} from '../../core/duration.js'
import type {AuditEventView, ListAuditResponse} from '../../core/wire.js'
import {validationError} from '../problems.js'
import {repositories} from '../repositories/index.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'

/** Events per answer when the request gives no `limit`. */
export const DEFAULT_AUDIT_LIMIT = 100
/** Largest `limit` accepted. */
export const MAX_AUDIT_LIMIT = 1000

/** Query of {@link AuditService.list}. */
export interface AuditListQuery {
  /** Only events of this app (slug). */
  app?: string | undefined
  /** Only events at or after this instant, ms since epoch (0 = from the beginning). */
  since?: number | undefined
  /** At most this many events, 1–{@link MAX_AUDIT_LIMIT}; default {@link DEFAULT_AUDIT_LIMIT}. */
  limit?: number | undefined
}

/** Reading the audit log. */
export class AuditService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Audit events, newest first (by time, then insertion order).
   * @throws ApikeyError `validation` for a bad `since` (seconds by mistake) or `limit`;
   *   `not_found` for an unknown app; `forbidden` for callers who own neither the app's
   *   team nor any team (naming the owning team), unless admin.
   */
  async list(principal: Principal, query: AuditListQuery): Promise<ListAuditResponse> {
    const limit = query.limit ?? DEFAULT_AUDIT_LIMIT
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) throw validationError('limit', `an integer from 1 to ${MAX_AUDIT_LIMIT}`)
    const since = query.since
    if (since !== undefined && since !== 0 && !isPlausibleEpochMs(since)) {
      throw validationError('since', `milliseconds since the Unix epoch (UTC), or 0; ${since} is not a plausible instant (seconds by mistake?)`)
    }
    const repos = repositories(this.ctx.db)
    const admin = principal.user.isAdmin
    let appIds: string[] | undefined
    if (query.app !== undefined) {
      const app = await repos.apps.findBySlug(query.app)
      if (app === undefined) throw appNotFound(query.app)
      if (!admin && (await repos.teams.roleOf(principal.user.id, app.team.id)) !== 'owner') {
        throw new ApikeyError(
          `the app "${app.slug}" belongs to team ${app.team.name} (${app.team.slug}); only owners of that team and admins can read its audit log. Its point of contact is ${app.contactEmail}.`,
          {code: 'forbidden', details: {owningTeam: app.team.slug, owningTeamName: app.team.name, contactEmail: app.contactEmail, app: app.slug, requiredRole: 'owner'}},
        )
      }
      appIds = [app.id]
    } else if (!admin) {
      appIds = await repos.apps.idsOwnedBy(principal.user.id)
      const owns = (await repos.teams.membershipsOf(principal.user.id)).some((m) => m.role === 'owner')
      if (!owns) throw new ApikeyError('only team owners (for their apps) and admins can read the audit log', {code: 'forbidden', details: {requiredRole: 'owner'}})
    }
    const entries = await repos.audit.query({...(appIds === undefined ? {} : {appIds}), ...(since === undefined ? {} : {since}), limit})
    const events: AuditEventView[] = entries.map((e) => ({
      id: String(e.id),
      actor: e.actor,
      action: e.action,
      target: e.target,
      time: e.at,
      sourceAddress: e.sourceAddress,
      details: e.details,
    }))
    return {events}
  }
}
