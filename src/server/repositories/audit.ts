import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** One audit event to append. `details` must never hold secrets. */
export interface AuditEventInput {
  /** When, ms since epoch. */
  at: number
  actorUserId: string | null
  /** Dotted verb, e.g. `session.create`, `app.create`, `key.create`. */
  action: string
  targetType: 'session' | 'user' | 'team' | 'app' | 'key'
  targetId: string | null
  details?: Record<string, unknown>
}

/** A stored audit event. */
export interface AuditEvent extends Required<AuditEventInput> {
  id: number
}

/** SQL for `audit_events` (append-only: the table's triggers refuse UPDATE and DELETE). */
export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends an event. */
  async append(event: AuditEventInput): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        at: event.at,
        actor_user_id: event.actorUserId,
        action: event.action,
        target_type: event.targetType,
        target_id: event.targetId,
        details: JSON.stringify(event.details ?? {}),
      })
      .execute()
  }

  /** Every event in insertion order (for tests and a later `audit` route). */
  async list(): Promise<AuditEvent[]> {
    const rows = await this.db.selectFrom('audit_events').selectAll().orderBy('id').execute()
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actorUserId: row.actor_user_id,
      action: row.action,
      targetType: row.target_type as AuditEvent['targetType'],
      targetId: row.target_id,
      details: JSON.parse(row.details) as Record<string, unknown>,
    }))
  }
}
