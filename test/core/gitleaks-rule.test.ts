/**
 * docs/gitleaks.toml evaluated the way gitleaks evaluates a rule (gitleaks is not installable
 * here): the file is parsed as TOML; a finding needs one of the rule's keywords in the text
 * (case-insensitive), a match of the rule's regex, and no allowlist — the rule's own or a global
 * one, including one inherited through [extend] — that matches the secret. Keys whose app slug
 * contains "false", whose prefix starts with "true" or that end in "null" are found.
 */
import {readFileSync} from 'node:fs'
import {parse} from 'smol-toml'
import {describe, expect, it} from 'vitest'
import {generateKey, KEY_SCAN_PATTERN} from '../../src/core/key-format.js'

interface Allowlist {
  regexes?: string[]
  stopwords?: string[]
  regexTarget?: string
}
interface Rule {
  id: string
  regex: string
  keywords?: string[]
  allowlist?: Allowlist
  allowlists?: Allowlist[]
}
interface Config {
  extend?: {useDefault?: boolean; path?: string}
  allowlist?: Allowlist
  allowlists?: Allowlist[]
  rules: Rule[]
}

/**
 * The first entry of the global allowlist of gitleaks' default configuration (config/gitleaks.toml,
 * v8.x), as written there: an extending configuration inherits it.
 */
const DEFAULT_GLOBAL_ALLOWLIST: Allowlist = {regexes: ['(?i)^true|false|null$']}

/** A Go (RE2) expression as a JavaScript RegExp; a leading `(?i)` becomes the `i` flag. */
function goRegExp(source: string, flags = ''): RegExp {
  return source.startsWith('(?i)') ? new RegExp(source.slice(4), `${flags}i`) : new RegExp(source, flags)
}

function allowed(secret: string, lists: Allowlist[]): boolean {
  return lists.some(
    (list) =>
      (list.regexes ?? []).some((regex) => goRegExp(regex).test(secret)) || (list.stopwords ?? []).some((word) => secret.toLowerCase().includes(word.toLowerCase())),
  )
}

/** The secrets gitleaks reports for `text` under `config` (with `inherited` as the extended configuration's global allowlists). */
function findings(config: Config, text: string, inherited: Allowlist[] = []): string[] {
  const globals = [...(config.allowlist === undefined ? [] : [config.allowlist]), ...(config.allowlists ?? []), ...inherited]
  const out: string[] = []
  for (const rule of config.rules) {
    if (rule.keywords !== undefined && !rule.keywords.some((keyword) => text.toLowerCase().includes(keyword.toLowerCase()))) continue
    const own = [...(rule.allowlist === undefined ? [] : [rule.allowlist]), ...(rule.allowlists ?? [])]
    for (const match of text.matchAll(goRegExp(rule.regex, 'g'))) {
      if (!allowed(match[0], [...own, ...globals])) out.push(match[0])
    }
  }
  return out
}

const config = parse(readFileSync(new URL('../../docs/gitleaks.toml', import.meta.url), 'utf8')) as unknown as Config

/** A key-shaped value (the rule does not check the checksum) whose last four characters are "null". */
const ENDS_IN_NULL = `ak_weather-app_prod_${'Q7'.repeat(16)}null`

const TRICKY = [
  generateKey({prefix: 'ak', app: 'false-alarm', env: 'dev'}),
  generateKey({prefix: 'ak', app: 'isfalse', env: 'prod'}),
  generateKey({prefix: 'trueco', app: 'weather-app', env: 'ci'}),
  ENDS_IN_NULL,
]

describe('docs/gitleaks.toml', () => {
  it('has the one rule, with the exported pattern, and inherits no configuration (hence no global allowlist)', () => {
    expect(config.rules.map((rule) => rule.id)).toEqual(['apikey-api-key'])
    expect(config.rules[0]?.regex).toBe(KEY_SCAN_PATTERN.source)
    expect(config.extend).toBeUndefined()
  })

  it('finds keys whose slug contains "false", whose prefix starts with "true" or that end in "null"', () => {
    for (const key of TRICKY) expect(findings(config, `API_KEY=${key}\n`), key).toEqual([key])
  })

  it('the inherited default allowlist would have skipped exactly those keys (so extending the defaults is wrong)', () => {
    for (const key of TRICKY) expect(findings(config, `API_KEY=${key}\n`, [DEFAULT_GLOBAL_ALLOWLIST]), key).toEqual([])
    const plain = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
    expect(findings(config, `API_KEY=${plain}\n`, [DEFAULT_GLOBAL_ALLOWLIST])).toEqual([plain])
  })

  it('finds nothing in text without a key', () => {
    expect(findings(config, 'API_KEY=\nak_weather-app_live_' + 'a'.repeat(36) + '\n')).toEqual([])
  })
})
