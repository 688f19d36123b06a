import {Flags} from '@oclif/core'
import {ApikeyCommand} from '../../../lib/command.js'
import type {VerifierListing} from '../../../server/services/verifiers.js'

/** `--json` result of `apikey server verifiers list`. */
export interface VerifiersListResult {
  verifiers: VerifierListing[]
  dbPath: string
}

/** `apikey server verifiers list [--db PATH] [--json]`: the verifier tokens on the key service database. */
export default class ServerVerifiersList extends ApikeyCommand<VerifiersListResult> {
  static override summary = 'List the verifier tokens on the key service database.'
  static override description =
    'One line per verifier: name, id, token start (never the token), the key environments it accepts, when it was created and, if so, revoked. Works whether or not the service runs.'
  static override examples = ['<%= config.bin %> server verifiers list', '<%= config.bin %> server verifiers list --db /var/lib/apikey/apikey.db --json']
  static override flags = {
    db: Flags.string({description: 'SQLite database file (default: $XDG_DATA_HOME/apikey/apikey.db)'}),
  }

  async run(): Promise<VerifiersListResult> {
    const {flags} = await this.parse(ServerVerifiersList)
    const {listVerifiers, describeVerifierScope} = await import('../../../server/services/verifiers.js')
    const result = await listVerifiers({env: this.deps.env, ...(flags.db === undefined ? {} : {dbPath: flags.db})})
    if (!this.jsonEnabled()) {
      if (result.verifiers.length === 0) this.log(`no verifiers in ${result.dbPath}; add one: apikey server verifiers add NAME [--env prod]`)
      for (const v of result.verifiers) {
        const state = v.revokedAt === null ? 'active' : `revoked ${this.deps.time(v.revokedAt, 'stdout')}`
        this.log(`${v.name}\t${v.id}\t${v.start}\t${describeVerifierScope(v.allowedEnvs)}\tcreated ${this.deps.time(v.createdAt, 'stdout')}\t${state}`)
      }
    }
    return result
  }
}
