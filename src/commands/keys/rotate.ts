import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../lib/input-guard.js'
import {ApikeyCommand, networkFlags} from '../../lib/command.js'
import {rotateKey, type RotateKeyResult} from '../../services/keys/rotate.js'

/** `apikey keys rotate`: replace a key, keeping the old one valid for a grace period. */
export default class KeysRotate extends ApikeyCommand<RotateKeyResult> {
  static override summary = 'Replace a key; the old one keeps working until the grace period ends.'
  static override description = `Issues a new key for the same app, env and kind. The old key stops working when the grace period ends (--grace, e.g. 24h; 0 = at once; default: the service's).
Inside the project, when the stored key (.env or keychain, per the key lookup order) IS the rotated key, it is replaced in place through the same safe writer as apikey init; otherwise the new key is printed once on stdout.`
  static override examples = ['<%= config.bin %> keys rotate key_3kTq8vN2mXc9LpQ4rS7w --grace 24h', '<%= config.bin %> keys rotate key_3kTq8vN2mXc9LpQ4rS7w --grace 0 --json']
  static override inputRules: InputRules = {keyId: 'id'}
  static override args = {
    keyId: Args.string({description: 'id of the key to rotate (see apikey keys list)', required: true}),
  }
  static override flags = {
    ...networkFlags,
    grace: Flags.string({description: 'how long the old key keeps working, e.g. 24h, 7d, or 0'}),
    yes: Flags.boolean({char: 'y', description: 'consent to add the env file to .gitignore when updating it'}),
  }

  async run(): Promise<RotateKeyResult> {
    const {args, flags} = await this.parse(KeysRotate)
    const result = await rotateKey(this.deps, {
      id: args.keyId,
      ...(flags.grace === undefined ? {} : {grace: flags.grace}),
      yes: flags.yes,
      ...(flags.server === undefined ? {} : {server: flags.server}),
      timeoutMs: flags.timeout * 1000,
    })
    for (const w of result.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      const ok = this.paint('green', '✓')
      const ends = result.oldKey.rotation.graceEndsAt
      this.info(`${ok} Rotated ${result.oldKey.id} (${result.oldKey.start}) → ${result.newKey.id} (${result.newKey.start})`)
      this.info(
        ends <= result.oldKey.rotation.rotatedAt
          ? `  the old key stopped working at once (${this.deps.time(ends)})`
          : `  the old key keeps working, and stops ${this.deps.time(ends, 'stderr', 'at')}`,
      )
      for (const u of result.updated) this.info(`${ok} Updated ${u.store === 'dotenv' ? `${u.variable} in ${u.path}` : `the keychain entry (service ${u.service}, account ${u.account})`} with the new key`)
      if (result.key !== undefined) {
        // No contradiction with a warning above: a copy that was found but not updated is named as such.
        this.warnLine(
          result.notUpdated.length > 0
            ? `the stored copy of the old key (${result.notUpdated.join(', ')}) was not updated: this is the only time the new key is shown, store it now`
            : 'no stored copy of the old key was found here: this is the only time the new key is shown, store it now',
        )
        this.deps.stdout.write(`${result.key}\n`)
      }
    }
    return result
  }
}
