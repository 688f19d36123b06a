/**
 * `apikey run -- CMD [ARGS…]`: run a command with the API key in its
 * environment variable, nothing written to disk.
 *
 * The key is resolved in the documented order (`--key` → environment variable
 * → the project's `.env` → the OS keychain); the child inherits stdin, stdout
 * and stderr; SIGTERM and SIGHUP are forwarded, SIGINT too unless stdin is a
 * terminal (then Ctrl+C already reached the child, which shares our process group); the exit status is
 * the child's, `128 + n` when it was killed by signal n, 127 when the command
 * is not found and 126 when it cannot be executed — as a POSIX shell does.
 */
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {resolve as resolvePath} from 'node:path'
import {constants} from 'node:os'
import {ApikeyError, ChildExitCode, ExitCode, usageError} from '../core/errors.js'
import {KEY_SCAN_PATTERN, parseKey} from '../core/key-format.js'
import {DEFAULT_KEY_ENV_VAR} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import type {Env} from '../lib/io.js'
import {VARIABLE_PATTERN} from '../lib/project-file.js'
import {locateKey, type KeySourceName, type KeySourceReport} from './key-sources.js'
import {resolveServer} from './server-url.js'

/** Signals passed on to the child. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Input of {@link prepareRun}. */
export interface RunInput {
  /** `--key`. */
  key?: string
  /** The command and its arguments (everything after `--`). */
  command: string[]
  envFile?: string
  variable?: string
}

/** A resolved run: what to start and with which environment (holds the key: never print it). */
export interface PreparedRun {
  file: string
  args: string[]
  env: Env
  variable: string
  source: {name: KeySourceName; location: string}
  warnings: string[]
}

/**
 * Resolves the key and the child's environment.
 * @throws ApikeyError `usage` (2) without a command or with a bad `--var`;
 *   `not_found` with exit 4 when no key is found anywhere (naming `apikey init`).
 */
export async function prepareRun(deps: Deps, input: RunInput): Promise<PreparedRun> {
  const [file, ...args] = input.command
  if (file === undefined || file === '') throw usageError('no command given: apikey run -- CMD [ARGS…]', ['apikey run -- npm start'])
  if (input.variable !== undefined && !VARIABLE_PATTERN.test(input.variable)) throw usageError(`--var "${input.variable}" is not a valid environment variable name`, [], {flag: '--var'})
  const project = await deps.project()
  const server = resolveServer(undefined, deps.env, project, await deps.config().catch(() => ({})))
  const variable = input.variable ?? project?.project.variable ?? DEFAULT_KEY_ENV_VAR
  const location = await locateKey(deps, {
    ...(input.key === undefined ? {} : {argument: input.key}),
    ...(project === undefined ? {} : {project}),
    ...(input.envFile === undefined ? {} : {envFile: input.envFile}),
    variable,
    ...(server === undefined ? {} : {serverHost: server.host}),
    // Like whoami: look at every source, so a key that shadows a different stored key is reported.
    firstOnly: input.key !== undefined,
  })
  if (location.chosen === undefined) {
    const envFilePath = input.envFile !== undefined ? resolvePath(deps.cwd, input.envFile) : project !== undefined ? resolvePath(project.dir, project.project.envFile) : resolvePath(deps.cwd, '.env')
    const searched = await describeSearch(envFilePath, variable, location.sources)
    const suggestions = ['apikey init   (get your own key for this project)', `or set ${variable} in the environment`]
    if (searched.otherVariables.length > 0) suggestions.unshift(`use that one: apikey run --var ${searched.otherVariables[0]} -- …   (or rename it to ${variable} in ${envFilePath})`)
    throw new ApikeyError(`no API key found for ${variable}: ${searched.text}`, {
      code: 'not_found',
      exitCode: ExitCode.Auth,
      suggestions,
      details: {sources: location.sources, variable, envFile: envFilePath, ...(searched.otherVariables.length > 0 ? {otherVariables: searched.otherVariables} : {})},
    })
  }
  const warnings = [...location.warnings]
  const parsed = parseKey(location.chosen.key)
  if (!parsed.valid) warnings.push(`the key from ${location.chosen.location} is not a valid API key (${parsed.problems.map((p) => p.part).join(', ')}); the command will likely be refused: check it with apikey whoami`)
  return {
    file,
    args,
    env: {...deps.env, [variable]: location.chosen.key},
    variable,
    source: {name: location.chosen.source, location: location.chosen.location},
    warnings,
  }
}

/**
 * Says where `apikey run` looked for a key and why each place had none: the
 * flag, the environment variable, the env file (missing, or holding keys only
 * under other variable names), the keychain.
 */
async function describeSearch(envFilePath: string, variable: string, sources: KeySourceReport[]): Promise<{text: string; otherVariables: string[]}> {
  const parts = ['no --key given', `${variable} is not set in the environment`]
  let otherVariables: string[] = []
  let content: string | undefined
  try {
    content = await readFile(envFilePath, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    parts.push(code === 'ENOENT' ? `${envFilePath} does not exist` : `${envFilePath} could not be read (${code ?? (error as Error).message})`)
  }
  if (content !== undefined) {
    const {parse} = await import('dotenv')
    const values = parse(content)
    otherVariables = Object.entries(values)
      .filter(([name, value]) => name !== variable && new RegExp(`^${KEY_SCAN_PATTERN.source}$`).test(value.trim()))
      .map(([name]) => name)
    parts.push(
      otherVariables.length > 0
        ? `${envFilePath} has no ${variable}, but holds a key under ${otherVariables.join(', ')}`
        : `${envFilePath} has no ${variable}`,
    )
  }
  const keychain = sources.find((s) => s.source === 'keychain')
  if (keychain !== undefined) parts.push(keychain.state === 'empty' ? `nothing in the ${keychain.location}` : `${keychain.location}: ${keychain.reason ?? keychain.state}`)
  return {text: parts.join('; '), otherVariables}
}

/** Outcome of {@link runChild}. */
export interface ChildOutcome {
  /** The exit status to use: the child's, 128+n for signal n, 127 not found, 126 not executable. */
  exitCode: number
  /** Signal that ended the child, if any. */
  signal: NodeJS.Signals | null
  /** Shell-style message when the command could not be started. */
  error?: string
}

/**
 * Should a signal we received be passed on to the child? SIGTERM and SIGHUP
 * always. SIGINT only when stdin is not a terminal: on a terminal, Ctrl+C is
 * sent by the terminal to the whole foreground process group — the child
 * (spawned in our group) has already received it, and forwarding it again
 * would deliver it twice.
 */
export function shouldForward(signal: NodeJS.Signals, stdinIsTTY: boolean): boolean {
  return signal !== 'SIGINT' || !stdinIsTTY
}

/**
 * Starts the child with inherited stdio and forwards {@link FORWARDED_SIGNALS}
 * until it exits (SIGINT only when stdin is not a terminal, see
 * {@link shouldForward}); we never die of them ourselves while the child runs.
 * Never throws for a child that fails: the outcome says how.
 */
export function runChild(prepared: PreparedRun, options: Pick<Deps, 'onSignal'> & {stdinIsTTY: boolean}): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(prepared.env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv
    const child = spawn(prepared.file, prepared.args, {stdio: 'inherit', env, shell: false})
    const forward = (signal: NodeJS.Signals) => () => {
      if (!shouldForward(signal, options.stdinIsTTY)) return
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
    const unsubscribe = FORWARDED_SIGNALS.map((signal) => options.onSignal(signal, forward(signal)))
    let settled = false
    const done = (outcome: ChildOutcome): void => {
      if (settled) return
      settled = true
      for (const off of unsubscribe) off()
      resolve(outcome)
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') done({exitCode: ChildExitCode.NotFound, signal: null, error: `${prepared.file}: command not found`})
      else if (error.code === 'EACCES' || error.code === 'EISDIR' || error.code === 'ENOEXEC') done({exitCode: ChildExitCode.CannotExecute, signal: null, error: `${prepared.file}: permission denied or not executable (${error.code})`})
      else done({exitCode: ChildExitCode.CannotExecute, signal: null, error: `${prepared.file}: cannot run it: ${error.message}`})
    })
    child.on('exit', (code, signal) => {
      if (signal !== null) done({exitCode: ChildExitCode.SignalBase + (constants.signals[signal] ?? 0), signal})
      else done({exitCode: code ?? ExitCode.Failure, signal: null})
    })
  })
}
