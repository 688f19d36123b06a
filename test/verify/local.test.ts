/**
 * Local checks of the verifier library: absent, empty, whitespace,
 * oversized, non-printable and checksum-failing keys are decided without any
 * network call; keys are never trimmed.
 */
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {generateKey} from '../../src/core/key-format.js'
import {createVerifier} from '../../src/verify/index.js'
import type {Verifier} from '../../src/verify/index.js'
import {FakeClock, refusedUrl, startStandin, TOKEN, type Standin} from './helpers.js'

let standin: Standin
let verifier: Verifier
let key: string

beforeAll(async () => {
  const clock = new FakeClock()
  standin = await startStandin(clock)
  key = standin.issue()
  verifier = createVerifier({serviceUrl: standin.url, verifierToken: TOKEN, clock, docsUrl: 'https://docs.example.test/keys'})
})
afterAll(async () => {
  await verifier.close({deadlineMs: 10})
  await standin.close()
})

describe('local checks (no lookup)', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['empty', ''],
  ])('%s key → MALFORMED "missing key" with the how-to-get-one message', async (_name, value) => {
    const before = standin.verifyCalls
    const verdict = await verifier.verify(value)
    expect(verdict).toMatchObject({valid: false, code: 'MALFORMED', source: 'local', app: null, keyId: null, docsUrl: 'https://docs.example.test/keys'})
    expect(verdict.message).toMatch(/^missing key/)
    expect(verdict.message).toContain('apikey init')
    expect(verdict.message).toContain('https://docs.example.test/keys')
    expect(verdict.suggestions).toEqual(['apikey init'])
    expect(standin.verifyCalls).toBe(before)
  })

  it.each([
    ['leading space', (k: string) => ` ${k}`],
    ['trailing space', (k: string) => `${k} `],
    ['trailing newline', (k: string) => `${k}\n`],
    ['trailing CRLF', (k: string) => `${k}\r\n`],
    ['tab inside', (k: string) => `${k.slice(0, 10)}\t${k.slice(10)}`],
    ['whitespace only', () => '   '],
    ['NUL', (k: string) => `${k.slice(0, -1)}\u0000`],
    ['non-ASCII look-alike', (k: string) => `${k.slice(0, 3)}\u0430${k.slice(4)}`],
  ])('%s → MALFORMED, never trimmed into the valid key, no lookup', async (_name, mutate) => {
    const before = standin.verifyCalls
    const verdict = await verifier.verify(mutate(key))
    expect(verdict).toMatchObject({valid: false, code: 'MALFORMED', source: 'local'})
    expect(verdict.message).not.toContain(key)
    expect(standin.verifyCalls).toBe(before)
  })

  it('a 10 KB value → MALFORMED (too long) without hashing the rest or any lookup', async () => {
    const before = standin.verifyCalls
    const verdict = await verifier.verify('a'.repeat(10 * 1024))
    expect(verdict).toMatchObject({valid: false, code: 'MALFORMED', source: 'local'})
    expect(verdict.message).toContain('10240 characters long; keys are at most 84')
    expect(standin.verifyCalls).toBe(before)
  })

  it('a key whose checksum fails → MALFORMED without any network call', async () => {
    const before = standin.verifyCalls
    const last = key.at(-1) === 'a' ? 'b' : 'a'
    const verdict = await verifier.verify(key.slice(0, -1) + last)
    expect(verdict).toMatchObject({valid: false, code: 'MALFORMED', source: 'local'})
    expect(verdict.message).toContain('checksum')
    expect(standin.verifyCalls).toBe(before)
  })

  it('an edited app name fails the checksum → MALFORMED locally', async () => {
    const before = standin.verifyCalls
    const verdict = await verifier.verify(key.replace('weather-app', 'weather-apq'))
    expect(verdict.code).toBe('MALFORMED')
    expect(standin.verifyCalls).toBe(before)
  })

  it('another prefix is MALFORMED when keyPrefix is set, without a lookup', async () => {
    const clock = new FakeClock()
    const v = createVerifier({serviceUrl: await refusedUrl(), verifierToken: TOKEN, clock, keyPrefix: 'ak'})
    const verdict = await v.verify(generateKey({prefix: 'zz', app: 'weather-app', env: 'dev'}))
    expect(verdict).toMatchObject({code: 'MALFORMED', source: 'local'})
    expect(v.stats().fetches).toBe(0)
    await v.close({deadlineMs: 1})
  })

  it('the well-formed key itself is asked of the service (control)', async () => {
    const before = standin.verifyCalls
    expect(await verifier.verify(key)).toMatchObject({valid: true, code: 'VALID', source: 'service'})
    expect(standin.verifyCalls).toBe(before + 1)
  })

  it('property: whitespace or control characters anywhere in a valid key → local MALFORMED, no lookup', async () => {
    const before = standin.verifyCalls
    await fc.assert(
      fc.asyncProperty(fc.nat({max: key.length}), fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\u0000', '\u007f'), async (at, ch) => {
        const verdict = await verifier.verify(key.slice(0, at) + ch + key.slice(at))
        expect(verdict).toMatchObject({valid: false, code: 'MALFORMED', source: 'local'})
      }),
      {numRuns: 200},
    )
    expect(standin.verifyCalls).toBe(before)
  })

  it('cached verdicts are frozen: a handler cannot change what the next request sees', async () => {
    await verifier.verify(key)
    const hit = await verifier.verify(key)
    expect(hit.source).toBe('cache')
    expect(() => {
      ;(hit as {valid: boolean}).valid = false
    }).toThrow(TypeError)
    expect((await verifier.verify(key)).valid).toBe(true)
  })
})

describe('createVerifier options', () => {
  it('a missing or non-http(s) serviceUrl and a missing or foreign verifierToken are RangeErrors naming what to pass; the token is never echoed', () => {
    const token = 'akv_' + 'A'.repeat(40)
    expect(() => createVerifier({} as never)).toThrow(RangeError)
    expect(() => createVerifier({serviceUrl: 'not a url', verifierToken: token})).toThrow(/serviceUrl must be the key service's http\(s\) URL/)
    expect(() => createVerifier({serviceUrl: 'ftp://127.0.0.1', verifierToken: token})).toThrow(RangeError)
    expect(() => createVerifier({serviceUrl: 'http://127.0.0.1:4000'} as never)).toThrow(/verifierToken must be a verifier token .* apikey server verifiers add NAME/)
    let message = ''
    try {
      createVerifier({serviceUrl: 'http://127.0.0.1:4000', verifierToken: 'aks_session-token-secret'})
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/verifierToken must be/)
    expect(message).not.toContain('session-token-secret')
  })
})
