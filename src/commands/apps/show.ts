import {Args} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {renderRows} from '../../lib/render.js'
import {showApp, type ShowAppResult} from '../../services/apps.js'

/** `apikey apps show APP`. */
export default class AppsShow extends ApikeyCommand<ShowAppResult> {
  static override summary = 'Show an app: owning team, point of contact, and how many keys it has.'
  static override examples = ['<%= config.bin %> apps show weather-app', '<%= config.bin %> apps show weather-app --json']
  static override args = {app: Args.string({description: 'app slug', required: true})}
  static override flags = {...networkFlags}

  async run(): Promise<ShowAppResult> {
    const {args, flags} = await this.parse(AppsShow)
    const r = await showApp(this.deps, {app: args.app, ...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      const a = r.app
      const rows: Array<[string, string | undefined]> = [
        ['app', `${a.slug} (${a.name})`],
        ['team', `${a.team.slug} (${a.team.name})`],
        ['contact', a.contactEmail],
        ['description', a.description ?? undefined],
        ['created', `${this.deps.time(a.createdAt, 'stdout')} by ${a.createdBy}`],
        ['keys', r.keys === null ? `not visible: only members of team ${a.team.slug} see its keys` : `${r.keys.total} (${r.keys.active} active, ${r.keys.expired} expired, ${r.keys.revoked} revoked)`],
      ]
      this.log(renderRows(rows, this.deps.stdout.isTTY))
    }
    return r
  }
}
