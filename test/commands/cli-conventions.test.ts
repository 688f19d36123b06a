/**
 * CLI conventions, the pure parts: a secret where an id or slug belongs is
 * recognised and never echoed, URLs and text are redacted for every secret
 * kind, build metadata URLs lose their credentials, validation errors name
 * flags (not wire fields), suggestions name commands (not API routes), SIGINT
 * is forwarded to `run`'s child only without a terminal, and tables fit the
 * terminal. End to end: cli-conventions.e2e.test.ts.
 */
import {describe, expect, it} from 'vitest'
import {ApikeyError} from '../../src/core/errors.js'
import {checksumOf} from '../../src/core/key-format.js'
import {cliSuggestion, problemToError} from '../../src/lib/api/errors.js'
import {looksLikeSecret, redactUrl, scrubText} from '../../src/lib/api/redact.js'
import {detectBuildMetadata, stripCredentials} from '../../src/services/ci/metadata.js'
import {renameFields} from '../../src/services/common.js'
import {shouldForward} from '../../src/services/run.js'
import {refuseSecret, secretKind} from '../../src/services/secret-args.js'
import {detailPairs, renderAudit} from '../../src/views/lifecycle.js'
import {renderTable, when} from '../../src/views/table.js'

const body = 'ak_weather-app_dev_' + 'R'.repeat(30)
const KEY = body + checksumOf(body)
const PROV = 'akp_' + 'P'.repeat(40)
const VERIFIER = 'akv_' + 'V'.repeat(40)

describe('secrets where ids belong', () => {
  it('secretKind names keys (with their display start) and tokens by kind; ids and slugs are not secrets', () => {
    expect(secretKind(KEY)).toEqual({kind: 'api-key', shown: 'an API key (ak_weather-app_dev_RRRR…)'})
    expect(secretKind(KEY.slice(0, -3))?.kind).toBe('api-key')
    expect(secretKind('aks_' + 'x'.repeat(30))?.kind).toBe('session-token')
    expect(secretKind(PROV)?.kind).toBe('provisioning-token')
    expect(secretKind(VERIFIER)?.kind).toBe('verifier-token')
    for (const ok of ['key_3kTq8vN2mXc9LpQ4rS7w', 'tok_8mXc9LpQ4rS7w3kTq8vN', 'weather-app', 'weather']) expect(secretKind(ok)).toBeUndefined()
  })

  it('refuseSecret: usage error naming the expected kind, never the value', () => {
    let error: ApikeyError | undefined
    try {
      refuseSecret(KEY, 'key id', 'KEY_ID')
    } catch (e) {
      error = e as ApikeyError
    }
    expect(error?.code).toBe('usage')
    expect(error?.exitCode).toBe(2)
    expect(JSON.stringify(error?.toJSON())).not.toContain(KEY)
    expect(error?.suggestions.join('\n')).toContain('apikey whoami KEY')
  })

  it('redaction covers akp_ and akv_ like ak_ and aks_, in text and in URL paths and queries', () => {
    for (const secret of [KEY, PROV, VERIFIER, 'aks_' + 'S'.repeat(40)]) {
      expect(scrubText(`x ${secret} y`)).not.toContain(secret)
      expect(redactUrl(`https://keys.example.com/v1/keys/${secret}/rotate`)).not.toContain(secret)
      expect(redactUrl(`https://keys.example.com/v1/tokens?app=${secret}`)).not.toContain(secret)
      expect(looksLikeSecret(secret)).toBe(true)
    }
    expect(looksLikeSecret('key_3kTq8vN2mXc9LpQ4rS7w')).toBe(false)
    expect(redactUrl('https://keys.example.com/v1/keys/key_3kTq8vN2mXc9LpQ4rS7w')).toBe('https://keys.example.com/v1/keys/key_3kTq8vN2mXc9LpQ4rS7w')
  })
})

describe('credentials stripped from every metadata URL', () => {
  it('stripCredentials removes user info and token query parameters', () => {
    expect(stripCredentials('https://gitlab-ci-token:glcbt-secret@gitlab.example.com/g/p/-/jobs/1')).toBe('https://gitlab.example.com/g/p/-/jobs/1')
    expect(stripCredentials('https://ci.example.com/job/7/?token=abc&x=1')).toBe('https://ci.example.com/job/7/?x=1')
  })

  it('detectBuildMetadata strips buildUrl too, not only repository', async () => {
    const {metadata} = await detectBuildMetadata({
      env: {BUILD_NUMBER: '7', BUILD_URL: 'https://jenkins-user:api-token@jenkins.example.com/job/x/7/', GIT_URL: 'https://u:p@git.example.com/o/r.git'},
      cwd: '/nonexistent',
      ci: {id: 'JENKINS', name: 'Jenkins'},
      git: async () => undefined,
      version: '1.0.0',
    })
    expect(metadata.buildUrl).toBe('https://jenkins.example.com/job/x/7/')
    expect(metadata.repository).toBe('https://git.example.com/o/r.git')
  })
})

describe('validation fields are named as flags', () => {
  it('renameFields maps wire fields to flags; metadata.* to build metadata', () => {
    const grace = problemToError(
      {type: 't', title: 'Invalid request', status: 400, code: 'validation', detail: 'graceMs: a grace period in whole milliseconds from 0 (end the old key at once) to 604800000 (7 days)', field: 'graceMs', maxGraceMs: 604_800_000},
      400,
      {method: 'POST', url: 'http://x/v1/keys/key_1/rotate', baseUrl: 'http://x', auth: 'session'},
    )
    const g = renameFields(grace, {graceMs: '--grace'}) as ApikeyError
    expect(g.message).toBe("--grace: at most 1w (this service's maximum), or 0 to end the old key at once")
    expect(g.exitCode).toBe(2)
    const exp = renameFields(new ApikeyError('expiresAt: must be in the future', {code: 'validation', details: {extensions: {field: 'expiresAt'}}}), {expiresAt: '--expires-in'}) as ApikeyError
    expect(exp.message).toBe('--expires-in: must be in the future')
    const meta = renameFields(new ApikeyError('invalid body: metadata.branch must NOT have more than 500 characters', {code: 'validation', details: {extensions: {field: 'metadata.branch'}}}), {}) as ApikeyError
    expect(meta.message).toBe('build metadata "branch" must NOT have more than 500 characters')
    const other = new ApikeyError('graceMs: x', {code: 'forbidden'})
    expect(renameFields(other, {graceMs: '--grace'})).toBe(other)
  })
})

describe('suggestions name commands, not API routes', () => {
  it('cliSuggestion turns a route the service names into the command that calls it', () => {
    expect(cliSuggestion("ask a member of the app's team for a new provisioning token (POST /v1/tokens)")).toContain('apikey tokens create --app APP --scope ci')
    expect(cliSuggestion('apikey whoami')).toContain('apikey whoami KEY')
    const e = problemToError(
      {type: 't', title: 'API key not found', status: 404, code: 'key_not_found', detail: 'no key with this id: that looks like a secret, not a key id — never put keys or tokens in URLs; inspect a key with POST /v1/keys/whoami (apikey whoami)', suggestions: ['apikey whoami']},
      404,
      {method: 'GET', url: 'http://x/v1/keys/x', baseUrl: 'http://x', auth: 'session'},
    )
    expect(e.message).not.toContain('/v1/')
    expect(e.message).toContain('apikey whoami KEY')
  })
})

describe('SIGINT forwarding', () => {
  it('SIGINT is forwarded only when stdin is not a terminal; SIGTERM and SIGHUP always', () => {
    expect(shouldForward('SIGINT', true)).toBe(false)
    expect(shouldForward('SIGINT', false)).toBe(true)
    expect(shouldForward('SIGTERM', true)).toBe(true)
    expect(shouldForward('SIGHUP', true)).toBe(true)
  })
})

describe('terminal tables', () => {
  it('times are relative on a TTY (in 40 s, 3 min ago, in 89 d); piped stays full ISO', () => {
    const now = Date.UTC(2027, 5, 26, 14, 3)
    expect(when(now + 40_000, true, now)).toBe('in 40 s')
    expect(when(now - 3 * 60_000 - 5_000, true, now)).toBe('3 min ago')
    expect(when(now + 5 * 3_600_000, true, now)).toBe('in 5 h')
    expect(when(now + 89 * 86_400_000 + 1_000, true, now)).toBe('in 89 d')
    expect(when(now, true, now)).toBe('now')
    expect(when(null, true, now)).toBe('never')
    expect(when(now, false, now)).toBe('2027-06-26T14:03:00.000Z')
  })

  it('audit details on a TTY are k=v pairs with ISO instants; piped stays JSON', () => {
    const at = Date.UTC(2027, 5, 26, 14, 3)
    expect(detailPairs({app: 'weather-app', graceMs: 86_400_000, graceEndsAt: at, name: 'two words'})).toBe(
      'app=weather-app grace=1d graceEndsAt=2027-06-26T14:03:00.000Z name="two words"',
    )
    const event = {id: 1, time: at, actor: 'ann', action: 'key.rotated', target: 'key_x', sourceAddress: '127.0.0.1', details: {graceEndsAt: at}} as never
    expect(renderAudit([event], true)).toContain('graceEndsAt=2027-06-26T14:03:00.000Z')
    expect(renderAudit([event], false)).toContain(`{"graceEndsAt":${at}}`)
  })

  it('tables fit the terminal width: the widest column is cut with …', () => {
    const rows = [{a: 'short', b: 'x'.repeat(100), c: 'end'}]
    const cols = [
      {header: 'a', value: (r: (typeof rows)[0]) => r.a},
      {header: 'b', value: (r: (typeof rows)[0]) => r.b},
      {header: 'c', value: (r: (typeof rows)[0]) => r.c},
    ]
    const text = renderTable(rows, cols, true, 60)
    for (const line of text.trimEnd().split('\n')) expect([...line].length).toBeLessThanOrEqual(60)
    expect(text).toContain('…')
    expect(text).toContain('end')
    expect(renderTable(rows, cols, false, 60)).toContain('x'.repeat(100))
  })
})
