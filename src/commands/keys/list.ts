import {Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {listKeys, type ListKeysResult} from '../../services/keys/list.js'
import {renderKeys} from '../../views/lifecycle.js'

/** `apikey keys list`: an app's keys, without secrets. */
export default class KeysList extends ApikeyCommand<ListKeysResult> {
  static override summary = "List an app's keys (never the secrets)."
  static override description =
    'Shows id, display start, env, kind, name, who created it and when, expiry, last use and status (with the end of a rotation grace period). A table on a terminal; tab-separated lines with full ISO 8601 timestamps when piped; --json for scripts.'
  static override examples = ['<%= config.bin %> keys list', '<%= config.bin %> keys list --app weather-app', '<%= config.bin %> keys list --app weather-app --json']
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app")'}),
  }

  async run(): Promise<ListKeysResult> {
    const {flags} = await this.parse(KeysList)
    const result = await listKeys(this.deps, {...(flags.app === undefined ? {} : {app: flags.app}), ...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      if (result.keys.length === 0) this.info(`${result.app} has no keys yet: apikey keys create --app ${result.app} --env dev`)
      this.deps.stdout.write(renderKeys(result.keys, this.deps.stdout.isTTY, this.deps.stdout.columns))
    }
    return result
  }
}
