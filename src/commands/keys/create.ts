import {Flags} from '@oclif/core'
import {KEY_ENVIRONMENTS} from '../../core/key-format.js'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {KEY_STORES} from '../../lib/project-file.js'
import {createKey, type CreateKeyResult} from '../../services/keys/create.js'

/** `apikey keys create`: issue a key, shown once or stored safely. */
export default class KeysCreate extends ApikeyCommand<CreateKeyResult> {
  static override summary = 'Issue a key for an app: printed once, or stored in a gitignored .env or the keychain.'
  static override description = `Without --store the key is printed once on stdout (everything else goes to stderr): store it right away, it cannot be shown again.
With --store dotenv|keychain it is written through the same safe writer as apikey init (git is asked whether the .env is tracked or ignored before the key is issued).`
  static override examples = [
    '<%= config.bin %> keys create --app weather-app --env prod --expires-in 365d --name "weather api (prod)"',
    '<%= config.bin %> keys create --env test --store dotenv --dotenv-file .env.test --yes',
    '<%= config.bin %> keys create --env stage --store keychain',
  ]
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (default: apikey.json "app")'}),
    env: Flags.string({description: 'environment of the key (default: apikey.json "env")', options: [...KEY_ENVIRONMENTS]}),
    'expires-in': Flags.string({description: 'lifetime, e.g. 30d, 12h, 2w (default: the service default for the env)'}),
    name: Flags.string({description: 'a name for the key, e.g. what uses it'}),
    store: Flags.option({options: KEY_STORES, description: 'store the key instead of printing it'})(),
    'dotenv-file': Flags.string({description: 'env file for --store dotenv (default: apikey.json "envFile" or .env)'}),
    var: Flags.string({description: 'variable name for --store dotenv (default: apikey.json "variable" or the service default, API_KEY)'}),
    yes: Flags.boolean({char: 'y', description: 'consent to add the env file to .gitignore without asking'}),
    replace: Flags.boolean({description: 'with --store: replace a different key already stored there (otherwise refused); an active key of yours for the same app and env is ended after --grace'}),
    grace: Flags.string({description: 'with --replace: how long the replaced key of yours keeps working, e.g. 10m, 0 for at once (default 1h)'}),
    'no-gitignore': Flags.boolean({description: 'never edit .gitignore; refuse if the env file is not ignored'}),
  }

  async run(): Promise<CreateKeyResult> {
    const {flags} = await this.parse(KeysCreate)
    const result = await createKey(this.deps, {
      ...(flags.app === undefined ? {} : {app: flags.app}),
      ...(flags.env === undefined ? {} : {env: flags.env}),
      ...(flags['expires-in'] === undefined ? {} : {expiresIn: flags['expires-in']}),
      ...(flags.name === undefined ? {} : {name: flags.name}),
      ...(flags.store === undefined ? {} : {store: flags.store}),
      ...(flags['dotenv-file'] === undefined ? {} : {envFile: flags['dotenv-file']}),
      ...(flags.var === undefined ? {} : {variable: flags.var}),
      yes: flags.yes,
      replace: flags.replace,
      ...(flags.grace === undefined ? {} : {grace: flags.grace}),
      noGitignore: flags['no-gitignore'],
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    for (const w of result.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      const ok = this.paint('green', '✓')
      this.info(`${ok} Issued ${result.env} key ${result.start} (${result.id}) for ${result.app}, expires ${this.deps.time(result.expiresAt)}`)
      const s = result.stored
      if (s === null) {
        this.warnLine('this is the only time the key is shown: store it now (a secret manager, a gitignored .env, the keychain)')
        this.deps.stdout.write(`${result.key}\n`)
      } else if (s.store === 'dotenv') {
        if (s.git.addedRule) this.info(`${ok} Added "${s.git.addedRule.line}" to ${s.git.addedRule.file}`)
        this.info(`${ok} Stored it as ${s.variable} in ${s.path} (${s.git.state === 'not-a-repo' ? 'not a git repository' : 'ignored by git'})`)
      } else this.info(`${ok} Stored it in the OS keychain (service ${s.service}, account ${s.account})`)
    }
    return result
  }
}
