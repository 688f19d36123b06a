import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../lib/input-guard.js'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {revokeToken, type RevokeTokenResult} from '../../services/tokens.js'

/** `apikey tokens revoke TOKEN_ID`. */
export default class TokensRevoke extends ApikeyCommand<RevokeTokenResult> {
  static override summary = 'Revoke a provisioning token: CI jobs using it can no longer get keys.'
  static override description = 'Keys already issued with it keep working until they expire. Asks for confirmation on a terminal; otherwise --yes is required. Revoking twice exits 0.'
  static override examples = ['<%= config.bin %> tokens revoke tok_8mXc9LpQ4rS7w3kTq8vN --yes']
  static override inputRules: InputRules = {tokenId: 'id'}
  static override args = {tokenId: Args.string({description: 'id of the token (see apikey tokens list)', required: true})}
  static override flags = {...networkFlags, yes: Flags.boolean({char: 'y', description: 'revoke without asking'})}

  async run(): Promise<RevokeTokenResult> {
    const {args, flags} = await this.parse(TokensRevoke)
    const r = await revokeToken(this.deps, {id: args.tokenId, yes: flags.yes, ...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      const t = r.token
      if (r.alreadyRevoked) this.log(`${t.id} (${t.start}) was already revoked (${this.deps.time(t.revokedAt, 'stdout', 'at')}); nothing changed`)
      else this.log(`${this.paint('green', '✓')} Revoked provisioning token ${t.id} (${t.start}) of ${t.app}`)
    }
    return r
  }
}
