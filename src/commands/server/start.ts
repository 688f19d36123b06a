import {Flags} from '@oclif/core'
import {ApikeyError, ExitCode, usageError} from '../../core/errors.js'
import {PREFIX_PATTERN} from '../../core/key-format.js'
import {ApikeyCommand} from '../../lib/command.js'
import {isHttpUrl} from '../../lib/project-file.js'

/**
 * The line `server start` prints when no `--public-url` is set: links in answers (the docs page of
 * every refusal) are then built from each request's Host header, which behind a gateway is the
 * gateway's own address or its upstream name.
 */
export const PUBLIC_URL_NOTICE =
  '  links (the docs page named in refusals) are built from each request\'s Host header, or are relative when it is not a plain host name: behind a gateway, set --public-url URL (or APIKEY_PUBLIC_URL) to the address callers reach this service at, or serve its /docs page unprotected on the gateway'

/** `--json` result of `apikey server start` (printed once the service listens). */
export interface ServerStartResult {
  url: string
  dbPath: string
  dataDir: string
}

export default class ServerStart extends ApikeyCommand<ServerStartResult | undefined> {
  static override summary = 'Run the key service (embedded SQLite by default).'
  static override description =
    'Starts the key service and keeps running until SIGINT or SIGTERM, then shuts down cleanly. Data lives in the XDG data dir (~/.local/share/apikey/apikey.db) unless --db is given; the HMAC pepper is kept beside the database (mode 0600) or taken from APIKEY_PEPPER.'
  static override examples = [
    '<%= config.bin %> server start',
    '<%= config.bin %> server start --host 127.0.0.1 --port 4000 --db ./data/apikey.db',
    '<%= config.bin %> server start --port 0 --json   # free port; prints {"url": …}',
    '<%= config.bin %> server start --public-url https://apikey.acme.internal --cli-package @acme/apikey',
  ]
  static override flags = {
    host: Flags.string({description: 'address to listen on', default: '127.0.0.1'}),
    port: Flags.integer({description: 'TCP port (0 = any free port)', default: 4000, min: 0, max: 65535}),
    db: Flags.string({description: 'SQLite database file (default: $XDG_DATA_HOME/apikey/apikey.db)'}),
    'public-url': Flags.string({description: "this service's public base URL, e.g. https://apikey.acme.internal (default: taken from each request's Host)", env: 'APIKEY_PUBLIC_URL'}),
    'docs-url': Flags.string({description: "how-to-get-a-key page named in /v1/meta and in every refusal (default: this service's own /docs page)", env: 'APIKEY_DOCS_URL'}),
    'cli-package': Flags.string({
      description: "npm package name of the apikey CLI on your organisation's registry, e.g. @acme/apikey; callers are then told `npx --yes <package> init` (default: none, callers are told `apikey init` and the docs page)",
      env: 'APIKEY_CLI_PACKAGE',
    }),
    'get-key-command': Flags.string({description: 'the exact command callers without a key are told to run (overrides the one built from --cli-package; must accept init\'s --new-key)', env: 'APIKEY_GET_KEY_COMMAND'}),
    'key-prefix': Flags.string({description: 'API key prefix, 2–8 lowercase letters (default ak); fixed for the life of a database', env: 'APIKEY_KEY_PREFIX'}),
    'log-level': Flags.option({options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, default: 'info'})(),
  }

  async run(): Promise<ServerStartResult | undefined> {
    const {flags} = await this.parse(ServerStart)
    if (flags['key-prefix'] !== undefined && !PREFIX_PATTERN.test(flags['key-prefix'])) throw usageError(`--key-prefix "${flags['key-prefix']}" must be 2–8 lowercase letters`)
    if (flags['docs-url'] !== undefined && !isHttpUrl(flags['docs-url'])) throw usageError(`--docs-url must be an http(s) URL`)
    const settings = {
      ...(flags['docs-url'] === undefined ? {} : {docsUrl: flags['docs-url']}),
      ...(flags['public-url'] === undefined ? {} : {publicUrl: flags['public-url']}),
      ...(flags['cli-package'] === undefined ? {} : {cliPackage: flags['cli-package']}),
      ...(flags['get-key-command'] === undefined ? {} : {getKeyCommand: flags['get-key-command']}),
      ...(flags['key-prefix'] === undefined ? {} : {keyPrefix: flags['key-prefix']}),
    }
    // Checked before anything is opened or written (no database is created for a usage error).
    const {resolveSettings} = await import('../../server/settings.js')
    try {
      resolveSettings(settings)
    } catch (error) {
      if (error instanceof RangeError) throw usageError(error.message.replace(/^settings\.(\w+)/, (_, name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`))
      throw error
    }
    const {startServer} = await import('../../server/main.js')
    let server: Awaited<ReturnType<typeof startServer>>
    try {
      server = await startServer({
        host: flags.host,
        port: flags.port,
        ...(flags.db === undefined ? {} : {dbPath: flags.db}),
        logLevel: flags['log-level'],
        // stdout carries only the URL (or the --json result); logs are pino JSON lines on stderr.
        logStream: this.deps.stderr,
        logBuffering: true,
        settings,
        env: this.deps.env,
      })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new ApikeyError(`cannot listen on ${flags.host}:${flags.port}: the port is already in use`, {code: 'io', suggestions: ['stop the other process, or choose another port: --port N (0 = any free port)']})
      if (code === 'EACCES') throw new ApikeyError(`cannot listen on ${flags.host}:${flags.port}: permission denied (ports below 1024 need privileges)`, {code: 'io', suggestions: ['use a port above 1023: --port 4000']})
      if (code === 'EADDRNOTAVAIL') throw new ApikeyError(`cannot listen on ${flags.host}: no such address on this machine`, {code: 'usage', suggestions: ['use --host 127.0.0.1 or --host 0.0.0.0']})
      throw error
    }
    const result: ServerStartResult = {url: server.url, dbPath: server.dbPath, dataDir: server.dataDir}
    if (this.jsonEnabled()) this.deps.stdout.write(`${JSON.stringify(result)}\n`)
    else {
      this.deps.stdout.write(`${server.url}\n`)
      this.info(`apikey key service listening on ${server.url}`)
      this.info(`  database: ${server.dbPath}`)
      this.info(`  data dir: ${server.dataDir}`)
      if (flags['public-url'] === undefined) this.info(PUBLIC_URL_NOTICE)
      this.info('  stop with Ctrl+C (SIGINT) or SIGTERM')
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        this.info(`${signal} received: shutting down`)
        offInt()
        offTerm()
        server.close().then(resolve, (error: unknown) => {
          this.deps.stderr.write(`error while shutting down: ${(error as Error).message}\n`)
          this.deps.setExitCode(ExitCode.Failure)
          resolve()
        })
      }
      const offInt = this.deps.onSignal('SIGINT', () => stop('SIGINT'))
      const offTerm = this.deps.onSignal('SIGTERM', () => stop('SIGTERM'))
    })
    // The result was already printed when the service started listening.
    return undefined
  }
}
