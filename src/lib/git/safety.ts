/**
 * Is a file safe from being committed? Asked of git itself, never inferred
 * from `.gitignore` text.
 */
import {existsSync} from 'node:fs'
import {realpath} from 'node:fs/promises'
import path from 'node:path'

import {ApikeyError} from '../../core/errors.js'
import {GitSpawnError, type GitRunResult, runGit, type RunGitOptions} from './run.js'

/** Options shared by the git safety checks. */
export interface GitSafetyOptions {
  /** Directory a relative `filePath` is relative to (absolute; usually the process cwd). */
  cwd: string
  /** Environment for git (default `process.env`); repository-locating `GIT_*` variables are removed. */
  env?: NodeJS.ProcessEnv
  /** Time limit of each git call, in ms (default 10 000). */
  timeoutMs?: number
  /** The git executable (default `git` from PATH). */
  gitPath?: string
}

/** Where an ignore rule comes from. */
export type IgnoreRuleKind =
  /** A `.gitignore` file in the work tree: shared with everyone who clones (once committed). */
  | 'gitignore'
  /** `$GIT_DIR/info/exclude`: this clone only. */
  | 'info-exclude'
  /** The global `core.excludesFile` (default `~/.config/git/ignore`): this user only. */
  | 'global-excludes'

/** The ignore rule git reports as deciding for a path (`git check-ignore -v`). */
export interface IgnoreRule {
  /** The source file exactly as git names it (e.g. `.gitignore`, `.git/info/exclude`). */
  source: string
  /** The source file as an absolute path. */
  sourcePath: string
  /** 1-based line number in the source file. */
  line: number
  /** The pattern as written (a negation starts with `!`). */
  pattern: string
  /** Where the rule lives; only `gitignore` protects teammates. */
  kind: IgnoreRuleKind
}

/** Fields present on every verdict inside a repository. */
interface InRepo {
  /** Absolute path of the file as given (normalised; not resolved through a symlink at the file itself). */
  path: string
  /** Absolute path of the work tree's top directory (`git rev-parse --show-toplevel`). */
  repoRoot: string
  /** The file relative to `repoRoot`, `/`-separated (what git calls the path). */
  relativePath: string
}

/**
 * git's answer about one file:
 * - `not-a-repo`: the file's directory is not inside a git work tree;
 * - `unknown`: git could not tell (exit 128, timeout, dubious ownership…); `reason` says why;
 * - `tracked`: the file is in the index (committed or staged) — ignore rules do not apply to it;
 *   `alsoIgnored` says whether a rule would ignore it once untracked;
 * - `ignored`: an ignore rule applies; `personalOnly` when that rule is in `.git/info/exclude`
 *   or the global excludes file, so teammates' clones are not protected;
 * - `not-ignored`: nothing ignores it; `negatedBy` is a `!pattern` that re-includes it, if any.
 */
export type GitSafetyVerdict =
  | {state: 'not-a-repo'; path: string}
  | {state: 'unknown'; path: string; reason: string}
  | (InRepo & {state: 'tracked'; alsoIgnored: boolean})
  | (InRepo & {state: 'ignored'; rule: IgnoreRule; personalOnly: boolean})
  | (InRepo & {state: 'not-ignored'; negatedBy?: IgnoreRule})

/**
 * Turns a user-given path into an absolute one: backslashes are taken as
 * directory separators (a Windows-style `sub\.env` typed on any platform),
 * and a relative path is resolved against `cwd`.
 */
export function normaliseInputPath(filePath: string, cwd: string): string {
  return path.resolve(cwd, filePath.replace(/\\/g, '/'))
}

/** Does any ancestor directory of `dir` (or `dir` itself) hold a `.git` entry? */
function insideGitCheckout(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return true
    if (path.dirname(d) === d) return false
  }
}

/** Describes a failed git call in one line. */
function describeFailure(result: GitRunResult, what: string): string {
  if (result.timedOut) return `git ${what} did not answer in time`
  return `git ${what} exited with status ${result.status}${result.stderr ? `: ${result.stderr.split('\n')[0]}` : ''}`
}

/** Location facts about a file inside a work tree, or a verdict when there is none. */
export type RepoLocation = InRepo | Extract<GitSafetyVerdict, {state: 'not-a-repo' | 'unknown'}>

/**
 * Finds the work tree holding `filePath` and the file's repo-root-relative
 * path (same answer from any working directory, for `./.env`, absolute
 * paths or backslashes). The file need not exist; its directory must.
 *
 * @throws ApikeyError `io` when the file's directory does not exist
 */
export async function locateInRepo(filePath: string, options: GitSafetyOptions): Promise<RepoLocation> {
  const absolute = normaliseInputPath(filePath, options.cwd)
  let dir: string
  try {
    dir = await realpath(path.dirname(absolute))
  } catch (error) {
    throw new ApikeyError(`Cannot check ${absolute} with git: its directory ${path.dirname(absolute)} does not exist.`, {
      code: 'io',
      cause: error,
      details: {path: absolute},
      suggestions: ['Run the command from your project directory, or create the directory first.'],
    })
  }
  const run: RunGitOptions = {cwd: dir, env: options.env, timeoutMs: options.timeoutMs, gitPath: options.gitPath}
  let top: GitRunResult
  try {
    top = await runGit(['rev-parse', '--show-toplevel'], run)
  } catch (error) {
    if (error instanceof GitSpawnError) {
      if (!insideGitCheckout(dir)) return {state: 'not-a-repo', path: absolute}
      return {state: 'unknown', path: absolute, reason: `git is needed to check this git checkout but could not be run (${error.errno ?? error.message})`}
    }
    throw error
  }
  if (top.status !== 0 || top.timedOut) {
    if (top.status === 128 && /not a git repository/i.test(top.stderr)) return {state: 'not-a-repo', path: absolute}
    return {state: 'unknown', path: absolute, reason: describeFailure(top, 'rev-parse --show-toplevel')}
  }
  const repoRoot = top.stdout.replace(/\n$/, '')
  if (repoRoot === '') return {state: 'unknown', path: absolute, reason: `${dir} is inside a git directory, not a work tree`}
  const relativePath = path.relative(repoRoot, path.join(dir, path.basename(absolute))).split(path.sep).join('/')
  if (relativePath === '' || relativePath.startsWith('../') || relativePath === '..' || path.isAbsolute(relativePath)) {
    return {state: 'unknown', path: absolute, reason: `${absolute} is not inside the work tree ${repoRoot}`}
  }
  return {path: absolute, repoRoot, relativePath}
}

/** Options for git calls at the repository root. */
function atRoot(repoRoot: string, options: GitSafetyOptions): RunGitOptions {
  return {cwd: repoRoot, env: options.env, timeoutMs: options.timeoutMs, gitPath: options.gitPath}
}

/**
 * Is `relativePath` in the index (committed or staged)? Uses
 * `git ls-files -z --cached -- <path>` with literal pathspecs.
 *
 * @returns `true`/`false`, or a reason string when git could not tell
 */
export async function isTracked(repoRoot: string, relativePath: string, options: GitSafetyOptions): Promise<boolean | string> {
  const result = await runGit(['ls-files', '-z', '--cached', '--', relativePath], atRoot(repoRoot, options))
  if (result.status !== 0 || result.timedOut) return describeFailure(result, 'ls-files')
  return result.stdout.split('\0').includes(relativePath)
}

/**
 * Describes the rule git matches for one path (`git check-ignore --stdin -z
 * -v -n --no-index`, one path). Only describes: with `-v` git exits 0 even for
 * a `!` negation, so the decision is made by {@link checkGitSafety}
 * from the exit status of a query without `-v`.
 *
 * @returns the last matching rule (possibly a negation), or `undefined`
 */
export async function describeIgnoreRule(repoRoot: string, relativePath: string, options: GitSafetyOptions): Promise<IgnoreRule | undefined> {
  const run = atRoot(repoRoot, options)
  const result = await runGit(['check-ignore', '--stdin', '-z', '-v', '-n', '--no-index'], {...run, input: `${relativePath}\0`, literalPathspecs: false})
  if (result.status !== 0 && result.status !== 1) return undefined
  const [source = '', line = '', pattern = ''] = result.stdout.split('\0')
  if (source === '') return undefined
  const sourcePath = path.resolve(repoRoot, source)
  const exclude = await runGit(['rev-parse', '--git-path', 'info/exclude'], run)
  const excludePath = exclude.status === 0 ? path.resolve(repoRoot, exclude.stdout.replace(/\n$/, '')) : path.join(repoRoot, '.git/info/exclude')
  const inTree = !path.relative(repoRoot, sourcePath).startsWith('..') && !path.isAbsolute(path.relative(repoRoot, sourcePath))
  const kind: IgnoreRuleKind =
    sourcePath === excludePath ? 'info-exclude' : inTree && path.basename(sourcePath) === '.gitignore' ? 'gitignore' : 'global-excludes'
  return {source, sourcePath, line: Number(line), pattern, kind}
}

/**
 * Asks git whether the file at `filePath` is safe from being committed:
 * finds the work tree, then — in this order, because tracking
 * wins over ignore rules — whether the file is tracked, then whether
 * it is ignored. The ignore decision is the exit status of
 * `git check-ignore -q --no-index -- <path>` for that one path (0 ignored,
 * 1 not ignored, anything else: cannot tell); `-v` output only
 * describes the rule.
 *
 * git runs without a shell, with `-c core.quotepath=off`, literal pathspecs,
 * a time limit, and without `GIT_DIR`-like variables from the environment.
 *
 * @param filePath - the file (need not exist), relative to `options.cwd` or absolute; `\` is read as `/`
 * @returns the verdict; never throws for git failures (they become `unknown`)
 * @throws ApikeyError `io` when the file's directory does not exist
 */
export async function checkGitSafety(filePath: string, options: GitSafetyOptions): Promise<GitSafetyVerdict> {
  const location = await locateInRepo(filePath, options)
  if ('state' in location) return location
  const {repoRoot, relativePath} = location

  const tracked = await isTracked(repoRoot, relativePath, options)
  if (typeof tracked === 'string') return {state: 'unknown', path: location.path, reason: tracked}

  const query = await runGit(['check-ignore', '-q', '--no-index', '--', relativePath], {...atRoot(repoRoot, options), literalPathspecs: false})
  if (query.timedOut || (query.status !== 0 && query.status !== 1)) {
    return {state: 'unknown', path: location.path, reason: describeFailure(query, 'check-ignore')}
  }
  const ignored = query.status === 0
  if (tracked) return {...location, state: 'tracked', alsoIgnored: ignored}

  const rule = await describeIgnoreRule(repoRoot, relativePath, options)
  if (ignored) {
    if (!rule || rule.pattern.startsWith('!')) {
      // Ignored per exit status, but no describable rule: still ignored (the decision is the exit status).
      const unknownRule: IgnoreRule = {source: '', sourcePath: '', line: 0, pattern: '', kind: 'gitignore'}
      return {...location, state: 'ignored', rule: rule ?? unknownRule, personalOnly: false}
    }
    return {...location, state: 'ignored', rule, personalOnly: rule.kind !== 'gitignore'}
  }
  return rule && rule.pattern.startsWith('!') ? {...location, state: 'not-ignored', negatedBy: rule} : {...location, state: 'not-ignored'}
}
