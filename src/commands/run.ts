import {Flags} from '@oclif/core'
import {ApikeyCommand} from '../lib/command.js'
import {prepareRun, runChild} from '../services/run.js'

/** Result of `apikey run` (no `--json`: stdout belongs to the command). */
export interface RunResult {
  exitCode: number
}

/** `apikey run -- CMD [ARGS…]`: run a command with the key injected, nothing on disk. */
export default class Run extends ApikeyCommand<RunResult> {
  static override summary = 'Run a command with the API key in its environment; nothing is written to disk.'
  static override description = `The key is looked up in order: --key, the environment variable (API_KEY or apikey.json "variable"), the project's .env, the OS keychain — and put in the command's environment variable.
stdin, stdout and stderr are the command's; SIGTERM and SIGHUP are passed on, and SIGINT too unless stdin is a terminal (Ctrl+C on a terminal already reaches the command, which runs in the same process group: it gets it exactly once). The exit status is the command's (128+N when it is killed by signal N; 127 when it is not found; 126 when it cannot be run). No key anywhere: exit 4.`
  static override examples = ['<%= config.bin %> run -- npm start', '<%= config.bin %> run --var WEATHER_API_KEY -- python app.py --port 8080']
  static override strict = false
  static override enableJsonFlag = false
  static override flags = {
    key: Flags.string({description: 'the API key to inject (default: looked up as described)'}),
    'dotenv-file': Flags.string({description: 'env file to read the key from (default: apikey.json "envFile" or .env)'}),
    var: Flags.string({description: 'variable to set (default: apikey.json "variable" or API_KEY)'}),
  }

  async run(): Promise<RunResult> {
    // Everything after `--` (or from the first word that is not one of our flags) is the command, untouched.
    const split = this.argv.indexOf('--')
    const own = split === -1 ? ownArgs(this.argv) : this.argv.slice(0, split)
    const command = split === -1 ? this.argv.slice(own.length) : this.argv.slice(split + 1)
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
    return {exitCode: outcome.exitCode}
  }
}

/** Our flags before the command when there is no `--`: `--key X`, `--key=X`, `--var X`, `--dotenv-file X`, `--debug`. */
function ownArgs(argv: string[]): string[] {
  const withValue = new Set(['--key', '--var', '--dotenv-file'])
  const own: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (withValue.has(a)) {
      own.push(a, ...(argv[i + 1] === undefined ? [] : [argv[i + 1]!]))
      i++
    } else if (a === '--debug' || /^--(key|var|dotenv-file)=/.test(a)) own.push(a)
    else break
  }
  return own
}
