import {Args, Flags} from '@oclif/core'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {MAX_RPM} from '../../core/wire.js'
import {rateText} from '../../lib/render.js'
import {setAppLimit, type SetAppLimitResult} from '../../services/apps.js'

/** `apikey apps limit APP --rpm N | --clear`: the app-wide verification rate limit. */
export default class AppsLimit extends ApikeyCommand<SetAppLimitResult> {
  static override summary = 'Set or remove the app-wide rate limit of an app\'s keys, in requests per minute.'
  static override description = `The app-wide limit applies to each key of the app that has no limit of its own (apikey keys limit), counted per key: every key gets its own N requests per minute. Without it, keys get their environment's default. Exactly one of --rpm N (1 to ${MAX_RPM}) or --clear (remove the app-wide limit) is required.
Only members of the app's owning team may change its limits.`
  static override examples = ['<%= config.bin %> apps limit weather-app --rpm 1200', '<%= config.bin %> apps limit weather-app --clear --json']
  static override args = {app: Args.string({description: 'app slug', required: true})}
  static override flags = {
    ...networkFlags,
    rpm: Flags.string({description: `the app-wide limit: requests per minute per key, 1 to ${MAX_RPM}`, helpValue: 'N'}),
    clear: Flags.boolean({description: "remove the app-wide limit (keys without their own limit get their environment's default again)"}),
  }

  async run(): Promise<SetAppLimitResult> {
    const {args, flags} = await this.parse(AppsLimit)
    const r = await setAppLimit(this.deps, {
      app: args.app,
      ...(flags.rpm === undefined ? {} : {rpm: flags.rpm}),
      clear: flags.clear,
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      const ok = this.paint('green', '✓')
      this.log(
        r.rpm === null
          ? `${ok} ${r.app}: app-wide limit removed; each key without its own limit gets its environment's default`
          : `${ok} ${r.app}: ${rateText(r.rpm, 60_000)} for each key without its own limit (app-wide limit, counted per key)`,
      )
    }
    return r
  }
}
