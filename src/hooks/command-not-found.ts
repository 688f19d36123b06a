/**
 * oclif `command_not_found` hook: an unknown command is a usage error (exit 2),
 * rendered like every other error (JSON with `--json`), with the closest
 * commands suggested. `apikey server …` where the key service package is not
 * installed is a failure (exit 1, code `not_found`, `details.package`) that names the package
 * and the command to install it. A secret among the words typed is never echoed.
 */
import type {Hook} from '@oclif/core'
import {ApikeyError} from '../core/errors.js'
import {currentProcessIo} from '../lib/deps.js'
import {isServerCommandId, serverNotInstalledError} from '../lib/plugins.js'
import {scrubSecrets} from '../core/secrets.js'
import {jsonText, renderError, stderrColor} from '../lib/render.js'

const hook: Hook<'command_not_found'> = async function (options) {
  // The words typed are echoed, so a pasted key or token in them is shown only by kind.
  const id = scrubSecrets(options.id.replace(/:/g, ' '))
  const ids = options.config.commandIDs.map((c) => c.replace(/:/g, ' '))
  const error = isServerCommandId(id) && !ids.some(isServerCommandId) ? serverNotInstalledError() : unknownCommand(id, ids)
  const io = currentProcessIo()
  if ((options.argv ?? []).includes('--json')) io.stdout.write(jsonText(error.toJSON()))
  else io.stderr.write(renderError(error, {color: stderrColor(io.env, io.stderr.isTTY), debug: false}))
  io.setExitCode(error.exitCode)
}

export default hook

/** An id that is no command: a usage error with the closest commands. */
function unknownCommand(id: string, ids: string[]): ApikeyError {
  const close = ids
    .map((c) => ({c, d: distance(c, id)}))
    .filter(({d}) => d <= Math.max(2, Math.floor(id.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({c}) => c)
  return new ApikeyError(`"${id}" is not an apikey command`, {
    code: 'usage',
    suggestions: [...close.map((c) => `apikey ${c}`), 'apikey --help   (lists every command)'],
  })
}

/** Levenshtein distance (small strings only). */
function distance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}
