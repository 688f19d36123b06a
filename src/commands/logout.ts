import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {logout, type LogoutResult} from '../services/session.js'

export default class Logout extends ApikeyCommand<LogoutResult> {
  static override summary = 'Sign out: revoke the session on the service and forget it locally.'
  static override examples = ['<%= config.bin %> logout', '<%= config.bin %> logout --server http://127.0.0.1:4000 --json']
  static override flags = {...networkFlags}

  async run(): Promise<LogoutResult> {
    const {flags} = await this.parse(Logout)
    const result = await logout(this.deps, {...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    for (const w of result.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      this.log(result.cleared.length > 0 || result.revokedOnServer ? `Signed out of ${result.server}` : `No session for ${result.server} was stored`)
    }
    return result
  }
}
