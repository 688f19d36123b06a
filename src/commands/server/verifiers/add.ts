import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../../lib/input-guard.js'
import {ApikeyError} from '../../../core/errors.js'
import {KEY_ENVIRONMENTS} from '../../../core/key-format.js'
import {ApikeyCommand} from '../../../lib/command.js'
import type {AddVerifierResult} from '../../../server/services/verifiers.js'
import {refuseSecret} from '../../../services/secret-args.js'

/** `--json` result of `apikey server verifiers add` (the token is shown this once): the service's result. */
export type VerifiersAddResult = AddVerifierResult

/** `apikey server verifiers add NAME [--env ENV …] [--db PATH] [--json]`: creates a verifier token and prints it once (stdout). */
export default class ServerVerifiersAdd extends ApikeyCommand<VerifiersAddResult> {
  static override summary = 'Create a verifier token for a protected API or gateway on the key service database.'
  static override description = `A verifier token (akv_…) lets a protected API call POST /v1/verify and POST /v1/usage, and an nginx gateway call GET /v1/verify/auth-request (header X-Verifier-Token). The token is printed once; the database keeps only its SHA-256. Run it on the machine that holds the database; the service may be running. Revoke with: apikey server verifiers revoke NAME.
With --env the verifier accepts only keys of those environments (${KEY_ENVIRONMENTS.join(', ')}): a production API that should take only prod keys gets --env prod, and a dev key sent to it is answered FORBIDDEN, telling the caller how to get a prod key. Without --env it accepts keys of every environment. The scope is fixed: to change it, add a new verifier and revoke the old one.`
  static override examples = [
    '<%= config.bin %> server verifiers add weather-gateway',
    '<%= config.bin %> server verifiers add orders-prod --env prod',
    '<%= config.bin %> server verifiers add orders-staging --env stage,test --json',
    '<%= config.bin %> server verifiers add weather-api --db /var/lib/apikey/apikey.db --json',
  ]
  static override inputRules: InputRules = {name: {rule: 'text', expected: 'a verifier name (a name for the protected API, e.g. orders-prod)'}}
  static override args = {
    name: Args.string({description: 'unique name of the verifier, e.g. weather-gateway', required: true}),
  }
  static override flags = {
    db: Flags.string({description: 'SQLite database file (default: $XDG_DATA_HOME/apikey/apikey.db)'}),
    env: Flags.string({
      description: `key environment the verifier accepts; repeat it or give a comma list (${KEY_ENVIRONMENTS.join(', ')}). Default: every environment`,
      multiple: true,
    }),
  }

  async run(): Promise<VerifiersAddResult> {
    const {args, flags} = await this.parse(ServerVerifiersAdd)
    // A secret pasted as the name would be printed and kept in the audit log: refused, never echoed.
    refuseSecret(args.name, 'verifier name', 'NAME')
    const {addVerifier, describeVerifierScope} = await import('../../../server/services/verifiers.js')
    // `--env prod --env stage` and `--env prod,stage` alike; blanks around commas are ignored, empty items are not.
    const envs = flags.env?.flatMap((value) => value.split(',')).map((value) => value.trim())
    const result = await addVerifier({env: this.deps.env, ...(flags.db === undefined ? {} : {dbPath: flags.db}), name: args.name, envs}).catch((error: unknown) => {
      if (error instanceof ApikeyError && error.code === 'validation') {
        throw new ApikeyError(error.message.replace(/^name:/, 'NAME:').replace(/^env:/, '--env:'), {code: 'usage', suggestions: error.suggestions, details: error.details})
      }
      throw error
    })
    if (!this.jsonEnabled()) {
      // The token is data (stdout); everything else is progress (stderr).
      this.log(result.token)
      this.info(`created verifier ${result.name} (${result.id}), accepting ${describeVerifierScope(result.allowedEnvs)}; the token above is shown once — store it in the protected API's secret store`)
      this.info(`database: ${result.dbPath}`)
    }
    return result
  }
}
