/**
 * Start-up fast path: the two commands that must start in about the time of
 * `node -e 0` (`apikey --version` and `apikey whoami --offline KEY`) run here
 * without loading oclif. Output and exit codes are byte-identical to the
 * oclif commands (checked by test/commands/fast-path.e2e.test.ts); anything
 * else returns false and bin/run.js hands over to oclif.
 * Set `APIKEY_NO_FAST_PATH=1` to always use oclif.
 */
import {readFileSync} from 'node:fs'
import {ApikeyError} from './core/errors.js'
import {createDeps, processIo, type ProcessIo} from './lib/deps.js'
import {jsonText, renderError, stderrColor} from './lib/render.js'
import {whoami} from './services/whoami.js'
import {renderWhoami} from './views/whoami.js'

/**
 * Handles argv when it is one of the fast commands.
 * @param io the process facts (default: the real process's); the exit code is set through it.
 * @returns true when handled, false to fall through to oclif.
 */
export async function fastPath(argv: string[], packageJsonUrl: URL, io: ProcessIo = processIo()): Promise<boolean> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as {name: string; version: string}
    io.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    return true
  }
  if (argv[0] !== 'whoami') return false
  let key: string | undefined
  let offline = false
  let json = false
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--offline') offline = true
    else if (a === '--json') json = true
    else if (a === '--key' && i + 1 < argv.length && key === undefined) key = argv[++i]
    else if (a.startsWith('--key=') && key === undefined) key = a.slice('--key='.length)
    else if (!a.startsWith('-') && key === undefined) key = a
    else return false
  }
  if (!offline || key === undefined) return false
  const color = stderrColor(io.env, io.stderr.isTTY)
  const deps = createDeps({
    io,
    json,
    debug: false,
    warn: (m) => io.stderr.write(`⚠ ${m}\n`),
    version: '',
  })
  try {
    const result = await whoami(deps, {key, offline: true, timeoutMs: 15_000})
    const text = renderWhoami(result, {stdoutTTY: io.stdout.isTTY, color})
    io.stderr.write(text.stderr)
    io.stdout.write(json ? jsonText(result) : text.stdout)
  } catch (error) {
    if (!(error instanceof ApikeyError)) throw error
    io.setExitCode(error.exitCode)
    if (json) io.stdout.write(jsonText(error.toJSON()))
    else io.stderr.write(renderError(error, {color, debug: false}))
  }
  return true
}
