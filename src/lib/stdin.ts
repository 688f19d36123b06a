/**
 * Reading a secret (password, token) from standard input for `--password-stdin`:
 * never from the command line, where `ps` shows it.
 */
import {ApikeyError, usageError} from '../core/errors.js'

/** Maximum bytes read from stdin for a secret. */
export const MAX_STDIN_SECRET_BYTES = 64 * 1024

/**
 * Reads all of stdin and returns it without one trailing line terminator
 * (`\n` or `\r\n`).
 * @param flag the flag that asked for stdin, named in errors.
 * @param options.allowEmpty return '' for empty input instead of throwing.
 * @throws ApikeyError `usage` (exit 2) when stdin is a TTY (it would block), when
 *   the input is empty (unless allowed), or longer than {@link MAX_STDIN_SECRET_BYTES}.
 */
export async function readSecretFromStdin(stdin: NodeJS.ReadableStream & {isTTY?: boolean}, flag: string, options: {allowEmpty?: boolean} = {}): Promise<string> {
  if (stdin.isTTY) {
    throw usageError(`${flag} reads from a pipe, but standard input is a terminal`, [`printf '%s' "$PASSWORD" | apikey … ${flag}`, `or drop ${flag} to be asked`])
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buf.length
    if (size > MAX_STDIN_SECRET_BYTES) throw usageError(`${flag}: standard input is longer than ${MAX_STDIN_SECRET_BYTES} bytes`)
    chunks.push(buf)
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  if (text.length === 0 && options.allowEmpty === true) return ''
  if (text.length === 0) throw usageError(`${flag}: standard input was empty`, [`printf '%s' "$PASSWORD" | apikey … ${flag}`])
  if (text.includes('\n')) throw new ApikeyError(`${flag}: standard input holds more than one line`, {code: 'usage'})
  return text
}
