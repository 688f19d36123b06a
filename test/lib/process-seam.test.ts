/**
 * Commands, services, views, hooks and the base command take the process's
 * environment, working directory, standard streams, exit code and signals
 * from Deps (built by processIo in src/lib/deps.ts), never from `process`:
 * that is what lets tests run them in process with captured output.
 */
import {readdir, readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), {withFileTypes: true, recursive: true})
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => relative(root, join(e.parentPath, e.name)))
}

/** Code lines (comments dropped) that name the `process` global. */
function processUses(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  return code.split('\n').filter((line) => /(^|[^.\w$])process\s*[.[]/.test(line))
}

describe('the process seam', () => {
  it('no command, service, view, hook or the base command reads process.*', async () => {
    const files = [...(await sources('src/commands')), ...(await sources('src/services')), ...(await sources('src/views')), ...(await sources('src/hooks')), 'src/lib/command.ts']
    expect(files.length).toBeGreaterThan(20)
    const offenders: string[] = []
    for (const file of files) for (const line of processUses(await readFile(join(root, file), 'utf8'))) offenders.push(`${file}: ${line.trim()}`)
    expect(offenders).toEqual([])
  })

  it('the check finds a use of process', () => {
    expect(processUses('const a = 1\nif (x) process.stdout.write("x")\n// process.env in a comment\n')).toEqual(['if (x) process.stdout.write("x")'])
    expect(processUses("const e = process['env']")).toHaveLength(1)
    expect(processUses('childProcess.spawn()\nconst p = deps.process.x')).toEqual([])
  })
})
