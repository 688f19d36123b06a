/**
 * The CLI's oclif help class (`oclif.helpClass`): oclif's help, except that
 * help for `apikey server …` where the key service plugin is not installed
 * (`apikey server --help`, `apikey help server start`) gives the same answer
 * as running such a command: exit 1 naming the package to install
 * (src/lib/plugins.ts), instead of "command not found".
 */
import {Help} from '@oclif/core'
import {currentProcessIo} from './lib/deps.js'
import {isServerCommandId, serverNotInstalledError} from './lib/plugins.js'
import {jsonText, renderError, stderrColor} from './lib/render.js'

export default class ApikeyHelp extends Help {
  /** Shows help for `argv` (the words after `apikey`, `--help` included). */
  override async showHelp(argv: string[]): Promise<void> {
    const subject = argv.find((a) => !a.startsWith('-'))
    if (subject !== undefined && isServerCommandId(subject) && !this.config.commandIDs.some(isServerCommandId)) {
      const error = serverNotInstalledError()
      const io = currentProcessIo()
      if (argv.includes('--json')) io.stdout.write(jsonText(error.toJSON()))
      else io.stderr.write(renderError(error, {color: stderrColor(io.env, io.stderr.isTTY), debug: false}))
      io.setExitCode(error.exitCode)
      return
    }
    await super.showHelp(argv)
  }
}
