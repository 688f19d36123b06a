import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../../lib/input-guard.js'
import {ApikeyCommand} from '../../../lib/command.js'

/** `--json` result of `apikey server verifiers revoke`. */
export interface VerifiersRevokeResult {
  id: string
  name: string
  revokedAt: number
  alreadyRevoked: boolean
  dbPath: string
}

/** `apikey server verifiers revoke NAME|ID [--db PATH] [--json]`: revokes a verifier token. */
export default class ServerVerifiersRevoke extends ApikeyCommand<VerifiersRevokeResult> {
  static override summary = 'Revoke a verifier token on the key service database.'
  static override description =
    'A running service stops accepting the token within 5 seconds (its verifier-token cache bound). Revoking twice is not an error.'
  static override examples = ['<%= config.bin %> server verifiers revoke weather-gateway', '<%= config.bin %> server verifiers revoke vrf_3kTq… --json']
  static override inputRules: InputRules = {verifier: 'id'}
  static override args = {
    verifier: Args.string({description: 'name or id (vrf_…) of the verifier', required: true}),
  }
  static override flags = {
    db: Flags.string({description: 'SQLite database file (default: $XDG_DATA_HOME/apikey/apikey.db)'}),
  }

  async run(): Promise<VerifiersRevokeResult> {
    const {args, flags} = await this.parse(ServerVerifiersRevoke)
    const {revokeVerifier} = await import('../../../server/services/verifiers.js')
    const result = await revokeVerifier({env: this.deps.env, ...(flags.db === undefined ? {} : {dbPath: flags.db}), verifier: args.verifier})
    if (!this.jsonEnabled()) {
      this.log(`${result.alreadyRevoked ? 'already revoked' : 'revoked'} verifier ${result.name} (${result.id}) ${this.deps.time(result.revokedAt, 'stdout', 'at')}`)
    }
    return result
  }
}
