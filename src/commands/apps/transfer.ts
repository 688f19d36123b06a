import {Args, Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {transferApp, type TransferAppResult} from '../../services/apps.js'

/** `apikey apps transfer APP --to-team TEAM`. */
export default class AppsTransfer extends ApikeyCommand<TransferAppResult> {
  static override summary = 'Move an app to another owning team; its keys keep working.'
  static override description = `Only owners of the owning team (or service admins) can transfer an app, and only to a team they are a member of. The new team manages its keys from then on. The app's provisioning tokens stop (the new team creates its own).
On a terminal it asks for the point of contact (default: the current one) and for confirmation; without one, --contact and --yes are required.`
  static override examples = [
    '<%= config.bin %> apps transfer weather-app --to-team forecasting',
    '<%= config.bin %> apps transfer weather-app --to-team forecasting --contact forecasting@example.com --yes',
  ]
  static override args = {app: Args.string({description: 'app slug', required: true})}
  static override flags = {
    ...networkFlags,
    'to-team': Flags.string({description: 'slug of the new owning team', required: true}),
    contact: Flags.string({description: 'point-of-contact email after the move (asked on a terminal; required without one)'}),
    yes: Flags.boolean({char: 'y', description: 'move without asking'}),
  }

  async run(): Promise<TransferAppResult> {
    const {args, flags} = await this.parse(AppsTransfer)
    const r = await transferApp(this.deps, {
      app: args.app,
      toTeam: flags['to-team'],
      ...(flags.contact === undefined ? {} : {contact: flags.contact}),
      yes: flags.yes,
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      this.log(`${this.paint('green', '✓')} ${r.app.slug} moved from team ${r.from} to team ${r.app.team.slug} (contact ${r.app.contactEmail})`)
      if (r.revokedTokens.length > 0) {
        const names = r.revokedTokens.map((t) => `${t.id}${t.name ? ` (${t.name})` : ''}`).join(', ')
        this.warnLine(`${r.revokedTokens.length} provisioning token${r.revokedTokens.length === 1 ? '' : 's'} of the app stopped: ${names}; create new ones for CI: apikey tokens create --app ${r.app.slug} --scope ci`)
      }
    }
    return r
  }
}
