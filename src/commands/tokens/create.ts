import {Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {createToken, type CreateTokenResult} from '../../services/tokens.js'

/** `apikey tokens create`: a provisioning token for CI. */
export default class TokensCreate extends ApikeyCommand<CreateTokenResult> {
  static override summary = 'Create a provisioning token that lets CI issue per-build keys for one app.'
  static override description = `The token (akp_…) is printed once on stdout: store it as a masked CI secret named APIKEY_TOKEN. It can only issue ci keys for this app (apikey ci key); revoke it with apikey tokens revoke.`
  static override examples = ['<%= config.bin %> tokens create --app weather-app --scope ci --name "github actions" --expires-in 90d']
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app")'}),
    scope: Flags.option({options: ['ci'] as const, description: 'what the token may do', default: 'ci'})(),
    'expires-in': Flags.string({description: 'lifetime, e.g. 90d (default: the service default)'}),
    name: Flags.string({description: 'a name, e.g. the CI system or repository'}),
  }

  async run(): Promise<CreateTokenResult> {
    const {flags} = await this.parse(TokensCreate)
    const result = await createToken(this.deps, {
      ...(flags.app === undefined ? {} : {app: flags.app}),
      scope: flags.scope,
      ...(flags['expires-in'] === undefined ? {} : {expiresIn: flags['expires-in']}),
      ...(flags.name === undefined ? {} : {name: flags.name}),
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      this.info(`${this.paint('green', '✓')} Created provisioning token ${result.id} (${result.start}) for ${result.app}, scope ${result.scope}, expires ${this.deps.time(result.expiresAt)}`)
      this.warnLine('this is the only time the token is shown: store it as the masked CI secret APIKEY_TOKEN now')
      this.deps.stdout.write(`${result.token}\n`)
    }
    return result
  }
}
