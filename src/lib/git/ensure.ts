/**
 * Making sure a secrets file stays out of git: refuse
 * when it is tracked, add the narrowest `.gitignore` rule when it is not
 * ignored (with consent), and check again with git.
 */
import {appendFile, lstat, readFile} from 'node:fs/promises'
import path from 'node:path'

import {ApikeyError} from '../../core/errors.js'
import {checkGitSafety, type GitSafetyOptions, type GitSafetyVerdict, type IgnoreRule, isTracked} from './safety.js'

/** Options of {@link ensureIgnored}. */
export interface EnsureIgnoredOptions extends GitSafetyOptions {
  /**
   * Consent to append a rule to the repository's `.gitignore`: `true`
   * (e.g. `--yes`), `false` (no TTY and no `--yes`), or a function asked only
   * when a rule is actually needed (an interactive prompt).
   */
  mayEditGitignore: boolean | (() => Promise<boolean>)
  /** Whether editing `.gitignore` is allowed at all (`false` for `--no-gitignore`). */
  allowGitignoreEdit: boolean
}

/** The `.gitignore` line {@link ensureIgnored} added. */
export interface AddedGitignoreRule {
  /** Absolute path of the `.gitignore` written (the repository root's). */
  file: string
  /** The exact line added, without terminator (e.g. `/.env`). */
  line: string
  /** Its 1-based line number in `file`. */
  lineNumber: number
  /** Whether `file` was created. */
  created: boolean
}

/** Result of {@link ensureIgnored}. */
export interface EnsureIgnoredResult {
  /** git's final verdict (after adding a rule, the re-check): `ignored` or `not-a-repo`. */
  verdict: GitSafetyVerdict
  /** Present when a rule was appended to `.gitignore`. */
  addedRule?: AddedGitignoreRule
  /** Things the user should know, one sentence each (personal-only rules, ineffective lines, uncommitted `.gitignore`…). */
  warnings: string[]
}

/**
 * The narrowest `.gitignore` rule for one file, for the `.gitignore` at the
 * repository root: the path anchored with a leading `/` (so `/.env` matches
 * only the root `.env`, never `.env.example` or `sub/.env`), with
 * gitignore's special characters (`\ * ? [ ]`, trailing spaces) escaped by a
 * backslash as gitignore(5) specifies.
 *
 * @param relativePath - `/`-separated path relative to the repository root
 */
export function gitignoreRuleFor(relativePath: string): string {
  const escaped = relativePath.replace(/[\\*?[\]]/g, (c) => `\\${c}`).replace(/ +$/, (spaces) => spaces.replace(/ /g, '\\ '))
  return `/${escaped}`
}

/** Quotes a word for a POSIX shell command line (only when needed). */
function shellWord(word: string): string {
  return /^[\w./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** Kind of encoding problem git has with a `.gitignore`, if any. */
function encodingProblem(bytes: Buffer): string | undefined {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return 'is UTF-16 encoded (it starts with a UTF-16 byte order mark)'
  if (bytes.includes(0)) return 'contains NUL bytes (probably UTF-16 encoded)'
  return undefined
}

/** Reads a file; `undefined` when missing. */
async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined
    throw error
  }
}

/**
 * Hints (never decisions) about `.gitignore` lines that look meant for the
 * file but that git does not apply. Called only after git said
 * the file is not ignored; scans the `.gitignore` of the root and of every
 * directory down to the file.
 */
export async function explainIneffectiveRules(repoRoot: string, relativePath: string): Promise<string[]> {
  const hints: string[] = []
  const parts = relativePath.split('/')
  const base = parts.at(-1) as string
  for (let depth = 0; depth < parts.length; depth++) {
    const dirRel = parts.slice(0, depth).join('/')
    const ignoreFile = path.join(repoRoot, dirRel, '.gitignore')
    const shown = dirRel ? `${dirRel}/.gitignore` : '.gitignore'
    const bytes = await readOptional(ignoreFile).catch(() => undefined)
    if (!bytes) continue
    const encoding = encodingProblem(bytes)
    if (encoding) {
      hints.push(`${shown} ${encoding}; git reads .gitignore files as UTF-8, so none of its rules apply. Convert it, e.g.: iconv -f UTF-16 -t UTF-8 ${shellWord(shown)} > ${shellWord(`${shown}.tmp`)} && mv ${shellWord(`${shown}.tmp`)} ${shellWord(shown)}`)
      continue
    }
    const text = bytes.toString('utf8')
    if (text.includes('\r') && !text.includes('\n')) {
      hints.push(`${shown} uses CR-only line endings; git splits lines at LF only, so it reads the whole file as one pattern. Convert it to LF or CRLF line endings.`)
      continue
    }
    const fromDir = parts.slice(depth).join('/')
    text.split('\n').forEach((raw, index) => {
      const line = raw.replace(/\r$/, '').replace(/(?<!\\)\s+$/, '')
      if (line === '' || line.startsWith('#') || line.startsWith('!')) return
      const slashed = line.replace(/\\(?![*?[\] #!])/g, '/')
      let core = slashed
      while (core.startsWith('./')) core = core.slice(2)
      core = core.replace(/^\/+/, '').replace(/^\*\*\//, '')
      if (core !== base && core !== fromDir) return
      const reasons: string[] = []
      if (/^(\.\/)+/.test(slashed)) reasons.push(`git does not understand a leading "./"; write /${core} instead`)
      if (slashed !== line) reasons.push('git uses "/" as the directory separator, not "\\"')
      if (reasons.length === 0) {
        if (core === base && fromDir !== base && line.startsWith('/')) reasons.push(`a leading "/" anchors it to ${dirRel || 'the repository root'}, so it does not match ${relativePath}`)
        else reasons.push('a later rule, or a rule in a deeper .gitignore, overrides it')
      }
      hints.push(`${shown}:${index + 1} "${raw.replace(/\r$/, '')}" looks meant for ${relativePath} but git does not apply it: ${reasons.join('; ')}.`)
    })
  }
  return hints
}

/** Sentence about a rule's location, e.g. `.gitignore:3 ".env"`. */
function describeRule(rule: IgnoreRule): string {
  return `${rule.source}:${rule.line} "${rule.pattern}"`
}

/** Warning when the `.gitignore` holding the deciding rule is not committed. */
async function uncommittedWarning(repoRoot: string, gitignorePath: string, options: GitSafetyOptions): Promise<string | undefined> {
  const rel = path.relative(repoRoot, gitignorePath).split(path.sep).join('/')
  const tracked = await isTracked(repoRoot, rel, options)
  if (tracked === false) {
    return `${rel} is not committed yet: commit it so that teammates' clones ignore the file too (git add ${shellWord(rel)} && git commit -m "Ignore secrets").`
  }
  return undefined
}

/**
 * Makes sure git will not commit the file at `filePath`:
 *
 * - not in a repository → returns with a warning (nothing to protect it later);
 * - git cannot tell (`unknown`) → throws `unsafe`;
 * - tracked → throws `unsafe` (exit 5) with the fix: `git rm --cached`,
 *   commit, and rotate the exposed key; nothing is changed;
 * - ignored → returns; warns when only `.git/info/exclude` or the global
 *   excludes file ignores it (teammates unprotected) or the `.gitignore` is
 *   not committed;
 * - not ignored → with consent, appends the narrowest rule
 *   ({@link gitignoreRuleFor}, e.g. `/.env`) to the `.gitignore` at the
 *   repository root (created if missing; its CRLF/LF line endings kept; a
 *   terminator added first when its last line lacks one), asks git again and
 *   throws if git still does not ignore the file. Without consent or with
 *   edits disallowed it throws `unsafe` naming the exact line to add.
 *   Lines that look meant for the file but are not effective (`./.env`, a
 *   UTF-16 `.gitignore`…) are pointed out in `warnings`.
 *
 * @param filePath - the secrets file, relative to `options.cwd` or absolute
 * @throws ApikeyError `unsafe` (exit 5) as above; `io` when `.gitignore`
 *   cannot be read or written or the file's directory does not exist
 */
export async function ensureIgnored(filePath: string, options: EnsureIgnoredOptions): Promise<EnsureIgnoredResult> {
  const verdict = await checkGitSafety(filePath, options)
  const warnings: string[] = []

  switch (verdict.state) {
    case 'not-a-repo':
      warnings.push(
        `${verdict.path} is not inside a git repository, so nothing keeps it out of version control; if you create a repository here, add ${path.basename(verdict.path)} to its .gitignore before the first commit.`,
      )
      return {verdict, warnings}

    case 'unknown':
      throw new ApikeyError(`Cannot tell whether git would commit ${verdict.path}: ${verdict.reason}.`, {
        code: 'unsafe',
        details: {path: verdict.path, reason: verdict.reason},
        suggestions: [
          `Check the repository with: git -C ${shellWord(path.dirname(verdict.path))} status`,
          'Or store the key in the OS keychain instead (--store keychain).',
        ],
      })

    case 'tracked': {
      const rel = verdict.relativePath
      const rule = gitignoreRuleFor(rel)
      throw new ApikeyError(
        `Refusing to write ${rel}: it is tracked by git (committed or staged), so a key written there would be committed. Ignore rules do not apply to tracked files${verdict.alsoIgnored ? ', even though .gitignore lists it' : ''}.`,
        {
          code: 'unsafe',
          details: {path: verdict.path, repoRoot: verdict.repoRoot, relativePath: rel, alsoIgnored: verdict.alsoIgnored},
          suggestions: [
            `Stop tracking it (the file stays on disk): git -C ${shellWord(verdict.repoRoot)} rm --cached -- ${shellWord(rel)}`,
            ...(verdict.alsoIgnored ? [] : [`Ignore it: add the line ${rule} to ${path.join(verdict.repoRoot, '.gitignore')}`]),
            `Commit: git -C ${shellWord(verdict.repoRoot)} commit -m "Stop tracking ${rel}"`,
            `Rotate every key that was ever in ${rel}: it remains in the git history (issue a new one with apikey init, then revoke the old one on the key service).`,
          ],
        },
      )
    }

    case 'ignored': {
      if (verdict.personalOnly) {
        const where = verdict.rule.kind === 'info-exclude' ? 'this clone\'s .git/info/exclude' : 'your global excludes file (core.excludesFile)'
        warnings.push(
          `${verdict.relativePath} is ignored only by ${where} (${describeRule(verdict.rule)}), which protects this machine only: teammates' clones could commit it. Add ${gitignoreRuleFor(verdict.relativePath)} to ${path.join(verdict.repoRoot, '.gitignore')} and commit it.`,
        )
      } else if (verdict.rule.sourcePath) {
        const uncommitted = await uncommittedWarning(verdict.repoRoot, verdict.rule.sourcePath, options)
        if (uncommitted) warnings.push(uncommitted)
      }
      return {verdict, warnings}
    }

    case 'not-ignored':
      break
  }

  // Not ignored: explain ineffective lines, then add the narrowest rule.
  const {repoRoot, relativePath} = verdict
  if (verdict.negatedBy) {
    warnings.push(`${describeRule(verdict.negatedBy)} re-includes ${relativePath}; remove that line unless you mean to commit the file.`)
  }
  warnings.push(...(await explainIneffectiveRules(repoRoot, relativePath)))
  const gitignorePath = path.join(repoRoot, '.gitignore')
  const rule = gitignoreRuleFor(relativePath)
  const refuse = (why: string): ApikeyError =>
    new ApikeyError(`${relativePath} is not ignored by git, so a key written there could be committed; ${why}.`, {
      code: 'unsafe',
      details: {path: verdict.path, repoRoot, relativePath, gitignore: gitignorePath, line: rule, hints: warnings},
      suggestions: [
        `Add this line to ${gitignorePath}: ${rule}`,
        `For example: printf '%s\\n' ${shellWord(rule)} >> ${shellWord(gitignorePath)}`,
        ...warnings,
        'Or store the key in the OS keychain instead (--store keychain).',
      ],
    })

  if (!options.allowGitignoreEdit) throw refuse('editing .gitignore is turned off (--no-gitignore)')

  let bytes: Buffer | undefined
  try {
    const info = await lstat(gitignorePath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    })
    if (info && !info.isFile()) throw refuse(`${gitignorePath} is not a regular file, so it was not edited`)
    bytes = info ? await readFile(gitignorePath) : undefined
  } catch (error) {
    if (error instanceof ApikeyError) throw error
    throw new ApikeyError(`Cannot read ${gitignorePath}: ${(error as Error).message}.`, {code: 'io', cause: error, details: {path: gitignorePath}})
  }
  const encoding = bytes ? encodingProblem(bytes) : undefined
  if (encoding) throw refuse(`${gitignorePath} ${encoding}, which git does not read, so a line was not added to it — convert it to UTF-8 first`)

  const consent = typeof options.mayEditGitignore === 'function' ? await options.mayEditGitignore() : options.mayEditGitignore
  if (!consent) throw refuse('adding it to .gitignore was declined or needs confirmation (--yes)')

  const text = bytes ? bytes.toString('utf8') : ''
  const crlf = (text.match(/\r\n/g) ?? []).length
  const lf = (text.match(/\n/g) ?? []).length - crlf
  const eol = crlf > 0 && crlf >= lf ? '\r\n' : '\n'
  const lead = text.length > 0 && !text.endsWith('\n') ? eol : ''
  try {
    await appendFile(gitignorePath, `${lead}${rule}${eol}`, 'utf8')
  } catch (error) {
    throw new ApikeyError(`Cannot write ${gitignorePath}: ${(error as Error).message}.`, {
      code: 'io',
      cause: error,
      details: {path: gitignorePath},
      suggestions: [`Add the line ${rule} to ${gitignorePath} by hand and run the command again.`],
    })
  }
  const lineNumber = (text + lead).split('\n').length
  const addedRule: AddedGitignoreRule = {file: gitignorePath, line: rule, lineNumber, created: bytes === undefined}

  const after = await checkGitSafety(verdict.path, options)
  if (after.state !== 'ignored') {
    const why = after.state === 'not-ignored' && after.negatedBy ? `${describeRule(after.negatedBy)} re-includes it` : `git says ${after.state}`
    throw new ApikeyError(`Added ${rule} to ${gitignorePath} (line ${lineNumber}), but git still does not ignore ${relativePath}: ${why}.`, {
      code: 'unsafe',
      details: {path: verdict.path, addedRule, verdict: after},
      suggestions: [`Check with: git -C ${shellWord(repoRoot)} check-ignore -v --no-index -- ${shellWord(relativePath)}`, ...warnings],
    })
  }
  const uncommitted = await uncommittedWarning(repoRoot, gitignorePath, options)
  if (uncommitted) warnings.push(uncommitted)
  return {verdict: after, addedRule, warnings}
}
