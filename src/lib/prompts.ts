/**
 * Questions to the developer, through Inquirer (@inquirer/prompts), loaded
 * lazily so commands that never ask do not pay for it.
 *
 * Rule: never prompt unless stdin and stdout are TTYs and CI is not
 * truthy. Without a TTY a missing value is a usage error (exit 2) that names
 * the flag to pass instead.
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {checkInput} from '../core/secrets.js'

/** A question for a free-text answer. */
export interface InputQuestion {
  message: string
  /** Flag that supplies the same value without a prompt, e.g. `--app`. */
  flag: string
  default?: string
  /**
   * Returns an error message, or `true` when the answer is acceptable. It may also throw an
   * {@link ApikeyError} (e.g. the same parser the flag goes through): its message is shown.
   * Either way the question is asked again: an invalid answer never ends the command.
   */
  validate?: (value: string) => string | true
  /**
   * How the answer is checked before `validate` (the free-text guard of core/secrets.ts, as for
   * the flag): `text` (default: no key or token, no invisible or direction-changing characters)
   * or `username` (also nothing that looks like a password). A refused answer is asked again.
   */
  rule?: 'text' | 'username'
}

/** A question for a secret answer (typed masked, never echoed). */
export interface PasswordQuestion {
  message: string
  flag: string
  /** As {@link InputQuestion.validate}: an invalid answer is asked again. */
  validate?: (value: string) => string | true
}

/** A question with a fixed set of answers. */
export interface SelectQuestion<T extends string> {
  message: string
  flag: string
  choices: Array<{value: T; name?: string; description?: string}>
  default?: T
}

/** Asks the developer; every method throws a usage error naming `flag` when prompting is not allowed. */
export interface Prompter {
  /** Whether questions can be asked at all. */
  readonly interactive: boolean
  input(question: InputQuestion): Promise<string>
  password(question: PasswordQuestion): Promise<string>
  select<T extends string>(question: SelectQuestion<T>): Promise<T>
  confirm(question: {message: string; flag: string; default?: boolean}): Promise<boolean>
}

/**
 * Maps Inquirer's cancellation (Ctrl+C, closed stream) to exit 3.
 * @throws ApikeyError `cancelled` for prompt cancellation; rethrows anything else.
 */
function rethrowCancel(error: unknown): never {
  const name = (error as Error | undefined)?.name
  if (name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError') {
    throw new ApikeyError('cancelled; nothing was changed by the unanswered question', {code: 'cancelled'})
  }
  throw error
}

/**
 * Inquirer's validate from ours: an {@link ApikeyError} thrown by the check becomes the
 * message shown under the question (which is then asked again); anything else is rethrown.
 */
export function reasking(validate: (value: string) => string | true): (value: string) => string | true {
  return (value) => {
    try {
      return validate(value)
    } catch (error) {
      if (error instanceof ApikeyError) return error.message
      throw error
    }
  }
}

/**
 * The check of a free-text answer as Inquirer takes it: the free-text guard
 * (core/secrets.ts, rule `q.rule`, the field named by `q.flag`), then
 * `q.validate`. Returns the message to show under the question, or `true`.
 */
export function answerCheck(q: InputQuestion): (value: string) => string | true {
  return reasking((value) => {
    checkInput(value, q.flag, {rule: q.rule ?? 'text'})
    return q.validate === undefined ? true : q.validate(value)
  })
}

/** Usage error for a question that cannot be asked without a TTY. */
export function cannotAsk(flag: string, what: string): ApikeyError {
  return usageError(`${what} is needed and cannot be asked: no interactive terminal (or CI is set); pass ${flag}`, [`re-run with ${flag} …`], {flag})
}

/**
 * Creates the prompter. When `interactive` is false every question throws
 * {@link cannotAsk}. Prompts render on stderr so stdout stays data-only.
 */
export function createPrompter(interactive: boolean, streams?: {input: NodeJS.ReadableStream; output: NodeJS.WritableStream}): Prompter {
  const context = streams === undefined ? {output: process.stderr} : {input: streams.input, output: streams.output}
  const load = () => import('@inquirer/prompts')
  return {
    interactive,
    async input(q) {
      if (!interactive) throw cannotAsk(q.flag, q.message.replace(/[?:]\s*$/, ''))
      const {input} = await load()
      return input({message: q.message, ...(q.default === undefined ? {} : {default: q.default}), validate: answerCheck(q)}, context as never).catch(rethrowCancel)
    },
    async password(q) {
      if (!interactive) throw cannotAsk(q.flag, q.message.replace(/[?:]\s*$/, ''))
      const {password} = await load()
      return password({message: q.message, mask: true, ...(q.validate ? {validate: reasking(q.validate)} : {})}, context as never).catch(rethrowCancel)
    },
    async select(q) {
      if (!interactive) throw cannotAsk(q.flag, q.message.replace(/[?:]\s*$/, ''))
      const {select} = await load()
      return select({message: q.message, choices: q.choices, ...(q.default === undefined ? {} : {default: q.default})}, context as never).catch(rethrowCancel) as Promise<never>
    },
    async confirm(q) {
      if (!interactive) throw cannotAsk(q.flag, q.message.replace(/[?:]\s*$/, ''))
      const {confirm} = await load()
      return confirm({message: q.message, default: q.default ?? true}, context as never).catch(rethrowCancel)
    },
  }
}
