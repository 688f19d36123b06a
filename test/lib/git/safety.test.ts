import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {ApikeyError} from '../../../src/core/errors.js'
import {checkGitSafety, ensureIgnored, type EnsureIgnoredOptions, type GitSafetyVerdict} from '../../../src/lib/git/index.js'
import {makeRepo, type TestRepo} from './helpers.js'

let repo: TestRepo

beforeEach(() => {
  repo = makeRepo()
})

afterEach(() => {
  repo.cleanup()
})

function opts(cwd = repo.root, extra: Partial<EnsureIgnoredOptions> = {}): EnsureIgnoredOptions {
  return {cwd, env: repo.env, mayEditGitignore: true, allowGitignoreEdit: true, ...extra}
}

async function rejection(promise: Promise<unknown>): Promise<ApikeyError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ApikeyError)
    return error as ApikeyError
  }
  throw new Error('expected an ApikeyError')
}

describe('not a repository', () => {
  it('outside any work tree → not-a-repo (git exits 128 there); ensureIgnored only warns', async () => {
    const file = path.join(repo.home, '.env')
    expect(spawnSync('git', ['check-ignore', '-q', '.env'], {cwd: repo.home, env: repo.env}).status).toBe(128)
    expect(await checkGitSafety(file, opts())).toEqual({state: 'not-a-repo', path: file})
    const result = await ensureIgnored('.env', opts(repo.home))
    expect(result.verdict.state).toBe('not-a-repo')
    expect(result.addedRule).toBeUndefined()
    expect(result.warnings[0]).toMatch(/not inside a git repository/)
  })
})

describe('tracked wins over ignore rules', () => {
  it('committed .env that .gitignore also lists → tracked; refuse (exit 5) with git rm --cached and rotation; nothing changed', async () => {
    repo.write('.env', 'API_KEY=exposed\n')
    repo.git(['add', '.env'])
    repo.git(['commit', '-qm', 'oops'])
    repo.write('.gitignore', '.env\n')
    repo.git(['add', '.gitignore'])
    repo.git(['commit', '-qm', 'ignore'])

    const verdict = await checkGitSafety('.env', opts())
    expect(verdict).toEqual({state: 'tracked', path: path.join(repo.root, '.env'), repoRoot: repo.root, relativePath: '.env', alsoIgnored: true})

    const error = await rejection(ensureIgnored('.env', opts()))
    expect(error.code).toBe('unsafe')
    expect(error.exitCode).toBe(5)
    expect(error.message).toMatch(/tracked by git/)
    expect(error.suggestions.join('\n')).toContain('rm --cached -- .env')
    expect(error.suggestions.join('\n')).toMatch(/[Rr]otate/)
    expect(readFileSync(path.join(repo.root, '.env'), 'utf8')).toBe('API_KEY=exposed\n')
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('.env\n')
  })

  it('staged but not committed also counts as tracked', async () => {
    repo.write('sub/.env', 'A=1\n')
    repo.git(['add', 'sub/.env'])
    const verdict = await checkGitSafety(path.join(repo.root, 'sub', '.env'), opts(repo.home))
    expect(verdict).toMatchObject({state: 'tracked', relativePath: 'sub/.env', alsoIgnored: false})
    const error = await rejection(ensureIgnored('sub/.env', opts()))
    expect(error.suggestions.join('\n')).toContain('/sub/.env')
    expect(existsSync(path.join(repo.root, '.gitignore'))).toBe(false)
  })
})

describe('.gitignore variants: git decides, not the text', () => {
  const effective: Array<[string, string]> = [
    ['.env*', '.env*'],
    ['*.env', '*.env'],
    ['/.env', '/.env'],
    ['**/.env', '**/.env'],
    ['.env   ', '.env'],
  ]

  it.each(effective)('%j ignores .env (from root, from a subdirectory, by absolute path)', async (line, pattern) => {
    repo.write('.gitignore', `# secrets\n${line}\n`)
    mkdirSync(path.join(repo.root, 'sub'))
    const expected = {
      state: 'ignored',
      path: path.join(repo.root, '.env'),
      repoRoot: repo.root,
      relativePath: '.env',
      rule: {source: '.gitignore', sourcePath: path.join(repo.root, '.gitignore'), line: 2, pattern, kind: 'gitignore'},
      personalOnly: false,
    }
    expect(await checkGitSafety('.env', opts())).toEqual(expected)
    expect(await checkGitSafety('../.env', opts(path.join(repo.root, 'sub')))).toEqual(expected)
    expect(await checkGitSafety(path.join(repo.root, '.env'), opts(repo.home))).toEqual(expected)
    const result = await ensureIgnored('.env', opts())
    expect(result.addedRule).toBeUndefined()
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe(`# secrets\n${line}\n`)
  })

  it('"./.env" is not effective: not-ignored; ensureIgnored adds /.env and points out the ./.env line', async () => {
    repo.write('.gitignore', './.env\n')
    expect(await checkGitSafety('.env', opts())).toMatchObject({state: 'not-ignored', relativePath: '.env'})
    const result = await ensureIgnored('./.env', opts())
    expect(result.addedRule).toEqual({file: path.join(repo.root, '.gitignore'), line: '/.env', lineNumber: 2, created: false})
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('./.env\n/.env\n')
    expect(result.verdict).toMatchObject({state: 'ignored', rule: {line: 2, pattern: '/.env'}})
    expect(result.warnings.some((w) => w.includes('.gitignore:1 "./.env"') && w.includes('leading "./"'))).toBe(true)
  })

  it('a backslash path ("sub\\.env") is pointed out as using the wrong separator', async () => {
    repo.write('.gitignore', 'sub\\.env\n')
    mkdirSync(path.join(repo.root, 'sub'))
    const result = await ensureIgnored('sub/.env', opts())
    expect(result.addedRule?.line).toBe('/sub/.env')
    expect(result.warnings.some((w) => w.includes('"sub\\.env"') && w.includes('directory separator'))).toBe(true)
  })
})

describe('one path per query, decided on the exit status without -v', () => {
  it('a "!" negation: git check-ignore -v exits 0, but the file is not ignored', async () => {
    repo.write('.gitignore', '.env\n!.env\n')
    // The trap this guards against:
    expect(spawnSync('git', ['check-ignore', '-v', '--no-index', '--', '.env'], {cwd: repo.root, env: repo.env}).status).toBe(0)
    expect(spawnSync('git', ['check-ignore', '-q', '--no-index', '--', '.env'], {cwd: repo.root, env: repo.env}).status).toBe(1)

    const verdict = await checkGitSafety('.env', opts())
    expect(verdict).toMatchObject({state: 'not-ignored', negatedBy: {source: '.gitignore', line: 2, pattern: '!.env'}})
  })

  it('a deeper .gitignore re-includes the file: the added root rule cannot win; git re-checks and we refuse', async () => {
    // A deeper .gitignore re-includes sub/.env: the new root rule cannot win.
    repo.write('sub/.gitignore', '!.env\n')
    const error = await rejection(ensureIgnored('sub/.env', opts()))
    expect(error.code).toBe('unsafe')
    expect(error.message).toMatch(/still does not ignore sub\/\.env/)
    expect(error.message).toContain('sub/.gitignore:1 "!.env"')
  })

  it.runIf(process.getuid?.() === 0)('git cannot tell (exit 128: dubious ownership) → unknown; ensureIgnored refuses', async () => {
    chownSync(repo.root, 4321, 4321)
    const verdict = await checkGitSafety('.env', opts())
    expect(verdict.state).toBe('unknown')
    expect((verdict as Extract<GitSafetyVerdict, {state: 'unknown'}>).reason).toMatch(/status 128.*dubious ownership/)
    const error = await rejection(ensureIgnored('.env', opts()))
    expect(error.code).toBe('unsafe')
    expect(error.exitCode).toBe(5)
  })

  it('a git that hangs is cut off by the timeout → unknown', async () => {
    const fake = path.join(repo.home, 'slow-git')
    writeFileSync(fake, '#!/bin/sh\nsleep 5\n')
    chmodSync(fake, 0o755)
    const verdict = await checkGitSafety('.env', {...opts(), gitPath: fake, timeoutMs: 200})
    expect(verdict).toMatchObject({state: 'unknown', reason: expect.stringMatching(/did not answer in time/)})
  })

  it('GIT_DIR and GIT_WORK_TREE in the environment do not redirect the question', async () => {
    const other = makeRepo()
    try {
      other.write('.gitignore', '.env\n')
      repo.write('.gitignore', '')
      const env = {...repo.env, GIT_DIR: path.join(other.root, '.git'), GIT_WORK_TREE: other.root}
      expect(await checkGitSafety('.env', {cwd: repo.root, env})).toMatchObject({state: 'not-ignored', repoRoot: repo.root})
    } finally {
      other.cleanup()
    }
  })

  it('glob characters in a file name are literal in every query and escaped in the rule', async () => {
    mkdirSync(path.join(repo.root, 'sub'))
    writeFileSync(path.join(repo.root, 'sub', 'x?.env'), '')
    writeFileSync(path.join(repo.root, 'sub', 'xy.env'), '')
    repo.git(['add', 'sub/xy.env'])
    // xy.env is tracked, but x?.env is not: a glob pathspec would have matched both.
    expect(await checkGitSafety('sub/x?.env', opts())).toMatchObject({state: 'not-ignored'})
    const result = await ensureIgnored('sub/x?.env', opts())
    expect(result.addedRule?.line).toBe('/sub/x\\?.env')
    expect(await checkGitSafety('sub/xy.env', opts())).toMatchObject({state: 'tracked', alsoIgnored: false})
  })
})

describe('same answer from any working directory and spelling', () => {
  it('sub/.env given as ./.env from sub, as .env from sub, absolute from outside, with backslashes', async () => {
    repo.write('.gitignore', 'sub/.env\n')
    const sub = path.join(repo.root, 'sub')
    mkdirSync(path.join(sub, 'deeper'), {recursive: true})
    const answers = await Promise.all([
      checkGitSafety('sub/.env', opts()),
      checkGitSafety('./.env', opts(sub)),
      checkGitSafety('.env', opts(sub)),
      checkGitSafety('../.env', opts(path.join(sub, 'deeper'))),
      checkGitSafety(path.join(sub, '.env'), opts(repo.home)),
      checkGitSafety('sub\\.env', opts()),
      checkGitSafety('.\\sub\\.env', opts()),
      checkGitSafety('..\\.env', opts(path.join(sub, 'deeper'))),
    ])
    for (const answer of answers) {
      expect(answer).toEqual({
        state: 'ignored',
        path: path.join(sub, '.env'),
        repoRoot: repo.root,
        relativePath: 'sub/.env',
        rule: {source: '.gitignore', sourcePath: path.join(repo.root, '.gitignore'), line: 1, pattern: 'sub/.env', kind: 'gitignore'},
        personalOnly: false,
      })
    }
  })
})

describe('narrowest rule, consent, --no-gitignore', () => {
  it('untracked .env.example and no rules: adds exactly "/.env", which does not hide .env.example', async () => {
    repo.write('.env.example', 'API_KEY=\n')
    const consent = vi.fn(async () => true)
    const result = await ensureIgnored('.env', opts(repo.root, {mayEditGitignore: consent}))
    expect(consent).toHaveBeenCalledTimes(1)
    expect(result.addedRule).toEqual({file: path.join(repo.root, '.gitignore'), line: '/.env', lineNumber: 1, created: true})
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('/.env\n')
    expect(result.verdict).toMatchObject({state: 'ignored', rule: {pattern: '/.env', line: 1}, personalOnly: false})
    expect(await checkGitSafety('.env.example', opts())).toMatchObject({state: 'not-ignored'})
    mkdirSync(path.join(repo.root, 'sub'))
    expect(await checkGitSafety('sub/.env', opts())).toMatchObject({state: 'not-ignored'})
    expect(result.warnings.some((w) => w.includes('.gitignore is not committed'))).toBe(true)
  })

  it('a .env in a subdirectory gets its anchored path', async () => {
    mkdirSync(path.join(repo.root, 'packages', 'app'), {recursive: true})
    const result = await ensureIgnored('.env', opts(path.join(repo.root, 'packages', 'app')))
    expect(result.addedRule?.line).toBe('/packages/app/.env')
    expect(await checkGitSafety('packages/.env', opts())).toMatchObject({state: 'not-ignored'})
  })

  it('keeps CRLF and adds the missing final terminator first', async () => {
    repo.write('.gitignore', 'node_modules/\r\ndist')
    const result = await ensureIgnored('.env', opts())
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('node_modules/\r\ndist\r\n/.env\r\n')
    expect(result.addedRule?.lineNumber).toBe(3)
    expect(result.verdict.state).toBe('ignored')
  })

  it('LF file without final newline', async () => {
    repo.write('.gitignore', 'dist')
    await ensureIgnored('.env', opts())
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('dist\n/.env\n')
  })

  it('consent refused → unsafe with the exact line; nothing written', async () => {
    const error = await rejection(ensureIgnored('.env', opts(repo.root, {mayEditGitignore: async () => false})))
    expect(error.code).toBe('unsafe')
    expect(error.exitCode).toBe(5)
    expect(error.suggestions[0]).toBe(`Add this line to ${path.join(repo.root, '.gitignore')}: /.env`)
    expect(error.details.line).toBe('/.env')
    expect(existsSync(path.join(repo.root, '.gitignore'))).toBe(false)
  })

  it('--no-gitignore (allowGitignoreEdit false) → unsafe without asking', async () => {
    repo.write('.gitignore', 'dist\n')
    const consent = vi.fn(async () => true)
    const error = await rejection(ensureIgnored('.env', opts(repo.root, {allowGitignoreEdit: false, mayEditGitignore: consent})))
    expect(consent).not.toHaveBeenCalled()
    expect(error.message).toContain('--no-gitignore')
    expect(error.suggestions[0]).toContain(': /.env')
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('dist\n')
  })

  it('already ignored by a committed .gitignore: no warning, no edit', async () => {
    repo.write('.gitignore', '.env\n')
    repo.git(['add', '.gitignore'])
    repo.git(['commit', '-qm', 'ignore'])
    expect(await ensureIgnored('.env', opts())).toMatchObject({verdict: {state: 'ignored'}, warnings: []})
  })
})

describe('agree with git on odd .gitignore files', () => {
  it('a line ".env " ending in a space and CRLF ignores .env', async () => {
    repo.write('.gitignore', 'dist\r\n.env \r\n')
    expect(await checkGitSafety('.env', opts())).toMatchObject({state: 'ignored', rule: {line: 2}})
    expect((await ensureIgnored('.env', opts())).addedRule).toBeUndefined()
  })

  it('a UTF-16 .gitignore listing .env does not ignore it; hint at the encoding; the file is not edited', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('.env\n', 'utf16le')])
    repo.write('.gitignore', utf16)
    expect(await checkGitSafety('.env', opts())).toMatchObject({state: 'not-ignored'})
    const error = await rejection(ensureIgnored('.env', opts()))
    expect(error.code).toBe('unsafe')
    expect(error.message).toContain('UTF-16')
    expect(error.suggestions.some((s) => s.includes('iconv -f UTF-16 -t UTF-8'))).toBe(true)
    expect(readFileSync(path.join(repo.root, '.gitignore'))).toEqual(utf16)
  })

  it('a UTF-16 .gitignore in a subdirectory: hint only, the root rule is added', async () => {
    repo.write('sub/.gitignore', Buffer.from('.env\n', 'utf16le'))
    const result = await ensureIgnored('sub/.env', opts())
    expect(result.addedRule?.line).toBe('/sub/.env')
    expect(result.warnings.some((w) => w.startsWith('sub/.gitignore contains NUL bytes'))).toBe(true)
  })

  it('a CR-only .gitignore is one line to git: hint, and the rule goes on its own line', async () => {
    repo.write('.gitignore', 'dist\r.env\r')
    expect(await checkGitSafety('.env', opts())).toMatchObject({state: 'not-ignored'})
    const result = await ensureIgnored('.env', opts())
    expect(result.warnings.some((w) => w.includes('CR-only'))).toBe(true)
    expect(readFileSync(path.join(repo.root, '.gitignore'), 'utf8')).toBe('dist\r.env\r\n/.env\n')
    expect(result.verdict.state).toBe('ignored')
  })
})

describe('ignored only by personal excludes', () => {
  it('.git/info/exclude → personalOnly, warning that teammates are unprotected', async () => {
    writeFileSync(path.join(repo.root, '.git', 'info', 'exclude'), '# local\n.env\n')
    const verdict = await checkGitSafety('.env', opts())
    expect(verdict).toMatchObject({
      state: 'ignored',
      personalOnly: true,
      rule: {source: '.git/info/exclude', sourcePath: path.join(repo.root, '.git/info/exclude'), line: 2, pattern: '.env', kind: 'info-exclude'},
    })
    const result = await ensureIgnored('.env', opts())
    expect(result.addedRule).toBeUndefined()
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toMatch(/info\/exclude.*teammates.*\/\.env/)
  })

  it('global core.excludesFile → personalOnly (kind global-excludes)', async () => {
    writeFileSync(path.join(repo.home, 'global-excludes'), '.env\n')
    const verdict = await checkGitSafety('.env', opts())
    expect(verdict).toMatchObject({state: 'ignored', personalOnly: true, rule: {sourcePath: path.join(repo.home, 'global-excludes'), line: 1, kind: 'global-excludes'}})
    const result = await ensureIgnored('.env', opts())
    expect(result.warnings[0]).toMatch(/global excludes file.*teammates/)
  })

  it('a committed .gitignore rule later in precedence than info/exclude is shared', async () => {
    writeFileSync(path.join(repo.root, '.git', 'info', 'exclude'), '.env\n')
    repo.write('.gitignore', '.env\n')
    expect(await checkGitSafety('.env', opts())).toMatchObject({state: 'ignored', personalOnly: false, rule: {kind: 'gitignore'}})
  })
})
