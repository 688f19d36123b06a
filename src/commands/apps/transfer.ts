import {Args, Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {transferApp, type TransferAppResult} from '../../services/apps.js'

/** `apikey apps transfer APP --to-team TEAM`. */
export default class AppsTransfer extends ApikeyCommand<TransferAppResult> {
  static override summary = 'Move an app to another owning team; its keys keep working.'
  static override description = 'Only members of the owning team (or admins) may transfer an app. The new team manages its keys from then on; --contact changes the point of contact at the same time.'
  static override examples = ['<%= config.bin %> apps transfer weather-app --to-team forecasting --contact forecasting@example.com']
  static override args = {app: Args.string({description: 'app slug', required: true})}
  static override flags = {
    ...networkFlags,
    'to-team': Flags.string({description: 'slug of the new owning team', required: true}),
    contact: Flags.string({description: 'new point-of-contact email (default: unchanged)'}),
  }

  async run(): Promise<TransferAppResult> {
    const {args, flags} = await this.parse(AppsTransfer)
    const r = await transferApp(this.deps, {
      app: args.app,
      toTeam: flags['to-team'],
      ...(flags.contact === undefined ? {} : {contact: flags.contact}),
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) this.log(`${this.paint('green', '✓')} ${r.app.slug} moved from team ${r.from} to team ${r.app.team.slug} (contact ${r.app.contactEmail})`)
    return r
  }
}
