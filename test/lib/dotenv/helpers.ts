import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

/**
 * Reads variables the way a POSIX shell does when it sources the file
 * (`set -a; . ./.env`), using the system `/bin/sh` (dash on Debian).
 * Returns one value per name, `undefined` when unset.
 */
export function readWithShell(text: string, names: string[]): Array<string | undefined> {
  const dir = mkdtempSync(path.join(tmpdir(), 'apikey-sh-'))
  try {
    const file = path.join(dir, '.env')
    writeFileSync(file, text)
    // Each value is printed as <set-flag><value>NUL.
    const script = 'set -a; . "$1"; shift; for n in "$@"; do eval "if [ \\"\\${$n+x}\\" = x ]; then printf \'1%s\\0\' \\"\\$$n\\"; else printf \'0\\0\'; fi"; done'
    const out = execFileSync('/bin/sh', ['-c', script, 'sh', file, ...names], {encoding: 'utf8', env: {PATH: process.env.PATH ?? '/usr/bin:/bin'}})
    const parts = out.split('\0').slice(0, names.length)
    return parts.map((p) => (p.startsWith('1') ? p.slice(1) : undefined))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** Splits text into lines, each with its terminator (`\r\n`, `\n`, `\r` or none for the last). */
export function linesWithTerminators(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []
}
