import {Flags} from '@oclif/core'
import type {InputRules} from '../lib/input-guard.js'
import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {login, type LoginResult} from '../services/session.js'

export default class Login extends ApikeyCommand<LoginResult> {
  static override summary = 'Sign in to the key service.'
  static override description =
    'Signs in with your username and password and stores the session token in the OS keychain, or — only after a visible warning — in a 0600 file in the config directory. In CI, set APIKEY_TOKEN instead. When a session for the server is already in use (APIKEY_TOKEN, keychain or file), says who is signed in and asks nothing; --username NAME (another user) or a password on --password-stdin signs in again, replacing it.'
  static override examples = [
    '<%= config.bin %> login --server https://keys.example.com',
    "printf '%s' \"$PASSWORD\" | <%= config.bin %> login --server http://127.0.0.1:4000 --username ann --password-stdin",
  ]
  static override inputRules: InputRules = {username: 'username'}
  static override flags = {
    ...networkFlags,
    username: Flags.string({char: 'u', description: 'username'}),
    'password-stdin': Flags.boolean({description: 'read the password from standard input (never pass it as an argument)'}),
    'token-file': Flags.boolean({description: 'store the session token in the 0600 file even if a keychain is available'}),
  }

  async run(): Promise<LoginResult> {
    const {flags} = await this.parse(Login)
    const result = await login(this.deps, {
      ...(flags.server === undefined ? {} : {server: flags.server}),
      ...(flags.username === undefined ? {} : {username: flags.username}),
      passwordStdin: flags['password-stdin'],
      preferFile: flags['token-file'],
      timeoutMs: flags.timeout * 1000,
    })
    for (const w of result.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      const where = result.tokenStorage.location === 'keychain' ? 'the OS keychain' : result.tokenStorage.location === 'env' ? 'APIKEY_TOKEN (nothing stored)' : `${result.tokenStorage.path} (mode 0600)`
      const teams = result.teams.map((t) => t.slug).join(', ') || 'none'
      if (result.alreadySignedIn === true) {
        const from = result.tokenStorage.location === 'env' ? 'APIKEY_TOKEN' : where
        this.log(`${this.paint('green', '✓')} Already signed in to ${result.server.url} as ${result.user.username} (teams: ${teams}); nothing was asked or stored`)
        this.info(`  session from ${from}; expires ${this.deps.time(result.expiresAt)}`)
        this.info(`  to sign in as someone else: ${result.switchWith ?? 'apikey login --username NAME'} (replaces this session); to sign out: apikey logout --server ${result.server.url}`)
      } else {
        this.log(`${this.paint('green', '✓')} Signed in to ${result.server.url} as ${result.user.username} (teams: ${teams})`)
        this.info(`  session stored in ${where}; expires ${this.deps.time(result.expiresAt)}`)
      }
    }
    return result
  }
}
