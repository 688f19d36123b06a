import {sql, type Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** Kinds of audit target. */
export type AuditTargetType = 'session' | 'user' | 'team' | 'app' | 'key' | 'token' | 'verifier'

/** One audit event to append. `details` must never hold secrets. */
export interface AuditEventInput {
  /** When, ms since epoch. */
  at: number
  /** Acting user, or null (anonymous, CLI bootstrap, or a provisioning token). */
  actorUserId: string | null
  /** Acting provisioning token, if any. */
  actorTokenId?: string | null
  /** Dotted verb, e.g. `session.create`, `app.create`, `key.create`. */
  action: string
  targetType: AuditTargetType
  targetId: string | null
  /** App the event concerns (owners of its team may read it), if any. */
  appId?: string | null
  /** Client address as Fastify resolved it (respecting `trustProxy`), if any. */
  sourceAddress?: string | null
  details?: Record<string, unknown>
}

/** A stored audit event. */
export interface AuditEvent extends Required<AuditEventInput> {
  id: number
}

/**
 * Actor of changes made on the service's host with `apikey server …` commands (no session:
 * whoever can write the database file), as shown when reading the audit log.
 */
export const LOCAL_ADMIN_ACTOR = 'server admin (local)'

/** Shape of a user id (`usr_` + 20 base62), resolved to the username when reading details. */
const USER_ID = /^usr_[0-9A-Za-z]{20}$/

/** A stored audit event with names resolved for display. */
export interface AuditEntry {
  id: number
  at: number
  /** Username, `token:<id>`, {@link LOCAL_ADMIN_ACTOR} (`apikey server …` on the host), or null (nobody proved who they are, e.g. a failed sign-in). */
  actor: string | null
  action: string
  /** `app:<slug>`, `key:<id>`, `token:<id>`, `team:<slug>`, `user:<username>`, `session:<id>`. */
  target: string
  sourceAddress: string | null
  details: Record<string, unknown>
}

/** Filter of {@link AuditRepository.query}. */
export interface AuditQuery {
  /** Only events of these apps; undefined = every event. */
  appIds?: string[]
  /** Only events at or after this instant (ms). */
  since?: number
  /** At most this many (newest first). */
  limit: number
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text)
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** SQL for `audit_events` (append-only: the table's triggers refuse UPDATE and DELETE; this class has neither). */
export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends an event. */
  async append(event: AuditEventInput): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        at: event.at,
        actor_user_id: event.actorUserId,
        actor_token_id: event.actorTokenId ?? null,
        action: event.action,
        target_type: event.targetType,
        target_id: event.targetId,
        app_id: event.appId ?? null,
        source_address: event.sourceAddress ?? null,
        details: JSON.stringify(event.details ?? {}),
      })
      .execute()
  }

  /**
   * Id of the newest event (0 when there is none). Ids grow in commit order: SQLite has
   * one writer at a time and `audit_events.id` is an AUTOINCREMENT key.
   */
  async lastId(): Promise<number> {
    const row = await this.db.selectFrom('audit_events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst()
    return Number(row?.id ?? 0)
  }

  /** Events after `afterId` in id order (at most `limit`): id, action and target only. */
  async changesAfter(afterId: number, limit: number): Promise<Array<{id: number; action: string; targetType: string; targetId: string | null}>> {
    const rows = await this.db
      .selectFrom('audit_events')
      .select(['id', 'action', 'target_type', 'target_id'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute()
    return rows.map((row) => ({id: row.id, action: row.action, targetType: row.target_type, targetId: row.target_id}))
  }

  /** Every event in insertion order (tests, exports). */
  async list(): Promise<AuditEvent[]> {
    const rows = await this.db.selectFrom('audit_events').selectAll().orderBy('id').execute()
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actorUserId: row.actor_user_id,
      actorTokenId: row.actor_token_id,
      action: row.action,
      targetType: row.target_type as AuditTargetType,
      targetId: row.target_id,
      appId: row.app_id,
      sourceAddress: row.source_address,
      details: parseDetails(row.details),
    }))
  }

  /**
   * Events matching `query`, newest first, with names resolved: the actor's username (or
   * {@link LOCAL_ADMIN_ACTOR} for `apikey server …` commands), the target's slug or username,
   * and user ids in details replaced by usernames.
   */
  async query(query: AuditQuery): Promise<AuditEntry[]> {
    if (query.appIds !== undefined && query.appIds.length === 0) return []
    let q = this.db
      .selectFrom('audit_events as e')
      .leftJoin('users as actor', 'actor.id', 'e.actor_user_id')
      .leftJoin('apps as target_app', (join) => join.onRef('target_app.id', '=', 'e.target_id').on('e.target_type', '=', 'app'))
      .leftJoin('teams as target_team', (join) => join.onRef('target_team.id', '=', 'e.target_id').on('e.target_type', '=', 'team'))
      .leftJoin('users as target_user', (join) => join.onRef('target_user.id', '=', 'e.target_id').on('e.target_type', '=', 'user'))
      .select([
        'e.id as id',
        'e.at as at',
        'e.action as action',
        'e.target_type as target_type',
        'e.target_id as target_id',
        'e.actor_token_id as actor_token_id',
        'e.actor_user_id as actor_user_id',
        'e.source_address as source_address',
        'e.details as details',
        'actor.username as actor_username',
        sql<string | null>`coalesce(target_app.slug, target_team.slug, target_user.username)`.as('target_name'),
      ])
    if (query.appIds !== undefined) q = q.where('e.app_id', 'in', query.appIds)
    if (query.since !== undefined) q = q.where('e.at', '>=', query.since)
    const rows = await q.orderBy('e.at', 'desc').orderBy('e.id', 'desc').limit(query.limit).execute()
    const parsed = rows.map((row) => ({row, details: parseDetails(row.details)}))
    const usernames = await this.usernamesOf(parsed.flatMap(({details}) => Object.values(details).filter((v): v is string => typeof v === 'string' && USER_ID.test(v))))
    return parsed.map(({row, details}) => ({
      id: row.id,
      at: row.at,
      actor:
        row.actor_token_id !== null
          ? `token:${row.actor_token_id}`
          : (row.actor_username ?? (row.actor_user_id === null && details.via === 'cli' ? LOCAL_ADMIN_ACTOR : null)),
      action: row.action,
      target: `${row.target_type}:${row.target_name ?? row.target_id ?? 'unknown'}`,
      sourceAddress: row.source_address,
      details: Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === 'string' ? (usernames.get(v) ?? v) : v])),
    }))
  }

  /** Usernames of the given user ids (unknown ids are left out). */
  private async usernamesOf(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map()
    const rows = await this.db.selectFrom('users').select(['id', 'username']).where('id', 'in', [...new Set(ids)]).execute()
    return new Map(rows.map((r) => [r.id, r.username]))
  }
}
