/**
 * Rules about source text that an import graph cannot see (docs/architecture.md):
 * constants (key environments, token prefixes) come from src/core and are not
 * restated, and exit codes are named constants of src/core/errors.ts, never
 * bare numbers.
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

const repoRoot = path.resolve(import.meta.dirname, '../..')

/** Every .ts file under src/, as repository-relative paths. */
function sourceFiles(): string[] {
  return (readdirSync(path.join(repoRoot, 'src'), {recursive: true}) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join('src', f).split(path.sep).join('/'))
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
