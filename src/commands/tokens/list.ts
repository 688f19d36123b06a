import {Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {listTokens, type ListTokensResult} from '../../services/tokens.js'
import {renderTokens} from '../../views/lifecycle.js'

/** `apikey tokens list`. */
export default class TokensList extends ApikeyCommand<ListTokensResult> {
  static override summary = 'List provisioning tokens (never the secrets).'
  static override examples = ['<%= config.bin %> tokens list --app weather-app', '<%= config.bin %> tokens list --json']
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app", else every app you may see)'}),
  }

  async run(): Promise<ListTokensResult> {
    const {flags} = await this.parse(TokensList)
    const result = await listTokens(this.deps, {...(flags.app === undefined ? {} : {app: flags.app}), ...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      if (result.tokens.length === 0) this.info('no provisioning tokens: create one with apikey tokens create --app APP --scope ci')
      this.deps.stdout.write(renderTokens(result.tokens, this.deps.stdout.isTTY, this.deps.stdout.columns))
    }
    return result
  }
}
