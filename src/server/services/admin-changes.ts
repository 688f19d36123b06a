/**
 * Changes made on the service's host by `apikey server …` admin commands
 * (`server users add`, `server verifiers add|revoke`) are written by another
 * process straight to the database, with their audit entries. This feed reads
 * those audit entries and emits them as change events on the service's
 * {@link LifecycleEvents}, so that a running service hears of a new team,
 * user, membership, promotion or verifier change as it hears of changes made
 * through its own API. Only these admin actions are read: key and app changes
 * are announced by the process that commits them and kept coherent across
 * processes by the key-record cache's own audit-log read.
 */
import {repositories} from '../repositories/index.js'
import type {ServiceContext} from './context.js'
import type {LifecycleEventType, LifecycleEvents} from './lifecycle.js'

/** Audit action of an admin command → the change event it becomes. */
export const ADMIN_CHANGE_EVENTS: Readonly<Record<string, LifecycleEventType>> = {
  'team.create': 'team.created',
  'user.create': 'user.created',
  'user.promote': 'user.promoted',
  'membership.add': 'membership.added',
  'verifier.create': 'verifier.created',
  'verifier.revoke': 'verifier.revoked',
}

/** How often a running service reads the audit log for admin changes, in ms. */
export const ADMIN_CHANGE_POLL_MS = 1000

/** Most audit entries read per poll; the rest are read by the next poll. */
const BATCH = 500

/** Reads admin changes from the audit log and emits them (see the module comment). */
export class AdminChangeFeed {
  /** Id of the last audit entry read; undefined until the first poll, which starts at the newest entry (no history is replayed). */
  private readThrough: number | undefined
  private polling: Promise<number> | undefined

  constructor(
    private readonly ctx: ServiceContext,
    private readonly events: LifecycleEvents,
  ) {}

  /**
   * Reads audit entries committed since the last poll and emits one event per admin change
   * (`type` from {@link ADMIN_CHANGE_EVENTS}, `target` naming the team, user or verifier,
   * `keyIds: []`, `app: ''`). Concurrent calls share one read.
   * @returns how many events were emitted.
   * @throws the database error when the audit log cannot be read (nothing is skipped: the next poll reads again).
   */
  poll(): Promise<number> {
    this.polling ??= this.read().finally(() => {
      this.polling = undefined
    })
    return this.polling
  }

  private async read(): Promise<number> {
    const audit = repositories(this.ctx.readDb).audit
    if (this.readThrough === undefined) {
      this.readThrough = await audit.lastId()
      return 0
    }
    let emitted = 0
    for (const change of await audit.changesAfter(this.readThrough, BATCH)) {
      this.readThrough = change.id
      const type = ADMIN_CHANGE_EVENTS[change.action]
      if (type === undefined || change.targetId === null) continue
      this.events.emit({type, keyIds: [], app: '', at: this.ctx.clock.now(), target: {type: change.targetType, id: change.targetId}})
      emitted++
    }
    return emitted
  }
}
