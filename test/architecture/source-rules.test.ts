/**
 * Rules about source text that an import graph cannot see (docs/architecture.md):
 * constants (key environments, token prefixes) come from src/core and are not
 * restated, exit codes are named constants of src/core/errors.ts, never bare
 * numbers, and comments, docs and test names refer only to what is in the
 * repository (they state the rule, not a case id of a document kept elsewhere).
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

const repoRoot = path.resolve(import.meta.dirname, '../..')

/** Files under `dir` whose names match `ext`, as repository-relative paths. */
function filesUnder(dir: string, ext: RegExp): string[] {
  return (readdirSync(path.join(repoRoot, dir), {recursive: true}) as string[])
    .map((f) => path.join(dir, f).split(path.sep).join('/'))
    .filter((f) => ext.test(f) && !f.includes('/node_modules/'))
}

/** Every .ts file under src/, as repository-relative paths. */
function sourceFiles(): string[] {
  return filesUnder('src', /\.ts$/)
}

/** Code lines of a file (comment lines dropped), numbered from 1. */
function codeLines(text: string): Array<[number, string]> {
  return text
    .split('\n')
    .map((line, i): [number, string] => [i + 1, line])
    .filter(([, line]) => !/^\s*(\/\/|\/\*|\*)/.test(line))
}

interface Rule {
  name: string
  pattern: RegExp
  /** Files the rule does not apply to: the single source of the constant, and frozen migrations. */
  exempt: RegExp
  /** A line the rule must catch (so this test can fail). */
  example: string
}

const RULES: Rule[] = [
  {
    name: 'key environments listed outside src/core (use KEY_ENVIRONMENTS)',
    pattern: /\bdev\|test\|stage\|prod\|ci\b|['"]dev['"],\s*['"]test['"],\s*['"]stage['"]/,
    exempt: /^src\/core\/|^src\/server\/db\/migrations\//,
    example: "env: Flags.string({options: ['dev', 'test', 'stage', 'prod', 'ci']}),",
  },
  {
    name: 'token prefix restated outside src/core (use SESSION_/PROVISIONING_/VERIFIER_TOKEN_PREFIX)',
    pattern: /ak\[spv?\]_|\^?ak[spv]_\[|\^ak[spv]_|['"`]ak[spv]_['"`]/,
    exempt: /^src\/core\//,
    example: 'export const SESSION_TOKEN_PATTERN = /^aks_[0-9A-Za-z]{40}$/',
  },
  {
    name: 'default key variable restated outside src/core (use DEFAULT_KEY_ENV_VAR)',
    pattern: /['"`]API_KEY['"`]|--var API_KEY/,
    exempt: /^src\/core\//,
    example: "  const variable = str('variable') ?? 'API_KEY'",
  },
  {
    name: 'bare exit code (use ExitCode / ChildExitCode from src/core/errors.ts)',
    pattern: /exitCode:\s*\d|setExitCode\(\s*\d|exitCode\s*[!=]==?\s*\d|process\.exit\(\s*[1-9]/,
    exempt: /^src\/core\/errors\.ts$/,
    example: "      code: 'not_found',      exitCode: 4,",
  },
]

describe('source rules', () => {
  it.each(RULES)('$name: none in src/', (rule) => {
    expect(rule.pattern.test(rule.example)).toBe(true)
    const found: string[] = []
    for (const file of sourceFiles()) {
      if (rule.exempt.test(file)) continue
      for (const [n, line] of codeLines(readFileSync(path.join(repoRoot, file), 'utf8'))) {
        if (rule.pattern.test(line)) found.push(`${file}:${n}: ${line.trim()}`)
      }
    }
    expect(found).toEqual([])
  })
})

/** Ids of documents that are not in the repository (design sections, field and service cases, trial findings, issues). */
const OUTSIDE_REFERENCE = new RegExp(['design §\\d', '\\b(?:FC|SC)-\\d\\d', 'trial finding', '\\bfindings? \\d', '\\bissue #?\\d'].join('|'), 'i')

describe('references', () => {
  it('comments, docs and test names state the rule instead of citing documents outside the repository', () => {
    expect(OUTSIDE_REFERENCE.test(' * Safe writes of a `.env` file (design §6; FC-01 … FC-10).')).toBe(true)
    const self = 'test/architecture/source-rules.test.ts'
    const files = [
      ...['src', 'test', 'bench', 'examples', 'scripts', 'docs'].flatMap((dir) => filesUnder(dir, /\.(ts|mts|cts|js|mjs|cjs|md|sh|conf)$/)),
      'README.md',
    ].filter((f) => f !== self)
    const found: string[] = []
    for (const file of files) {
      readFileSync(path.join(repoRoot, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE_REFERENCE.test(line)) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`)
        })
    }
    expect(found).toEqual([])
  })

  it('test files are named after the behaviour they cover, not after where a finding came from', () => {
    expect(filesUnder('test', /(^|\/)trial-[^/]*$/)).toEqual([])
  })
})
