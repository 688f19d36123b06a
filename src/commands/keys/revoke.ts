import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../lib/input-guard.js'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {revokeKey, type RevokeKeyResult} from '../../services/keys/revoke.js'

/** `apikey keys revoke`: stop a key from working now. */
export default class KeysRevoke extends ApikeyCommand<RevokeKeyResult> {
  static override summary = 'Revoke a key: it stops working at once.'
  static override description =
    "Asks for confirmation on a terminal; without one (or with CI set) --yes is required. Revoking a key that is already revoked is not an error: it says when and by whom it was revoked, and exits 0.\nA personal dev key is revoked by the person who holds it or an owner of the team; other keys by any member of the team. A service admin may revoke any key for an incident, with --reason (kept in the audit log)."
  static override examples = [
    '<%= config.bin %> keys revoke key_3kTq8vN2mXc9LpQ4rS7w',
    '<%= config.bin %> keys revoke key_3kTq8vN2mXc9LpQ4rS7w --yes --json',
    '<%= config.bin %> keys revoke key_3kTq8vN2mXc9LpQ4rS7w --yes --reason "leaked in a public gist"',
  ]
  static override inputRules: InputRules = {keyId: 'id'}
  static override args = {
    keyId: Args.string({description: 'id of the key to revoke (see apikey keys list)', required: true}),
  }
  static override flags = {
    ...networkFlags,
    yes: Flags.boolean({char: 'y', description: 'revoke without asking'}),
    reason: Flags.string({description: "why, kept in the audit log (1–500 characters); required of a service admin revoking another team's key"}),
  }

  async run(): Promise<RevokeKeyResult> {
    const {args, flags} = await this.parse(KeysRevoke)
    const result = await revokeKey(this.deps, {id: args.keyId, yes: flags.yes, ...(flags.reason === undefined ? {} : {reason: flags.reason}), ...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    if (!this.jsonEnabled()) {
      const k = result.key
      const by = `${this.deps.time(k.revokedAt, 'stdout', 'at')}${k.revokedBy ? ` by ${k.revokedBy}` : ''}`
      if (result.alreadyRevoked) this.log(`${k.id} (${k.start}) was already revoked (${by}); nothing changed`)
      else this.log(`${this.paint('green', '✓')} Revoked ${k.id} (${k.start}) of ${result.app.slug} (${by})`)
    }
    return result
  }
}
