/**
 * The composition root (GitHub CLI's `Factory`): builds every dependency a
 * command needs, lazily, from the process's environment and streams. Nothing
 * below reads `process.env` or globals; tests build their own Deps.
 *
 * Heavy modules (got, Inquirer, the keyring binding) are imported on first
 * use so that offline commands start fast.
 */
import {hostname} from 'node:os'
import {readConfig, writeConfig, type CliConfig} from './config.js'
import {ioFacts, type Env, type IoFacts} from './io.js'
import {findProjectFile, type FoundProjectFile} from './project-file.js'
import {createPrompter, type Prompter} from './prompts.js'
import type {ApiClient} from './api/client.js'
import type {SecretStore} from './keychain/index.js'
import type {CredentialStore} from './credentials/index.js'

/** Inputs of {@link createDeps}. */
export interface DepsInput {
  env: Env
  cwd: string
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
  tty: {stdin: boolean; stdout: boolean; stderr: boolean}
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
  io: IoFacts
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
  now: () => number
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
  const io = ioFacts(input.env, input.tty)
  let configCache: Promise<CliConfig> | undefined
  let projectCache: Promise<FoundProjectFile | undefined> | undefined
  let keychainCache: Promise<SecretStore> | undefined
  let credentialsCache: Promise<CredentialStore> | undefined
  let deadline: {budgetMs: number; value: unknown} | undefined
  const debug = input.debug ? (line: string) => process.stderr.write(`[debug] ${line}\n`) : () => {}
  const deps: Deps = {
    env: input.env,
    cwd: input.cwd,
    io,
    stdin: input.stdin,
    now: input.now ?? Date.now,
    hostname: hostname(),
    warn: input.warn,
    debug,
    prompter: input.prompter ?? createPrompter(io.canPrompt),
    config: () => (configCache ??= readConfig(input.env)),
    async saveConfig(config) {
      await writeConfig(input.env, config)
      configCache = Promise.resolve(config)
    },
    project: () => (projectCache ??= findProjectFile(input.cwd)),
    async api(options) {
      const {createApiClient, createDeadline} = await import('./api/index.js')
      if (deadline === undefined || deadline.budgetMs !== options.timeoutMs) deadline = {budgetMs: options.timeoutMs, value: createDeadline(options.timeoutMs)}
      return createApiClient({
        baseUrl: options.server,
        ...(options.token === undefined ? {} : {token: options.token}),
        timeoutMs: options.timeoutMs,
        deadline: deadline.value as ReturnType<typeof createDeadline>,
        env: input.env,
        userAgent: `apikey-cli/${input.version} node/${process.versions.node}`,
        debug,
      })
    },
    keychain: () =>
      (keychainCache ??= import('./keychain/index.js').then(({createKeychain}) => createKeychain({env: input.env}))),
    credentials: () =>
      (credentialsCache ??= Promise.all([import('./credentials/index.js'), deps.keychain()]).then(([{createCredentialStore}, keychain]) =>
        createCredentialStore({env: input.env, keychain, warn: input.warn}),
      )),
  }
  return deps
}
