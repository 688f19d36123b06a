/**
 * One problem type has one title (RFC 9457 §3.1): across the key service's error table, the
 * verifier library's answers and the problem bodies of examples/nginx/nginx.conf, every type URI
 * is always given the same title.
 */
import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {KEY_PROBLEMS, problemTypeUri} from '../../src/core/problem-types.js'
import {SERVICE_UNAVAILABLE_TITLE} from '../../src/server/app.js'
import {PROBLEM_STATUS, problemType} from '../../src/server/problems.js'
import {problemFor, type Verdict} from '../../src/verify/index.js'

const NGINX = readFileSync(new URL('../../examples/nginx/nginx.conf', import.meta.url), 'utf8')

/** (type, title) pairs of the nginx example: literal bodies, and the 401 body's map of problem → title. */
function nginxPairs(): Array<[string, string, string]> {
  const pairs: Array<[string, string, string]> = []
  for (const match of NGINX.matchAll(/"type":"(tag:[^"$]+)","title":"([^"$]+)"/g)) pairs.push([match[1] ?? '', match[2] ?? '', 'nginx literal'])
  const titles = /map \$apikey_problem \$apikey_title \{([^}]*)\}/.exec(NGINX)?.[1] ?? ''
  const problems = /map "\$apikey_code:[^"]*" \$apikey_problem \{([^}]*)\}/.exec(NGINX)?.[1] ?? ''
  const titleOf = new Map([...titles.matchAll(/^\s*(\S+)\s+"([^"]+)";/gm)].map((m) => [m[1] ?? '', m[2] ?? '']))
  for (const m of problems.matchAll(/^\s*\S+\s+(\w+);/gm)) {
    const problem = m[1] ?? ''
    pairs.push([problemTypeUri(problem), titleOf.get(problem) ?? titleOf.get('default') ?? '', 'nginx 401 map'])
  }
  expect(NGINX).toContain('"type":"tag:apikey,2025:problem:$apikey_problem","title":"$apikey_title"')
  return pairs
}

function verdict(code: string, message = 'x'): Verdict {
  return {valid: false, code: code as Verdict['code'], app: null, team: null, env: null, keyId: null, expiresAt: null, rateLimit: null, message, suggestions: [], docsUrl: '', source: 'service'}
}

describe('problem types', () => {
  it('each type URI has exactly one title across the service, the verifier library and the nginx example', () => {
    const pairs: Array<[string, string, string]> = [
      ...Object.entries(PROBLEM_STATUS).map(([code, row]): [string, string, string] => [problemType(code as keyof typeof PROBLEM_STATUS), row.title, 'service']),
      [problemTypeUri('service_unavailable'), SERVICE_UNAVAILABLE_TITLE, 'service 503'],
      ...['MALFORMED', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE'].map((code): [string, string, string] => {
        const body = problemFor(verdict(code))?.body
        return [body?.type ?? '', body?.title ?? '', 'verifier library']
      }),
      ...(() => {
        const body = problemFor({...verdict('MALFORMED', 'missing key: send…'), source: 'local'})?.body
        return [[body?.type ?? '', body?.title ?? '', 'verifier library'] as [string, string, string]]
      })(),
      ...nginxPairs(),
    ]
    const titles = new Map<string, Set<string>>()
    for (const [type, title] of pairs) titles.set(type, (titles.get(type) ?? new Set()).add(title))
    const conflicts = [...titles].filter(([, set]) => set.size > 1).map(([type, set]) => `${type}: ${[...set].join(' | ')}`)
    expect(conflicts).toEqual([])
    // The nginx example covers every key problem, each with the library's title.
    for (const [code, {title}] of Object.entries(KEY_PROBLEMS)) expect(titles.get(problemTypeUri(code)), code).toEqual(new Set([title]))
    expect(titles.has(problemTypeUri('unauthenticated'))).toBe(true)
    expect([...titles.get(problemTypeUri('unauthenticated')) ?? []]).toEqual(['Not authenticated'])
  })
})
