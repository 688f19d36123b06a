import {Args, Flags} from '@oclif/core'
import type {InputRules} from '../../../lib/input-guard.js'
import {ApikeyCommand} from '../../../lib/command.js'
import {readSecretFromStdin} from '../../../lib/stdin.js'
import {MIN_PASSWORD_LENGTH, USERNAME_PATTERN} from '../../../core/validation.js'
import {ApikeyError, usageError} from '../../../core/errors.js'

/** `--json` result of `apikey server users add`. */
export interface UsersAddResult {
  user: {id: string; username: string; isAdmin: boolean}
  team: {slug: string; name: string; contactEmail: string | null}
  createdTeam: boolean
  createdUser: boolean
  role: 'member' | 'owner'
  dbPath: string
}

export default class ServerUsersAdd extends ApikeyCommand<UsersAddResult> {
  static override summary = 'Create a local account and its team on the key service database.'
  static override description =
    'Bootstraps local accounts. Creates the team when it does not exist (the first user of a new team becomes its owner). Adding an existing user to another team keeps their password. Run it on the machine that holds the database; the service may be running.'
  static override examples = [
    "printf '%s' \"$PASSWORD\" | <%= config.bin %> server users add ann --team weather --password-stdin",
    '<%= config.bin %> server users add root --team platform --admin   # asks for the password on a terminal',
  ]
  static override inputRules: InputRules = {name: 'username'}
  static override args = {
    name: Args.string({description: 'username', required: true}),
  }
  static override flags = {
    team: Flags.string({description: 'team slug (created when missing)', required: true}),
    'team-name': Flags.string({description: 'display name for a new team'}),
    'team-contact': Flags.string({description: 'contact email for a new team'}),
    admin: Flags.boolean({description: 'make the user a service admin'}),
    owner: Flags.boolean({description: 'make the user an owner of the team'}),
    'password-stdin': Flags.boolean({description: 'read the password from standard input'}),
    db: Flags.string({description: 'SQLite database file (default: $XDG_DATA_HOME/apikey/apikey.db)'}),
  }

  async run(): Promise<UsersAddResult> {
    const {args, flags} = await this.parse(ServerUsersAdd)
    const {addUser, userExists} = await import('../../../server/services/users.js')
    const dbOptions = {env: this.deps.env, ...(flags.db === undefined ? {} : {dbPath: flags.db})}
    // An existing user keeps their password: none is asked for (one given on stdin is not used).
    const exists = USERNAME_PATTERN.test(args.name) && (await userExists({...dbOptions, username: args.name}))
    let password = ''
    if (exists) {
      if (flags['password-stdin']) this.warnLine(`${args.name} exists and keeps their password: the password on stdin was not used`)
    } else if (flags['password-stdin']) {
      password = await readSecretFromStdin(this.deps.stdin, '--password-stdin')
    } else {
      // An answer that is too short, or a second one that differs, is asked again.
      const first = await this.deps.prompter.password({
        message: `Password for ${args.name}`,
        flag: '--password-stdin',
        validate: (v) => v.length >= MIN_PASSWORD_LENGTH || `too short: at least ${MIN_PASSWORD_LENGTH} characters`,
      })
      await this.deps.prompter.password({
        message: `Password for ${args.name} again`,
        flag: '--password-stdin',
        validate: (v) => v === first || 'not the same password: type it again (Ctrl+C to stop; nothing was changed)',
      })
      password = first
    }
    if (!exists && password.length < MIN_PASSWORD_LENGTH) throw usageError(`the password is too short: at least ${MIN_PASSWORD_LENGTH} characters`)
    const result = await addUser({
      env: this.deps.env,
      ...(flags.db === undefined ? {} : {dbPath: flags.db}),
      username: args.name,
      password,
      team: flags.team,
      ...(flags['team-name'] === undefined ? {} : {teamName: flags['team-name']}),
      ...(flags['team-contact'] === undefined ? {} : {teamContactEmail: flags['team-contact']}),
      admin: flags.admin,
      ...(flags.owner ? {role: 'owner' as const} : {}),
    }).catch((error: unknown) => {
      // Name the flags, not the service's field names.
      if (error instanceof ApikeyError && error.code === 'validation') {
        const flagOf: Record<string, string> = {username: 'NAME', password: 'password', team: '--team', teamName: '--team-name', teamContactEmail: '--team-contact'}
        const message = error.message.replace(/^(\w+):/, (m, field: string) => `${flagOf[field] ?? field}:`)
        throw new ApikeyError(message, {code: 'usage', suggestions: error.suggestions, details: error.details})
      }
      throw error
    })
    if (!this.jsonEnabled()) {
      this.log(`${result.createdUser ? 'created' : 'updated'} user ${result.user.username}${result.user.isAdmin ? ' (admin)' : ''} in team ${result.team.slug} as ${result.role}${result.createdTeam ? ' (new team)' : ''}`)
      this.info(`database: ${result.dbPath}`)
    }
    return result
  }
}
