import {Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {renderRows} from '../lib/render.js'
import {appUsage, type UsageResult} from '../services/usage.js'

/** `apikey usage`. */
export default class Usage extends ApikeyCommand<UsageResult> {
  static override summary = "Show your app's own traffic: keys, outcomes, routes, client apps, versions."
  static override description =
    'For members of the owning team. Counts come from verifications (the key service, the nginx form, and batches from the verifier library). Client networks are only counted, never shown: many distinct networks and client apps on one key can mean it is shared. The service keeps counts per minute for 2 days, per hour for 35 days and per day for 90 days (its defaults): a start where finer counts are gone is widened to the whole hour or day, and a start before what is kept begins at the oldest kept day; the output says so ("covered").'
  static override examples = ['<%= config.bin %> usage', '<%= config.bin %> usage --app weather-app --since 7d', '<%= config.bin %> usage --since 2027-06-01T00:00:00Z --json']
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app")'}),
    since: Flags.string({description: 'from a duration ago (default 24h) or an ISO 8601 instant with offset'}),
  }

  async run(): Promise<UsageResult> {
    const {flags} = await this.parse(Usage)
    const result = await appUsage(this.deps, {
      ...(flags.app === undefined ? {} : {app: flags.app}),
      ...(flags.since === undefined ? {} : {since: flags.since}),
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      const r = result.report
      const counts = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || '—'
      const top = (b: Array<{value: string; count: number}>) => b.slice(0, 5).map((x) => `${x.value} ${x.count}`).join(', ') || '—'
      const rows: Array<[string, string | undefined]> = [
        ['app', r.app],
        ['from', this.deps.time(r.since, 'stdout')],
        ['until', this.deps.time(r.until, 'stdout')],
        ...(r.requested !== undefined && (r.resolution !== 'minute' || r.since > Math.floor(r.requested.since / 60_000) * 60_000)
          ? [['covered', `${r.resolution === 'minute' ? 'the kept part of the range' : `whole ${r.resolution}s (finer counts are no longer kept)`}; asked from ${this.deps.time(r.requested.since, 'stdout')}`] as [string, string]]
          : []),
        ['requests', String(r.total)],
        ['outcomes', counts(r.byCode)],
        ['keys', r.byKey.map((k) => `${k.keyId} (${k.env}) ${k.total}`).join(', ') || '—'],
        ['routes', top(r.byRoute)],
        ['client apps', top(r.byClientApp)],
        ['versions', top(r.byAppVersion)],
        ['user agents', top(r.byUserAgentFamily)],
        ['networks', `${r.distinctNetworks} distinct`],
      ]
      this.deps.stdout.write(`${renderRows(rows, this.deps.stdout.isTTY)}\n`)
    }
    return result
  }
}
