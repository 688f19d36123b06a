/**
 * The composition root (GitHub CLI's `Factory`): builds every dependency a
 * command needs, lazily, from the process's environment and streams.
 * {@link processIo} is the one place that reads `process.*` (environment,
 * working directory, standard streams and their TTY facts, the exit code,
 * signals); commands, services and libraries only see {@link Deps}. Tests
 * run commands in process with their own {@link ProcessIo} through
 * {@link runWithProcessIo}.
 *
 * Heavy modules (got, Inquirer, the keyring binding) are imported on first
 * use so that offline commands start fast.
 */
import {AsyncLocalStorage} from 'node:async_hooks'
import {hostname} from 'node:os'
import {readConfig, writeConfig, type CliConfig} from './config.js'
import {ioFacts, type Env, type IoFacts} from './io.js'
import {findProjectFile, type FoundProjectFile} from './project-file.js'
import {timeText} from './render.js'
import {createPrompter, type Prompter} from './prompts.js'
import type {ApiClient} from './api/client.js'
import type {SecretStore} from './keychain/index.js'
import type {CredentialStore} from './credentials/index.js'

/** One output stream of the CLI (stdout or stderr) and what is known about the terminal behind it. */
export interface OutputStream {
  /** Writes text as-is (UTF-8). */
  write(text: string): void
  /** The stream is a terminal. */
  readonly isTTY: boolean
  /** Width of the terminal in columns; undefined when not a terminal. */
  readonly columns: number | undefined
}

/** Signals a command may handle while it runs. */
export type HandledSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

/**
 * The process facts of one command run: everything a command would
 * otherwise take from `process`. Built from the real process by
 * {@link processIo}; tests build their own (captured output, given env/cwd).
 */
export interface ProcessIo {
  /** Environment variables (read-only by convention). */
  env: Env
  /** Working directory (absolute). */
  cwd: string
  /** Standard input; `isTTY` is true for a terminal. */
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
  /** Standard output: data only (results, `--json`). */
  stdout: OutputStream
  /** Standard error: messages, warnings, prompts, logs. */
  stderr: OutputStream
  /** Sets the exit status the CLI ends with (0 ok, 1 failure, 2 usage, 3 cancelled, 4 not signed in, 5 unsafe, or a child's). */
  setExitCode(code: number): void
  /**
   * Calls `handler` each time the process receives `signal`, instead of the
   * default action (dying), until the returned function is called.
   */
  onSignal(signal: HandledSignal, handler: () => void): () => void
}

/** Wraps a Node.js writable stream as an {@link OutputStream} (TTY facts read live: the terminal may be resized). */
export function outputStream(stream: NodeJS.WriteStream): OutputStream {
  return {
    write: (text) => void stream.write(text),
    get isTTY() {
      return Boolean(stream.isTTY)
    },
    get columns() {
      return stream.isTTY ? stream.columns : undefined
    },
  }
}

/** The {@link ProcessIo} of the real process: `process.env`, `process.cwd()`, the standard streams, `process.exitCode`, `process.on(signal)`. */
export function processIo(): ProcessIo {
  return {
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: outputStream(process.stdout),
    stderr: outputStream(process.stderr),
    setExitCode(code) {
      process.exitCode = code
    },
    onSignal(signal, handler) {
      process.on(signal, handler)
      return () => void process.off(signal, handler)
    },
  }
}

/**
 * The process facts of the runs given to {@link runWithProcessIo}. Kept under a
 * global symbol so that every copy of this module (the CLI's and a plugin's
 * own build, e.g. the key service's `server …` commands) shares one.
 */
const scopedIo: AsyncLocalStorage<ProcessIo> = ((globalThis as {[key: symbol]: unknown})[Symbol.for('apikey.processIo')] ??= new AsyncLocalStorage<ProcessIo>()) as AsyncLocalStorage<ProcessIo>

/**
 * Runs `fn` (a whole command run) with `io` as its process facts: every
 * {@link currentProcessIo} call made by it, synchronously or after any await,
 * returns `io`. Runs may overlap; each sees its own.
 */
export function runWithProcessIo<T>(io: ProcessIo, fn: () => T): T {
  return scopedIo.run(io, fn)
}

/** The process facts of the running command: the ones given to {@link runWithProcessIo}, else the real process's. */
export function currentProcessIo(): ProcessIo {
  return scopedIo.getStore() ?? processIo()
}

/** Inputs of {@link createDeps}. */
export interface DepsInput {
  /** Environment, working directory, standard streams, exit code and signals of this run. */
  io: ProcessIo
  /** `--json` given: warnings still go to stderr, prompts are not affected. */
  json: boolean
  /** `--debug` given: request traces (redacted) to stderr. */
  debug: boolean
  /** Prints one warning line to stderr. */
  warn: (message: string) => void
  /** CLI version, for the User-Agent. */
  version: string
  /** Clock in ms since epoch (injected in tests). */
  now?: () => number
  /** Prompter override (tests drive a real pseudo-terminal instead where possible). */
  prompter?: Prompter
}

/** Options of {@link Deps.api}. */
export interface ApiOptions {
  /** Base URL of the key service. */
  server: string
  /** Developer session token, if any. */
  token?: string
  /** Overall deadline of this command, in ms. */
  timeoutMs: number
}

/** Everything a service may use. */
export interface Deps {
  env: Env
  cwd: string
  /** Decisions from the TTY facts and environment: may we prompt, colour. */
  io: IoFacts
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
  /** Standard output: data only. */
  stdout: OutputStream
  /** Standard error: messages and warnings. */
  stderr: OutputStream
  /** Sets the exit status of the CLI. */
  setExitCode(code: number): void
  /** Handles a signal until the returned function is called (see {@link ProcessIo.onSignal}). */
  onSignal(signal: HandledSignal, handler: () => void): () => void
  now: () => number
  /**
   * A point in time as this run shows it to people on `stream` (default stderr): relative
   * (`in 40 s`, `3 d ago`) when that stream is a terminal and --json is not given, else the
   * full ISO 8601 UTC timestamp, after `preposition` when given (`at`, `until`); `never` for null.
   * See `timeText` in lib/render.ts.
   */
  time(ms: number | null | undefined, stream?: 'stdout' | 'stderr', preposition?: string): string
  hostname: string
  warn: (message: string) => void
  debug: (line: string) => void
  prompter: Prompter
  /** CLI `config.json` (cached after first read). */
  config(): Promise<CliConfig>
  saveConfig(config: CliConfig): Promise<void>
  /** The nearest `apikey.json` from cwd up to the repository root (cached). */
  project(): Promise<FoundProjectFile | undefined>
  /** An API client for one server; shares the command's deadline across calls. */
  api(options: ApiOptions): Promise<ApiClient>
  /** The OS keychain (time-boxed), created once. */
  keychain(): Promise<SecretStore>
  /** Session token store (APIKEY_TOKEN → keychain → 0600 file), created once. */
  credentials(): Promise<CredentialStore>
}

/** Builds the {@link Deps} of one command run. */
export function createDeps(input: DepsInput): Deps {
  const {env, cwd, stdin, stdout, stderr} = input.io
  const io = ioFacts(env, {stdin: Boolean(stdin.isTTY), stdout: stdout.isTTY, stderr: stderr.isTTY})
  let configCache: Promise<CliConfig> | undefined
  let projectCache: Promise<FoundProjectFile | undefined> | undefined
  let keychainCache: Promise<SecretStore> | undefined
  let credentialsCache: Promise<CredentialStore> | undefined
  let deadline: {budgetMs: number; value: unknown} | undefined
  const debug = input.debug ? (line: string) => stderr.write(`[debug] ${line}\n`) : () => {}
  const deps: Deps = {
    env,
    cwd,
    io,
    stdin,
    stdout,
    stderr,
    setExitCode: (code) => input.io.setExitCode(code),
    onSignal: (signal, handler) => input.io.onSignal(signal, handler),
    now: input.now ?? Date.now,
    time: (ms, stream = 'stderr', preposition) => timeText(ms, {tty: !input.json && (stream === 'stdout' ? stdout.isTTY : stderr.isTTY), now: (input.now ?? Date.now)(), ...(preposition === undefined ? {} : {preposition})}),
    hostname: hostname(),
    warn: input.warn,
    debug,
    prompter: input.prompter ?? createPrompter(io.canPrompt),
    config: () => (configCache ??= readConfig(env)),
    async saveConfig(config) {
      await writeConfig(env, config)
      configCache = Promise.resolve(config)
    },
    project: () => (projectCache ??= findProjectFile(cwd)),
    async api(options) {
      const {createApiClient, createDeadline} = await import('./api/index.js')
      if (deadline === undefined || deadline.budgetMs !== options.timeoutMs) deadline = {budgetMs: options.timeoutMs, value: createDeadline(options.timeoutMs)}
      return createApiClient({
        baseUrl: options.server,
        ...(options.token === undefined ? {} : {token: options.token}),
        timeoutMs: options.timeoutMs,
        deadline: deadline.value as ReturnType<typeof createDeadline>,
        env: env,
        userAgent: `apikey-cli/${input.version} node/${process.versions.node}`,
        debug,
      })
    },
    keychain: () =>
      (keychainCache ??= import('./keychain/index.js').then(({createKeychain}) => createKeychain({env: env}))),
    credentials: () =>
      (credentialsCache ??= Promise.all([import('./credentials/index.js'), deps.keychain()]).then(([{createCredentialStore}, keychain]) =>
        createCredentialStore({env: env, keychain, warn: input.warn}),
      )),
  }
  return deps
}
