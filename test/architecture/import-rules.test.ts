/**
 * The import rules of docs/architecture.md, checked with dependency-cruiser
 * (.dependency-cruiser.cjs): the source tree has no violation, and each rule
 * does catch a violating import (a small tree in a temp directory).
 */
import {execFile} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, describe, expect, it} from 'vitest'

const run = promisify(execFile)
const repoRoot = path.resolve(import.meta.dirname, '../..')
const depcruise = path.join(repoRoot, 'node_modules/.bin/depcruise')
const config = path.join(repoRoot, '.dependency-cruiser.cjs')

interface Violation {
  rule: {name: string}
  from: string
  to: string
}

/** Runs depcruise on `src` under `cwd`; returns its violations (it exits non-zero when there are any). */
async function cruise(cwd: string): Promise<Violation[]> {
  const result = await run(depcruise, ['src', '--config', config, '--output-type', 'json'], {cwd, maxBuffer: 64 * 1024 * 1024}).catch(
    (error: {stdout?: string; stderr?: string}) => {
      if (error.stdout === undefined || error.stdout === '') throw new Error(`depcruise failed: ${error.stderr ?? String(error)}`)
      return {stdout: error.stdout}
    },
  )
  return (JSON.parse(result.stdout) as {summary: {violations: Violation[]}}).summary.violations
}

const temp: string[] = []
afterAll(() => {
  for (const dir of temp) rmSync(dir, {recursive: true, force: true})
})

describe('import rules', () => {
  it('src/ follows every rule', async () => {
    const violations = await cruise(repoRoot)
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([])
  })

  it('each rule reports an import that breaks it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'apikey-import-rules-'))
    temp.push(dir)
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'))
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({type: 'module', devDependencies: {kysely: '*', 'proper-lockfile': '*'}}))
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({compilerOptions: {module: 'NodeNext', moduleResolution: 'NodeNext', strict: true}, include: ['src']}))
    const files: Record<string, string> = {
      'src/core/format.ts': "import {clock} from '../server/clock.js'\nexport const now = clock\n",
      'src/server/clock.ts': 'export const clock = 1\n',
      'src/server/services/users.ts': "import {Kysely} from 'kysely'\nexport const db = Kysely\n",
      'src/server/repositories/users.ts': "import {Kysely} from 'kysely'\nexport const db = Kysely\n",
      'src/lib/config.ts': "import {clock} from '../server/clock.js'\nexport const c = clock\n",
      'src/commands/server/start.ts': "import {clock} from '../../server/clock.js'\nexport const c = clock\n",
      'src/verify/verifier.ts': "import {c} from '../lib/config.js'\nimport lockfile from 'proper-lockfile'\nimport {now} from '../core/format.js'\nexport const v = [c, lockfile, now]\n",
      'src/services/init.ts': "import {missing} from './nowhere.js'\nexport const m = missing\n",
    }
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), {recursive: true})
      writeFileSync(path.join(dir, file), text)
    }
    const violations = await cruise(dir)
    expect(violations.map((v) => `${v.rule.name}: ${v.from}`).sort()).toEqual(
      [
        'cli-never-imports-the-service: src/lib/config.ts',
        'core-imports-nothing-of-ours: src/core/format.ts',
        'not-to-unresolvable: src/services/init.ts',
        'sql-only-in-repositories: src/server/services/users.ts',
        'verify-has-no-npm-dependencies: src/verify/verifier.ts',
        'verify-imports-only-core: src/verify/verifier.ts',
      ].sort(),
    )
  })
})
