/**
 * Default answers for `apikey init`, guessed from the project: package.json
 * name, the git remote's repository name, the directory name.
 */
import {execFile} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {basename, join} from 'node:path'
import {promisify} from 'node:util'
import {isValidSlug} from '../core/key-format.js'

const run = promisify(execFile)

/**
 * Turns any name into a slug candidate: lower case, runs of other characters
 * to `-`, no leading/trailing `-`, at most 32 characters.
 * @returns a valid slug, or undefined when nothing usable is left.
 */
export function slugify(name: string): string | undefined {
  const slug = name
    .replace(/^@[^/]+\//, '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/g, '')
  return isValidSlug(slug) ? slug : undefined
}

/** "weather-app" → "Weather App". */
export function titleFromSlug(slug: string): string {
  return slug
    .split('-')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(' ')
}

/** Candidate app slugs, best first, without duplicates. */
export async function guessAppSlugs(dir: string): Promise<string[]> {
  const out: string[] = []
  const add = (s: string | undefined) => {
    if (s !== undefined && !out.includes(s)) out.push(s)
  }
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {name?: unknown}
    if (typeof pkg.name === 'string') add(slugify(pkg.name))
  } catch {
    // no or unreadable package.json: other guesses follow
  }
  try {
    const {stdout} = await run('git', ['config', '--get', 'remote.origin.url'], {cwd: dir, timeout: 3000})
    const repo = stdout.trim().replace(/\.git$/, '').split(/[/:]/).pop()
    if (repo) add(slugify(repo))
  } catch {
    // not a repository or no origin
  }
  add(slugify(basename(dir)))
  return out
}
