/** The one atomic file writer of the CLI (src/lib/fs/atomic-write.ts). */
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {AtomicWriteError, writeFileAtomic} from '../../../src/lib/fs/atomic-write.js'

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'apikey-atomic-'))
  file = path.join(dir, 'config.json')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('writeFileAtomic', () => {
  it('creates and replaces a file with the given mode whatever the umask, leaving no temp file', async () => {
    const umask = process.umask(0o077)
    try {
      await writeFileAtomic(file, 'one\n', {mode: 0o644})
    } finally {
      process.umask(umask)
    }
    expect(readFileSync(file, 'utf8')).toBe('one\n')
    expect(statSync(file).mode & 0o777).toBe(0o644)
    await writeFileAtomic(file, 'two\n')
    expect(readFileSync(file, 'utf8')).toBe('two\n')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it('a failure before the rename leaves the target as it was and removes the temp file', async () => {
    writeFileSync(file, 'old\n')
    const refused = writeFileAtomic(file, 'new\n', {
      beforeRename: () => {
        throw new Error('lock lost')
      },
    })
    await expect(refused).rejects.toMatchObject({name: 'AtomicWriteError', stage: 'write', path: file, message: 'lock lost'})
    expect(readFileSync(file, 'utf8')).toBe('old\n')
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it('the temp file has its final mode and is still empty when prepared (e.g. to chown it)', async () => {
    let seen: {mode: number; size: number} | undefined
    await writeFileAtomic(file, 'secret\n', {
      mode: 0o640,
      prepare: async (handle) => {
        const info = await handle.stat()
        seen = {mode: info.mode & 0o777, size: info.size}
      },
    })
    expect(seen).toEqual({mode: 0o640, size: 0})
    expect(statSync(file).mode & 0o777).toBe(0o640)
  })

  it('a directory that does not exist fails at the "create" stage with the errno code', async () => {
    const missing = path.join(dir, 'missing', 'config.json')
    const error = await writeFileAtomic(missing, 'x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomicWriteError)
    expect(error).toMatchObject({stage: 'create', code: 'ENOENT'})
  })

  it("other programs' leftover temp files are left alone", async () => {
    const leftovers = ['.config.json.0123456789abcdef.apikey-tmp', 'config.json.tmp']
    for (const name of leftovers) writeFileSync(path.join(dir, name), 'crashed')
    for (let i = 0; i < 3; i++) await writeFileAtomic(file, `v${i}`)
    expect(readdirSync(dir).sort()).toEqual(['config.json', ...leftovers].sort())
    expect(readFileSync(file, 'utf8')).toBe('v2')
  })
})
