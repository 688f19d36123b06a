import {Flags} from '@oclif/core'
import {KEY_ENVIRONMENTS} from '../core/key-format.js'
import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {KEY_STORES} from '../lib/project-file.js'
import {init, INIT_GRACE, replacedKeyMessage, type InitResult} from '../services/init.js'

export default class Init extends ApikeyCommand<InitResult> {
  static override summary = 'Get your own API key for this project, stored where it cannot be committed.'
  static override description = `Signs you in (if needed), registers the app or finds it, issues a personal key and stores it in a gitignored .env (checked with git itself) or the OS keychain, then writes apikey.json (no secret) for teammates to commit.
In a project that already has apikey.json, it finds the app and issues your own key with no questions beyond sign-in. When a new key replaces a stored key of yours (--new-key, or a key that expires soon), the old key is ended after a short grace period (--grace); a key it cannot end is named with the command that ends it. A stored key of another environment is replaced only with consent (a question on a terminal, --replace otherwise). Without a terminal it never asks: missing values are usage errors naming the flag.`
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --server http://127.0.0.1:4000 --app weather-app --team weather --contact weather@example.com --yes',
    '<%= config.bin %> init --store keychain',
    '<%= config.bin %> init --json --yes',
    '<%= config.bin %> init --new-key --grace 10m',
    '<%= config.bin %> init --env prod --replace',
  ]
  static override flags = {
    ...networkFlags,
    app: Flags.string({description: 'app slug (required without a terminal; on a terminal the question defaults to a guess from package.json, the git remote or the directory)'}),
    name: Flags.string({description: 'display name of a new app'}),
    team: Flags.string({description: 'owning team of a new app (default: your only team)'}),
    contact: Flags.string({description: 'point-of-contact email of a new app'}),
    description: Flags.string({description: 'description of a new app'}),
    env: Flags.string({description: 'environment of the key', options: [...KEY_ENVIRONMENTS]}),
    store: Flags.option({options: KEY_STORES, description: 'where to store the key'})(),
    'dotenv-file': Flags.string({description: 'env file, relative to the project (default: .env)'}),
    var: Flags.string({description: 'variable name for the key (default: from the service, API_KEY)'}),
    yes: Flags.boolean({char: 'y', description: 'consent to add the env file to .gitignore without asking'}),
    'no-gitignore': Flags.boolean({description: 'never edit .gitignore; refuse if the env file is not ignored'}),
    'new-key': Flags.boolean({description: 'issue a new key even if a valid key of yours is already stored; the replaced key is ended after --grace'}),
    grace: Flags.string({description: `how long a replaced key of yours keeps working, e.g. 10m, 1h, 0 for at once (default ${INIT_GRACE})`}),
    replace: Flags.boolean({description: 'replace a stored key of another environment or app (asked on a terminal)'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const result = await init(this.deps, {
      ...(flags.server === undefined ? {} : {server: flags.server}),
      ...(flags.app === undefined ? {} : {app: flags.app}),
      ...(flags.name === undefined ? {} : {name: flags.name}),
      ...(flags.team === undefined ? {} : {team: flags.team}),
      ...(flags.contact === undefined ? {} : {contact: flags.contact}),
      ...(flags.description === undefined ? {} : {description: flags.description}),
      ...(flags.env === undefined ? {} : {env: flags.env}),
      ...(flags.store === undefined ? {} : {store: flags.store}),
      ...(flags['dotenv-file'] === undefined ? {} : {envFile: flags['dotenv-file']}),
      ...(flags.var === undefined ? {} : {variable: flags.var}),
      yes: flags.yes,
      noGitignore: flags['no-gitignore'],
      newKey: flags['new-key'],
      ...(flags.grace === undefined ? {} : {grace: flags.grace}),
      replace: flags.replace,
      timeoutMs: flags.timeout * 1000,
    })
    for (const w of result.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      const s = result.stored
      const ok = this.paint('green', '✓')
      this.log(`${ok} ${result.app.created ? 'Registered' : 'Found'} app ${result.app.slug} (team ${result.app.team}, contact ${result.app.contactEmail})`)
      this.log(`${ok} ${result.reused ? 'Kept your key' : 'Issued key'} ${result.key.start} (${result.key.id}, ${result.key.env}, expires ${this.deps.time(result.key.expiresAt, 'stdout')})`)
      if (s.store === 'dotenv') {
        if (s.git.addedRule) this.log(`${ok} Added "${s.git.addedRule.line}" to ${s.git.addedRule.file}`)
        this.log(`${ok} Stored it as ${s.variable} in ${s.path} (${s.git.state === 'not-a-repo' ? 'not a git repository' : 'ignored by git'})`)
      } else {
        this.log(`${ok} Stored it in the OS keychain (service ${s.service}, account ${s.account})`)
      }
      if (result.replaced?.outcome === 'ended') this.log(`${ok} Ended the replaced key: ${replacedKeyMessage(result.replaced, (ms, preposition) => this.deps.time(ms, 'stdout', preposition), flags.grace !== undefined).replace(/^the replaced /, '')}`)
      if (result.projectFile.written) this.log(`${ok} Wrote ${result.projectFile.path}: commit it so teammates can run apikey init`)
      this.log(`Check it any time with: apikey whoami`)
    }
    return result
  }
}
