/** Real git repositories in temp directories. */
import {execFileSync} from 'node:child_process'
import {writeFile} from 'node:fs/promises'
import {tempDir} from './temp.js'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** Runs git in `cwd` with a config isolated from the machine's. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com'},
  })
}

/** Creates a git repository with a package.json and one commit. */
export async function makeRepo(name = 'weather-app'): Promise<string> {
  const dir = await tempDir('apikey-repo-')
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'config', 'core.excludesFile', join(dir, '.git', 'no-global-excludes'))
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({name, version: '1.0.0'}, null, 2)}\n`)
  git(dir, 'add', 'package.json')
  git(dir, 'commit', '-q', '-m', 'initial')
  return dir
}
