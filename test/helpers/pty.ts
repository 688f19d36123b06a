/**
 * Runs the real binary on a real pseudo-terminal (util-linux `script`), and
 * answers prompts as a person would: wait for text, then type keys.
 */
import {spawn} from 'node:child_process'
import {BIN} from './cli.js'

/** One exchange: wait until the screen output matches, then type. */
export interface PtyStep {
  waitFor: RegExp
  send: string
}

/** Result of {@link runPty}: everything the terminal showed (stdout and stderr merged). */
export interface PtyRun {
  code: number
  output: string
}

/** Strips ANSI escape sequences from terminal output. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;?]*[ -/]*[@-~]|\u001B[()][A-Z0-9]|\u001B[=>]/g, '')
}

/** Is util-linux `script` available to make a pseudo-terminal? */
export async function havePty(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('script', ['--version'], {stdio: 'ignore'})
    child.on('error', () => resolve(false))
    child.on('close', (code) => resolve(code === 0))
  })
}

/** Runs `apikey ARGS…` on a pseudo-terminal and plays the steps in order. */
export function runPty(args: string[], options: {cwd: string; env: Record<string, string | undefined>; steps: PtyStep[]; killAfterMs?: number}): Promise<PtyRun> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  const env = Object.fromEntries(Object.entries({...options.env, TERM: 'xterm', COLUMNS: '160', LINES: '50'}).filter(([, v]) => v !== undefined)) as Record<string, string>
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
    let output = ''
    let step = 0
    let consumed = 0
    const advance = () => {
      while (step < options.steps.length) {
        const {waitFor, send} = options.steps[step]!
        const fresh = stripAnsi(output.slice(consumed))
        if (!waitFor.test(fresh)) return
        consumed = output.length
        step++
        // Give the prompt a moment to finish rendering before typing, as a person would.
        setTimeout(() => child.stdin.write(send), 150)
      }
    }
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d
      advance()
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (step < options.steps.length) {
        reject(new Error(`pty: step ${step} never matched ${options.steps[step]!.waitFor}; screen:\n${stripAnsi(output)}`))
        return
      }
      resolve({code: code ?? 1, output: stripAnsi(output)})
    })
  })
}
