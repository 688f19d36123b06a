import {Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {listAudit, type AuditResult} from '../services/audit.js'
import {renderAudit} from '../views/lifecycle.js'

/** `apikey audit`. */
export default class Audit extends ApikeyCommand<AuditResult> {
  static override summary = 'Show the audit log: who changed what, when, and from where.'
  static override description = 'Team owners see the events of their apps; admins see all. A table on a terminal; tab-separated lines with full ISO 8601 timestamps when piped; --json for scripts.'
  static override examples = ['<%= config.bin %> audit --app weather-app --since 7d', '<%= config.bin %> audit --since 2027-06-01T00:00:00Z --limit 500 --json']
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app", else every app you may see)'}),
    since: Flags.string({description: 'only events since a duration ago (7d, 24h) or an ISO 8601 instant with offset'}),
    limit: Flags.integer({description: 'at most this many events', min: 1, max: 1000}),
  }

  async run(): Promise<AuditResult> {
    const {flags} = await this.parse(Audit)
    const r = await listAudit(this.deps, {
      ...(flags.app === undefined ? {} : {app: flags.app}),
      ...(flags.since === undefined ? {} : {since: flags.since}),
      ...(flags.limit === undefined ? {} : {limit: flags.limit}),
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      if (r.events.length === 0) this.info('no audit events match')
      this.deps.stdout.write(renderAudit(r.events, this.deps.stdout.isTTY, this.deps.stdout.columns))
    }
    return r
  }
}
