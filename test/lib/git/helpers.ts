import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

/** A real git repository in a temp directory, isolated from the machine's git configuration. */
export interface TestRepo {
  /** Work tree root (real path). */
  root: string
  /** A directory outside the repository (a fake HOME, also a place to run from). */
  home: string
  /** Environment for git: temp HOME and XDG config, no system config, empty global excludes. */
  env: NodeJS.ProcessEnv
  /** Runs git in the repository (or `cwd`) and returns stdout. */
  git(args: string[], cwd?: string): string
  /** Writes a file relative to the root (creating directories). */
  write(rel: string, content: string | Buffer): string
  /** Removes everything. */
  cleanup(): void
}

export function makeRepo(): TestRepo {
  const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'apikey-git-')))
  const root = path.join(base, 'repo')
  const home = path.join(base, 'home')
  mkdirSync(root)
  mkdirSync(path.join(home, '.config', 'git'), {recursive: true})
  const globalExcludes = path.join(home, 'global-excludes')
  writeFileSync(globalExcludes, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'),
  }
  writeFileSync(path.join(home, '.gitconfig'), '')
  const git = (args: string[], cwd = root): string => execFileSync('git', args, {cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  git(['init', '-q', '-b', 'main'])
  git(['config', 'user.name', 'Test'])
  git(['config', 'user.email', 'test@example.com'])
  git(['config', 'core.excludesFile', globalExcludes])
  return {
    root,
    home,
    env,
    git,
    write(rel, content) {
      const file = path.join(root, rel)
      mkdirSync(path.dirname(file), {recursive: true})
      writeFileSync(file, content)
      return file
    },
    cleanup() {
      rmSync(base, {recursive: true, force: true})
    },
  }
}
