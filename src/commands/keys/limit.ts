import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../lib/input-guard.js'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {MAX_RPM} from '../../core/wire.js'
import {rateText} from '../../lib/render.js'
import {setKeyLimit, type SetKeyLimitResult} from '../../services/keys/limit.js'

/** `apikey keys limit KEY_ID --rpm N | --clear`: a key's own verification rate limit. */
export default class KeysLimit extends ApikeyCommand<SetKeyLimitResult> {
  static override summary = "Set or remove a key's own rate limit, in requests per minute."
  static override description = `A key's own limit wins over its app's app-wide limit (apikey apps limit), which wins over the environment's default. Exactly one of --rpm N (1 to ${MAX_RPM}) or --clear (remove the key's own limit) is required. The answer says which limit now applies to the key and where it comes from.
Only members of the app's owning team may change its limits. A change applies to the next verification; an in-process verifier notices it when its cached verdict expires (at most 5 s).`
  static override examples = [
    '<%= config.bin %> keys limit key_3kTq8vN2mXc9LpQ4rS7w --rpm 600',
    '<%= config.bin %> keys limit key_3kTq8vN2mXc9LpQ4rS7w --clear --json',
  ]
  static override inputRules: InputRules = {keyId: 'id'}
  static override args = {
    keyId: Args.string({description: 'id of the key (see apikey keys list)', required: true}),
  }
  static override flags = {
    ...networkFlags,
    rpm: Flags.string({description: `the key's own limit: requests per minute, 1 to ${MAX_RPM}`, helpValue: 'N'}),
    clear: Flags.boolean({description: "remove the key's own limit (the app-wide limit or the environment's default applies again)"}),
  }

  async run(): Promise<SetKeyLimitResult> {
    const {args, flags} = await this.parse(KeysLimit)
    const r = await setKeyLimit(this.deps, {
      id: args.keyId,
      ...(flags.rpm === undefined ? {} : {rpm: flags.rpm}),
      clear: flags.clear,
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      const source = {key: 'its own limit', app: `the app-wide limit of ${r.app}`, default: `the default for ${r.env ?? 'its'} keys`}[r.effective.source]
      const rate = rateText(r.effective.limit, r.effective.windowMs)
      const what = `${r.keyId} (${r.env === null ? '' : `${r.env} `}key of ${r.app})`
      this.log(`${this.paint('green', '✓')} ${what}: ${r.rpm === null ? `own limit removed; now ${rate}` : rate} (${source})`)
    }
    return r
  }
}
