import {Flags} from '@oclif/core'
import type {InputRules} from '../lib/input-guard.js'
import {ApikeyCommand} from '../lib/command.js'
import {prepareRun, runChild} from '../services/run.js'

/**
 * Result of `apikey run`; with `--json` it is printed on stdout after the command ended
 * (the command's own output comes first, unchanged). Never holds the key.
 */
export interface RunResult {
  /** The exit status apikey run ends with: the command's, 128+N when signal N ended it, 127 not found, 126 not executable. */
  exitCode: number
  /** Signal that ended the command, if any. */
  signal: string | null
  /** The environment variable that held the key. */
  variable: string
  /** Where the key came from: `argument` (--key), `env`, `dotenv` or `keychain`, and the exact place. */
  source: {name: string; location: string}
  /** Shell-style message when the command could not be started. */
  error?: string
}

/** `apikey run -- CMD [ARGS…]`: run a command with the key injected, nothing on disk. */
export default class Run extends ApikeyCommand<RunResult> {
  static override summary = 'Run a command with the API key in its environment; nothing is written to disk.'
  static override description = `The key is looked up in order: --key, the environment variable (API_KEY or apikey.json "variable"), the project's .env, the OS keychain — and put in the command's environment variable.
Everything after -- is the command and its arguments, passed on untouched.
stdin, stdout and stderr are the command's; SIGTERM and SIGHUP are passed on, and SIGINT too unless stdin is a terminal (Ctrl+C on a terminal already reaches the command, which runs in the same process group: it gets it exactly once). The exit status is the command's (128+N when it is killed by signal N; 127 when it is not found; 126 when it cannot be run). No key anywhere: exit 4.
With --json, apikey's own result (exit status, variable, where the key came from; never the key) is one JSON object on stdout after the command's output, and a failure before the command starts is the usual JSON error.`
  static override usage = ['<%= command.id %> [--key KEY] [--var NAME] [--dotenv-file PATH] [--json] -- CMD [ARGS…]']
  static override examples = [
    '<%= config.bin %> run -- npm start',
    '<%= config.bin %> run --var WEATHER_API_KEY -- python app.py --port 8080',
    '<%= config.bin %> run --json -- ./smoke-test.sh   # after its output: {"exitCode": …, "variable": …, "source": …}',
  ]
  static override strict = false
  static override enableJsonFlag = true
  static override inputRules: InputRules = {key: 'secret'}
  static override flags = {
    key: Flags.string({description: 'the API key to inject (default: looked up as described)'}),
    'dotenv-file': Flags.string({description: 'env file to read the key from (default: apikey.json "envFile" or .env)'}),
    var: Flags.string({description: 'variable to set (default: apikey.json "variable" or API_KEY)'}),
  }

  async run(): Promise<RunResult> {
    // Everything after `--` (or from the first word that is not one of our flags) is the command, untouched.
    const {own, command} = splitArgv(this.argv)
    const {flags} = await this.parse(Run, own)
    const prepared = await prepareRun(this.deps, {
      command,
      ...(flags.key === undefined ? {} : {key: flags.key}),
      ...(flags['dotenv-file'] === undefined ? {} : {envFile: flags['dotenv-file']}),
      ...(flags.var === undefined ? {} : {variable: flags.var}),
    })
    for (const w of prepared.warnings) this.warnLine(w)
    this.deps.debug(`run: ${prepared.variable} from ${prepared.source.location}; starting ${prepared.file}`)
    const outcome = await runChild(prepared, {stdinIsTTY: Boolean(this.deps.stdin.isTTY), onSignal: this.deps.onSignal})
    if (outcome.error !== undefined) this.deps.stderr.write(`apikey run: ${outcome.error}\n`)
    this.deps.setExitCode(outcome.exitCode)
    return {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      variable: prepared.variable,
      source: {name: prepared.source.name, location: prepared.source.location},
      ...(outcome.error === undefined ? {} : {error: outcome.error}),
    }
  }

  /** `--json` counts only among apikey's own flags, never in the command's arguments. */
  override jsonEnabled(): boolean {
    return splitArgv(this.argv).own.includes('--json')
  }
}

/** apikey's own arguments and the command: split at `--`, or else at the first word that is not one of our flags. */
function splitArgv(argv: string[]): {own: string[]; command: string[]} {
  const split = argv.indexOf('--')
  const own = split === -1 ? ownArgs(argv) : argv.slice(0, split)
  return {own, command: split === -1 ? argv.slice(own.length) : argv.slice(split + 1)}
}

/** Our flags before the command when there is no `--`: `--key X`, `--key=X`, `--var X`, `--dotenv-file X`, `--debug`, `--json`. */
function ownArgs(argv: string[]): string[] {
  const withValue = new Set(['--key', '--var', '--dotenv-file'])
  const own: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (withValue.has(a)) {
      own.push(a, ...(argv[i + 1] === undefined ? [] : [argv[i + 1]!]))
      i++
    } else if (a === '--debug' || a === '--json' || /^--(key|var|dotenv-file)=/.test(a)) own.push(a)
    else break
  }
  return own
}
