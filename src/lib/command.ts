/**
 * Base class of every `apikey` command: thin shells that parse flags, call a
 * service, render, and return a typed result which *is* the `--json` output
 * (Salesforce CLI style). One place maps errors to exit codes.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {ApikeyError, ExitCode} from '../core/errors.js'
import {format} from 'node:util'
import {createDeps, currentProcessIo, type Deps} from './deps.js'
import {guardInputs, scrubParseMessage, type InputRules} from './input-guard.js'
import {jsonText, painter, renderError, stderrColor} from './render.js'

/** Flags every network command accepts. */
export const networkFlags = {
  server: Flags.string({description: 'key service URL (default: APIKEY_SERVER, apikey.json, or the last login)', helpGroup: 'GLOBAL'}),
  timeout: Flags.integer({description: 'overall deadline for the command, in seconds', default: 15, min: 1, max: 600, helpGroup: 'GLOBAL'}),
}

/** Flags of every command. */
export const globalFlags = {
  debug: Flags.boolean({description: 'print request traces (secrets redacted) to stderr', helpGroup: 'GLOBAL'}),
}

/** Parsed flags of a command class. */
export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<(typeof ApikeyCommand)['baseFlags'] & T['flags']>

/**
 * Base command. Subclasses implement `run()` and return their result object;
 * errors are rendered by {@link ApikeyCommand.catch}.
 */
export abstract class ApikeyCommand<TResult> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = globalFlags
  /**
   * How each flag and argument is checked before `run()` (see `lib/input-guard.ts`):
   * by default every string value is free text in which a secret is refused.
   */
  static inputRules: InputRules = {}

  private lazyDeps: Deps | undefined

  /** The composition root, built on first use. */
  protected get deps(): Deps {
    this.lazyDeps ??= createDeps({
      io: currentProcessIo(),
      json: this.jsonEnabled(),
      debug: this.argv.includes('--debug'),
      warn: (message) => this.warnLine(message),
      version: this.config.version,
    })
    return this.lazyDeps
  }

  abstract override run(): Promise<TResult>

  /** Parses argv; every parser failure (unknown flag, missing value, bad option) is a usage error, exit 2. */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    let parsed: Interfaces.ParserOutput<F, B, A>
    try {
      parsed = await super.parse(options, argv)
    } catch (error) {
      if (error instanceof ApikeyError) throw error
      // Parser messages echo the offending value ("Expected an integer but received: …"): never a secret.
      throw new ApikeyError(scrubParseMessage(stripAnsi((error as Error).message)), {code: 'usage', exitCode: ExitCode.Usage, suggestions: [`see: apikey ${commandWords(this.id)} --help`]})
    }
    guardInputs(parsed.flags, parsed.args, (this.constructor as typeof ApikeyCommand).inputRules)
    return parsed
  }

  /** `--json` output: plain pretty JSON on stdout (no colour codes, stable for pipes). */
  protected override logJson(json: unknown): void {
    this.deps.stdout.write(jsonText(json))
  }

  /** One line on stdout (`util.format` of the arguments, like oclif's `log`), through {@link Deps.stdout}. */
  override log(message = '', ...args: unknown[]): void {
    this.deps.stdout.write(`${format(message, ...args)}\n`)
  }

  /** One line on stderr (`util.format` of the arguments, like oclif's `logToStderr`), through {@link Deps.stderr}. */
  override logToStderr(message = '', ...args: unknown[]): void {
    this.deps.stderr.write(`${format(message, ...args)}\n`)
  }

  /** Prints a warning line on stderr (also with `--json`: stdout stays data-only). */
  protected warnLine(message: string): void {
    this.deps.stderr.write(`${this.paint('yellow', '⚠')} ${message}\n`)
  }

  /** Prints a progress/info line on stderr unless `--json`. */
  protected info(message: string): void {
    if (!this.jsonEnabled()) this.deps.stderr.write(`${message}\n`)
  }

  /** Colours text when stderr is a TTY and NO_COLOR is unset. */
  protected paint(color: 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold', text: string): string {
    return painter(this.stderrColor())(color, text)
  }

  /** Colour on stderr: it is a TTY, NO_COLOR is unset and TERM is not dumb. */
  protected stderrColor(): boolean {
    return stderrColor(this.deps.env, this.deps.stderr.isTTY)
  }

  /**
   * Renders any failure: `--json` prints `{error: {code, message, exitCode,
   * suggestions, details}}` on stdout; otherwise the message and suggestions go
   * to stderr. Sets the process exit code; never prints a stack trace unless `--debug`.
   */
  protected override async catch(err: Error & {oclif?: {exit?: number}; exitCode?: number}): Promise<void> {
    // this.exit(n) throws an ExitError: let oclif handle it.
    if (err.oclif?.exit !== undefined && err.name === 'ExitError') throw err
    const error = toApikeyError(err)
    this.deps.setExitCode(error.exitCode)
    if (this.jsonEnabled()) {
      this.deps.stdout.write(jsonText(error.toJSON()))
      return
    }
    this.deps.stderr.write(renderError(error, {color: this.stderrColor(), debug: this.argv.includes('--debug')}))
  }
}

/** Converts anything thrown into an {@link ApikeyError} with the right exit code. */
export function toApikeyError(err: unknown): ApikeyError {
  if (err instanceof ApikeyError) return err
  const e = err as Error & {oclif?: {exit?: number}; code?: string}
  // oclif's parser errors (unknown flag, missing arg, failed validation) exit 2.
  if (e?.oclif?.exit === 2 || e?.name === 'CLIParseError' || /Parse|Flag|Arg/.test(e?.constructor?.name ?? '')) {
    return new ApikeyError(scrubParseMessage(stripAnsi(e.message)), {code: 'usage', exitCode: ExitCode.Usage, suggestions: ['see: apikey COMMAND --help']})
  }
  if (e?.name === 'ExitPromptError' || e?.name === 'AbortPromptError') return new ApikeyError('cancelled', {code: 'cancelled'})
  return new ApikeyError(`unexpected error: ${e?.message ?? String(err)}`, {
    code: 'internal',
    cause: err,
    suggestions: ['re-run with --debug and report it with the output'],
  })
}

/** A command id as typed: `ci:key` → `ci key` (the topic separator is a space). */
export function commandWords(id: string | undefined): string {
  return id === undefined || id === '' ? 'COMMAND' : id.replaceAll(':', ' ')
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;]*m/g, '')
}
