import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../lib/input-guard.js'
import {ExitCode, exitCodeFor, usageError, type ErrorCode} from '../core/errors.js'
import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {renderWhoami} from '../views/whoami.js'
import {isRejected, whoami, type WhoamiResult} from '../services/whoami.js'

export default class Whoami extends ApikeyCommand<WhoamiResult> {
  static override summary = 'Show which app and team own an API key.'
  static override description = `Checks the key offline first (prefix, app, environment, checksum) without any network call, then asks the key service who owns it.
Without KEY, the key is looked up in order: --key, the environment variable (API_KEY or apikey.json's "variable"), the project's .env, the OS keychain. The answer names its source and warns when a higher source shadows a different stored key.
Shows expiry, rotation (when the grace period ends) and the build metadata of CI keys; warns when the key expires within 14 days. Exits 1 when the key is revoked or expired (or the lookup fails); exits 2 (usage) when no key service is known (--server, APIKEY_SERVER, apikey.json or a login).`
  static override examples = [
    '<%= config.bin %> whoami',
    '<%= config.bin %> whoami ak_weather-app_dev_… --offline',
    '<%= config.bin %> whoami --json',
  ]
  static override inputRules: InputRules = {key: 'secret'}
  static override args = {
    key: Args.string({description: 'the API key to check (default: the project key)'}),
  }
  static override flags = {
    ...networkFlags,
    key: Flags.string({description: 'the API key to check (same as the KEY argument)'}),
    offline: Flags.boolean({description: 'only the offline checks: no network call'}),
    'dotenv-file': Flags.string({description: 'env file to read the key from (default: .env or apikey.json "envFile")'}),
    var: Flags.string({description: 'variable name holding the key (default: API_KEY or apikey.json "variable")'}),
  }

  async run(): Promise<WhoamiResult> {
    const {args, flags} = await this.parse(Whoami)
    if (args.key !== undefined && flags.key !== undefined && args.key !== flags.key) {
      throw usageError('give the key once: as the KEY argument or with --key, not both')
    }
    const key = args.key ?? flags.key
    const result = await whoami(this.deps, {
      ...(key === undefined ? {} : {key}),
      offline: flags.offline,
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
      ...(flags['dotenv-file'] === undefined ? {} : {envFile: flags['dotenv-file']}),
      ...(flags.var === undefined ? {} : {variable: flags.var}),
    })
    // A failed lookup, or a key the service rejects (revoked, expired): exit 1 so scripts notice.
    // No server known at all is a usage error (code usage, exit 2), as for every other command.
    const failedExit = result.lookup.state === 'failed' ? exitCodeFor(result.lookup.error.code as ErrorCode) === ExitCode.Usage ? ExitCode.Usage : ExitCode.Failure : undefined
    if (failedExit !== undefined) this.deps.setExitCode(failedExit)
    else if (isRejected(result)) this.deps.setExitCode(ExitCode.Failure)
    const text = renderWhoami(result, {stdoutTTY: this.deps.stdout.isTTY, color: this.stderrColor(), time: (ms, preposition) => this.deps.time(ms, 'stdout', preposition)})
    this.deps.stderr.write(text.stderr)
    if (!this.jsonEnabled()) this.deps.stdout.write(text.stdout)
    // --json: a failed lookup also carries the standard top-level "error" object next to the offline result.
    if (result.lookup.state === 'failed') {
      const e = result.lookup.error
      return {...result, error: {code: e.code, message: e.message, exitCode: failedExit, suggestions: e.suggestions, details: {}}} as WhoamiResult
    }
    return result
  }
}
