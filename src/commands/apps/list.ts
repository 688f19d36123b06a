import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {listApps, type ListAppsResult} from '../../services/apps.js'
import {renderApps} from '../../views/lifecycle.js'

/** `apikey apps list`. */
export default class AppsList extends ApikeyCommand<ListAppsResult> {
  static override summary = "List the apps of your teams (every app for admins)."
  static override examples = ['<%= config.bin %> apps list', '<%= config.bin %> apps list --json']
  static override flags = {...networkFlags}

  async run(): Promise<ListAppsResult> {
    const {flags} = await this.parse(AppsList)
    const result = await listApps(this.deps, {...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      if (result.apps.length === 0) this.info('no apps yet: register one with apikey init')
      this.deps.stdout.write(renderApps(result.apps, this.deps.stdout.isTTY, this.deps.stdout.columns))
    }
    return result
  }
}
