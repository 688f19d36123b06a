/**
 * Pure parts of `apikey ci key`: mask commands, the $GITHUB_ENV entry
 * format, credential stripping, and metadata detection with an injected git.
 */
import {describe, expect, it} from 'vitest'
import {githubEnvEntry, maskCommands} from '../../src/services/ci/key.js'
import {detectBuildMetadata, stripCredentials} from '../../src/services/ci/metadata.js'

describe('ci key helpers', () => {
  it('maskCommands: one ::add-mask:: per non-empty line (a key with a newline, a very short key)', () => {
    expect(maskCommands('abc')).toEqual(['::add-mask::abc'])
    expect(maskCommands('first\nsecond\r\nthird\n')).toEqual(['::add-mask::first', '::add-mask::second', '::add-mask::third'])
  })

  it('githubEnvEntry: NAME=value, or a heredoc with a random delimiter for multi-line values', () => {
    expect(githubEnvEntry('API_KEY', 'ak_x')).toBe('API_KEY=ak_x\n')
    const entry = githubEnvEntry('API_KEY', 'a\nb')
    const m = /^API_KEY<<(ghadelimiter_[0-9a-f]{24})\na\nb\n(\S+)\n$/.exec(entry)
    expect(m?.[1]).toBe(m?.[2])
  })

  it('stripCredentials removes user info from URLs and keeps scp-like remotes', () => {
    expect(stripCredentials('https://u:p@git.example.com/o/r.git')).toBe('https://git.example.com/o/r.git')
    expect(stripCredentials('https://x-access-token:ghs_abc@github.com/o/r')).toBe('https://github.com/o/r')
    expect(stripCredentials('git@github.com:o/r.git')).toBe('git@github.com:o/r.git')
  })

  it('detectBuildMetadata: provider variables first, then git; --version over package.json; empty values ignored', async () => {
    const calls: string[][] = []
    const git = async (args: string[]) => {
      calls.push(args)
      return args[0] === 'rev-parse' && args[1] === 'HEAD' ? 'c0ffee' : args[1] === '--abbrev-ref' ? 'HEAD' : undefined
    }
    const gh = await detectBuildMetadata({
      env: {GITHUB_SHA: 'abc', GITHUB_REF_NAME: 'main', GITHUB_HEAD_REF: '', GITHUB_RUN_NUMBER: '7', GITHUB_RUN_ID: '99', GITHUB_RUN_ATTEMPT: '2', GITHUB_REPOSITORY: 'o/r'},
      cwd: '/nonexistent',
      ci: {id: 'GITHUB_ACTIONS', name: 'GitHub Actions'},
      git,
      version: '1.2.3',
    })
    expect(gh.metadata).toEqual({ciProvider: 'GitHub Actions', commit: 'abc', branch: 'main', build: '7', buildUrl: 'https://github.com/o/r/actions/runs/99/attempts/2', repository: 'https://github.com/o/r', version: '1.2.3'})
    expect(calls).toEqual([])

    // Unknown CI, detached HEAD: commit from git, no branch, no version without package.json.
    const other = await detectBuildMetadata({env: {}, cwd: '/nonexistent', ci: {id: null, name: null}, git})
    expect(other.metadata).toEqual({commit: 'c0ffee'})
    expect(other.sources).toEqual({commit: 'git'})
  })
})
