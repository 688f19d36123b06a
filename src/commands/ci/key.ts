import {Flags} from '@oclif/core'
import {ApikeyCommand} from '../../lib/command.js'
import {CI_OUTPUTS, ciKey, maskCommands, type CiKeyResult} from '../../services/ci/key.js'

/** `apikey ci key`: a per-build key for a CI job, without a person. */
export default class CiKey extends ApikeyCommand<CiKeyResult> {
  static override summary = 'Get a per-build key in CI, tagged with commit, branch, build and version.'
  static override description = `Authenticates with an app-scoped provisioning token in APIKEY_TOKEN (apikey tokens create --app APP --scope ci) against --server or APIKEY_SERVER. Needs no prompt, keychain or config file.
The key (env ci, kind ci) carries the build's metadata, detected from the CI provider's variables (GitHub Actions, GitLab CI, CircleCI, Jenkins, Buildkite, Azure Pipelines, Bitbucket) and git, and goes to exactly one place:
  --output github-env   appended to the file in $GITHUB_ENV as API_KEY=…; stdout carries one ::add-mask:: line per line of the key (on stderr with --json)
  --output dotenv       written to a gitignored .env through the safe writer (git is asked first; --yes lets it add the .gitignore rule)
  --output json         a JSON object with the key on stdout
  --raw                 the bare key on stdout, nothing else
--debug never prints any character of the key or the token (a key shows as ak_<app>_<env>_***, a token as akp_***).`
  static override examples = [
    'APIKEY_SERVER=https://keys.example.com APIKEY_TOKEN=$TOKEN <%= config.bin %> ci key --app weather-app --output github-env',
    '<%= config.bin %> ci key --output dotenv --dotenv-file .env --yes',
    'export API_KEY="$(<%= config.bin %> ci key --raw)"',
  ]
  static override flags = {
    server: Flags.string({description: 'key service URL (default: APIKEY_SERVER, then apikey.json)', helpGroup: 'GLOBAL'}),
    timeout: Flags.integer({description: 'overall deadline for the command, in seconds', default: 15, min: 1, max: 600, helpGroup: 'GLOBAL'}),
    app: Flags.string({description: 'app slug (default: apikey.json "app")'}),
    output: Flags.option({options: CI_OUTPUTS, description: 'where the key goes'})(),
    raw: Flags.boolean({description: 'print only the bare key on stdout'}),
    'dotenv-file': Flags.string({description: 'env file for --output dotenv (default: apikey.json "envFile" or .env)'}),
    var: Flags.string({description: 'variable name (default: apikey.json "variable" or the service default, API_KEY); not PATH, NODE_OPTIONS, LD_PRELOAD, LD_LIBRARY_PATH, HOME, SHELL, nor GITHUB_*, RUNNER_*, CI_*'}),
    version: Flags.string({description: 'version of the build (default: package.json "version")'}),
    name: Flags.string({description: 'name of the key (default: provider, build number and commit)'}),
    'expires-in': Flags.string({description: 'lifetime, e.g. 2h (default: the service default for ci keys, 7d)'}),
    yes: Flags.boolean({char: 'y', description: 'with --output dotenv: consent to add the env file to .gitignore'}),
  }

  async run(): Promise<CiKeyResult> {
    const {flags} = await this.parse(CiKey)
    const {result, secret} = await ciKey(this.deps, {
      ...(flags.app === undefined ? {} : {app: flags.app}),
      ...(flags.server === undefined ? {} : {server: flags.server}),
      ...(flags.output === undefined ? {} : {output: flags.output}),
      raw: flags.raw,
      ...(flags['dotenv-file'] === undefined ? {} : {envFile: flags['dotenv-file']}),
      ...(flags.var === undefined ? {} : {variable: flags.var}),
      ...(flags.version === undefined ? {} : {version: flags.version}),
      ...(flags.name === undefined ? {} : {name: flags.name}),
      ...(flags['expires-in'] === undefined ? {} : {expiresIn: flags['expires-in']}),
      yes: flags.yes,
      timeoutMs: flags.timeout * 1000,
    })
    for (const w of result.warnings) this.warnLine(w)
    const o = result.output
    if (o.type === 'github-env') {
      // The runner masks every later occurrence; one command per line of the key.
      const masks = maskCommands(secret).map((l) => `${l}\n`).join('')
      if (this.jsonEnabled()) this.deps.stderr.write(masks)
      else this.deps.stdout.write(masks)
    }
    // Under GitHub Actions the key is masked whatever the output: a raw or JSON key in a log would otherwise show.
    if ((o.type === 'raw' || o.type === 'json') && this.deps.env.GITHUB_ACTIONS === 'true') {
      this.deps.stderr.write(maskCommands(secret).map((l) => `${l}\n`).join(''))
    }
    if (o.type === 'raw' && !this.jsonEnabled()) this.deps.stdout.write(`${secret}\n`)
    if (o.type === 'json' && !this.jsonEnabled()) this.deps.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    const where =
      o.type === 'github-env' ? `${result.variable} in $GITHUB_ENV (${o.file})` : o.type === 'dotenv' ? (o.stored.store === 'dotenv' ? `${o.stored.variable} in ${o.stored.path}` : 'the keychain') : 'stdout'
    const m = result.metadata
    const tags = [m.ciProvider, m.build && `build ${m.build}`, m.commit && `commit ${m.commit.slice(0, 12)}`, m.branch && `branch ${m.branch}`, m.version && `version ${m.version}`].filter(Boolean).join(', ')
    this.deps.stderr.write(`✓ Issued ci key ${result.start} (${result.id}) for ${result.app}${tags ? ` [${tags}]` : ''}, expires ${this.deps.time(result.expiresAt)}; delivered to ${where}\n`)
    return result
  }
}
