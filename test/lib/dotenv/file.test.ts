import {execFile} from 'node:child_process'
import {chmodSync, chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import lockfile from 'proper-lockfile'
import ts from 'typescript'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {ApikeyError} from '../../../src/core/errors.js'
import {readDotenvVariable, readVariable, writeDotenvVariable} from '../../../src/lib/dotenv/index.js'

const execFileAsync = promisify(execFile)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const isRoot = process.getuid?.() === 0

let dir: string
let file: string
let savedUmask: number

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'apikey-dotenv-'))
  file = path.join(dir, '.env')
  savedUmask = process.umask()
})

afterEach(() => {
  process.umask(savedUmask)
  rmSync(dir, {recursive: true, force: true})
})

async function rejection(promise: Promise<unknown>): Promise<ApikeyError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ApikeyError)
    return error as ApikeyError
  }
  throw new Error('expected an ApikeyError')
}

describe('readDotenvVariable', () => {
  it('a missing file is not an error', async () => {
    expect(await readDotenvVariable(file, 'API_KEY')).toBeUndefined()
  })

  it('reads as dotenv does (CRLF, quotes, last wins)', async () => {
    writeFileSync(file, "API_KEY=one\r\nAPI_KEY='two'\r\n")
    expect(await readDotenvVariable(file, 'API_KEY')).toBe('two')
    expect(await readDotenvVariable(file, 'OTHER')).toBeUndefined()
  })

  it('a UTF-16 file is an io error that names the encoding', async () => {
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('API_KEY=x\n', 'utf16le')]))
    const error = await rejection(readDotenvVariable(file, 'API_KEY'))
    expect(error.code).toBe('io')
    expect(error.message).toContain('UTF-16')
  })
})

describe('writeDotenvVariable', () => {
  it('creates a new file with mode 0600 under umask 022 (and under umask 0)', async () => {
    for (const umask of [0o022, 0o000]) {
      rmSync(file, {force: true})
      process.umask(umask)
      const result = await writeDotenvVariable(file, 'API_KEY', 'ak_x')
      expect(result).toEqual({path: file, created: true, change: 'added', mode: 0o600, line: 1, warnings: []})
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(readFileSync(file, 'utf8')).toBe('API_KEY=ak_x\n')
    }
  })

  it('keeps mode 0640 and the group of an existing file', async () => {
    writeFileSync(file, '# header\nAPI_KEY=old\n')
    chmodSync(file, 0o640)
    const otherGid = 4242
    if (isRoot) chownSync(file, 0, otherGid)
    const result = await writeDotenvVariable(file, 'API_KEY', 'new')
    expect(result).toMatchObject({created: false, change: 'updated', mode: 0o640, line: 2, warnings: []})
    const info = statSync(file)
    expect(info.mode & 0o7777).toBe(0o640)
    if (isRoot) expect(info.gid).toBe(otherGid)
    expect(readFileSync(file, 'utf8')).toBe('# header\nAPI_KEY=new\n')
  })

  it.runIf(isRoot)('keeps another owner when running as root', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    chmodSync(file, 0o600)
    chownSync(file, 1234, 5678)
    await writeDotenvVariable(file, 'API_KEY', 'new')
    const info = statSync(file)
    expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([1234, 5678, 0o600])
  })

  it('a leftover temp file from a crash is left alone and does not collide; no temp file remains', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    const leftovers = ['.env.0123456789abcdef.apikey-tmp', '.env.tmp', '.env.apikey-tmp']
    for (const name of leftovers) writeFileSync(path.join(dir, name), 'API_KEY=crashed\n')
    for (let i = 0; i < 5; i++) await writeDotenvVariable(file, 'API_KEY', `v${i}`)
    expect(readdirSync(dir).sort()).toEqual(['.env', ...leftovers].sort())
    expect(readFileSync(file, 'utf8')).toBe('API_KEY=v4\n')
    for (const name of leftovers) expect(readFileSync(path.join(dir, name), 'utf8')).toBe('API_KEY=crashed\n')
  })

  it('keeps bytes of the rest of the file (BOM, CRLF, comments, export)', async () => {
    const before = '\uFEFF# app settings\r\n\r\nexport API_KEY = old # mine\r\nPORT=3000\r\nPEM="a\r\nb"'
    writeFileSync(file, before)
    await writeDotenvVariable(file, 'API_KEY', 'new value')
    expect(readFileSync(file, 'utf8')).toBe("\uFEFF# app settings\r\n\r\nexport API_KEY = 'new value' # mine\r\nPORT=3000\r\nPEM=\"a\r\nb\"")
    await writeDotenvVariable(file, 'OTHER', 'x')
    expect(readFileSync(file, 'utf8')).toBe("\uFEFF# app settings\r\n\r\nexport API_KEY = 'new value' # mine\r\nPORT=3000\r\nPEM=\"a\r\nb\"\r\nOTHER=x\r\n")
    expect(readFileSync(file).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
  })

  it('unchanged value: nothing is written (mtime kept)', async () => {
    writeFileSync(file, "API_KEY='same'\n")
    const old = new Date('2020-01-01T00:00:00Z')
    utimesSync(file, old, old)
    const result = await writeDotenvVariable(file, 'API_KEY', 'same')
    expect(result.change).toBe('unchanged')
    expect(statSync(file).mtime.getTime()).toBe(old.getTime())
  })

  it('a refused value leaves the file, and no temp or lock behind', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    const error = await rejection(writeDotenvVariable(file, 'API_KEY', 'a\nb'))
    expect(error.code).toBe('usage')
    expect(readFileSync(file, 'utf8')).toBe('API_KEY=old\n')
    expect(readdirSync(dir)).toEqual(['.env'])
  })

  it('writes through a symbolic link and keeps the link', async () => {
    const real = path.join(dir, 'real.env')
    writeFileSync(real, 'A=1\n')
    symlinkSync('real.env', file)
    const result = await writeDotenvVariable(file, 'API_KEY', 'k')
    expect(result.path).toBe(real)
    expect(lstatSync(file).isSymbolicLink()).toBe(true)
    expect(readlinkSync(file)).toBe('real.env')
    expect(readFileSync(real, 'utf8')).toBe('A=1\nAPI_KEY=k\n')
  })

  it('warns that other hard links keep the old contents', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    linkSync(file, path.join(dir, 'copy.env'))
    const result = await writeDotenvVariable(file, 'API_KEY', 'new')
    expect(result.warnings).toEqual([`${file} had 2 hard links; it was replaced atomically, so its other names keep the previous contents.`])
    expect(readFileSync(path.join(dir, 'copy.env'), 'utf8')).toBe('API_KEY=old\n')
  })

  it('a missing directory is an io error', async () => {
    const error = await rejection(writeDotenvVariable(path.join(dir, 'nope', '.env'), 'API_KEY', 'k'))
    expect(error.code).toBe('io')
  })

  it('a lock held by another writer: waits, then fails with conflict naming the lock', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    const release = await lockfile.lock(file, {realpath: false})
    try {
      const error = await rejection(writeDotenvVariable(file, 'API_KEY', 'new', {lockWaitMs: 300}))
      expect(error.code).toBe('conflict')
      expect(error.message).toContain('.env.lock')
      expect(readFileSync(file, 'utf8')).toBe('API_KEY=old\n')
    } finally {
      await release()
    }
  })

  it('a stale lock left by a crashed writer is taken over', async () => {
    writeFileSync(file, 'API_KEY=old\n')
    mkdirSync(`${file}.lock`)
    const old = new Date(Date.now() - 60_000)
    utimesSync(`${file}.lock`, old, old)
    await writeDotenvVariable(file, 'API_KEY', 'new', {lockStaleMs: 2_000})
    expect(readFileSync(file, 'utf8')).toBe('API_KEY=new\n')
  })

  it('concurrent writers in one process: every write is present', async () => {
    writeFileSync(file, '# shared\n')
    const names = Array.from({length: 30}, (_, i) => `VAR_${i}`)
    await Promise.all([...names.map((n) => writeDotenvVariable(file, n, `value ${n}`)), ...names.map((_, i) => writeDotenvVariable(file, 'SAME', `s${i}`))])
    const text = readFileSync(file, 'utf8')
    for (const n of names) expect(readVariable(text, n)).toBe(`value ${n}`)
    expect(readVariable(text, 'SAME')).toMatch(/^s\d+$/)
    expect(text.match(/^SAME=/gm)).toHaveLength(1)
    expect(readdirSync(dir)).toEqual(['.env'])
  })
})

// Two real processes. Vitest transpiles TypeScript only inside its own process,
// so the module under test (and what it imports from src/) is transpiled with
// the TypeScript compiler API into a temp directory that links node_modules.
describe('concurrent writer processes', () => {
  let build: string

  beforeAll(() => {
    build = mkdtempSync(path.join(tmpdir(), 'apikey-dotenv-build-'))
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(build, 'node_modules'))
    writeFileSync(path.join(build, 'package.json'), '{"type":"module"}')
    const sources = ['src/core/errors.ts', 'src/lib/fs/atomic-write.ts', ...readdirSync(path.join(repoRoot, 'src/lib/dotenv')).map((f) => `src/lib/dotenv/${f}`)]
    for (const rel of sources) {
      const out = ts.transpileModule(readFileSync(path.join(repoRoot, rel), 'utf8'), {
        compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true},
      })
      const dest = path.join(build, rel.replace(/\.ts$/, '.js'))
      mkdirSync(path.dirname(dest), {recursive: true})
      writeFileSync(dest, out.outputText)
    }
    writeFileSync(
      path.join(build, 'writer.mjs'),
      `import {writeDotenvVariable} from './src/lib/dotenv/file.js'
const [file, id, count] = process.argv.slice(2)
for (let i = 0; i < Number(count); i++) {
  await writeDotenvVariable(file, 'P' + id + '_' + i, 'value from ' + id + ' #' + i, {lockWaitMs: 20000})
  await writeDotenvVariable(file, 'SHARED', 'from-' + id + '-' + i, {lockWaitMs: 20000})
}
`,
    )
  })

  afterAll(() => {
    rmSync(build, {recursive: true, force: true})
  })

  it('two (and four) processes writing different and the same variables: both succeed, all writes present', async () => {
    for (const processes of [2, 4]) {
      writeFileSync(file, '# team settings\nexport PORT=3000\n')
      chmodSync(file, 0o640)
      const count = 15
      const runs = Array.from({length: processes}, (_, id) => execFileAsync(process.execPath, [path.join(build, 'writer.mjs'), file, String(id), String(count)]))
      await Promise.all(runs)
      const text = readFileSync(file, 'utf8')
      expect(text.startsWith('# team settings\nexport PORT=3000\n')).toBe(true)
      for (let id = 0; id < processes; id++) {
        for (let i = 0; i < count; i++) expect(readVariable(text, `P${id}_${i}`)).toBe(`value from ${id} #${i}`)
      }
      expect(readVariable(text, 'SHARED')).toMatch(/^from-\d-\d+$/)
      expect(text.match(/^SHARED=/gm)).toHaveLength(1)
      expect(text.split('\n')).toHaveLength(2 + processes * count + 1 + 1)
      expect(statSync(file).mode & 0o777).toBe(0o640)
      expect(readdirSync(dir)).toEqual(['.env'])
    }
  })
})
