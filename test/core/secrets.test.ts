import {describe, expect, it} from 'vitest'
import {ApikeyError} from '../../src/core/errors.js'
import {generateKey, randomBase62} from '../../src/core/key-format.js'
import {checkInput, findSecret, hasUnsafeCharacter, scrubSecrets} from '../../src/core/secrets.js'

const KEY = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
const SHAPES = {
  'api-key': KEY,
  'session-token': `aks_${randomBase62(40)}`,
  'provisioning-token': `akp_${randomBase62(40)}`,
  'verifier-token': `akv_${randomBase62(40)}`,
} as const

function refusal(run: () => void): ApikeyError {
  try {
    run()
  } catch (error) {
    if (error instanceof ApikeyError) return error
    throw error
  }
  throw new Error('expected a refusal')
}

describe('the free-text guard', () => {
  it('finds every secret shape whole, truncated, edited or inside other text, and names only its kind', () => {
    for (const [kind, secret] of Object.entries(SHAPES)) {
      for (const variant of [secret, secret.slice(0, -5), `${secret.slice(0, -1)}!`, `my ${secret} here`, `x=${secret}`]) {
        expect(findSecret(variant)?.kind, variant.slice(0, 12)).toBe(kind)
      }
      expect(findSecret(secret)?.shown).not.toContain(secret.slice(kind === 'api-key' ? 23 : 4, -1))
    }
    // A lower-case piece counts from 20 characters on; with a capital from 12.
    expect(findSecret('ak_weather-app_dev_abcdefghijklmnopqrst')?.kind).toBe('api-key')
    expect(findSecret('ak_weather-app_dev_abcdefGhijkl')?.kind).toBe('api-key')
    expect(findSecret(KEY)?.shown).toBe(`an API key (${KEY.slice(0, 'ak_weather-app_dev_'.length + 4)}…)`)
  })

  it('leaves ordinary text alone: ids, slugs, display starts, names that resemble the format', () => {
    for (const ok of [
      'key_3kTq8vN2mXc9LpQ4rS7w',
      'tok_8mXc9LpQ4rS7w3kTq8vN',
      'weather-app',
      'ak_weather-app_dev_4fT9…',
      'akp_4fT9…',
      'ci_weather-app_prod_deploy01',
      'ci_weather-app_prod_deployment1',
      'ak_weather-app_dev_integrationtests',
      'Ann’s laptop — café 🚀',
      'ann@example.com',
      'https://keys.example.com',
    ])
      expect(findSecret(ok), ok).toBeUndefined()
  })

  it('scrubSecrets keeps only the public parts', () => {
    const text = `a ${SHAPES['api-key']} b ${SHAPES['session-token']} c ${SHAPES['provisioning-token']} d ${SHAPES['verifier-token']}`
    expect(scrubSecrets(text)).toBe('a ak_weather-app_dev_*** b aks_*** c akp_*** d akv_***')
  })

  it('checkInput refuses a secret naming the field and kind, never the value', () => {
    for (const [kind, secret] of Object.entries(SHAPES)) {
      const error = refusal(() => checkInput(`team ${secret}`, '--name'))
      expect(error.code).toBe('validation')
      expect(error.exitCode).toBe(2)
      expect(error.details).toEqual({field: '--name', reason: 'secret', secretKind: kind})
      expect(error.message).toMatch(/^--name contains what looks like/)
      expect(JSON.stringify(error.toJSON())).not.toContain(secret.slice(-30))
    }
  })

  it('refuses bidirectional, zero-width and control characters and lone surrogates', () => {
    for (const code of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x07, 0x1b, 0x7f, 0x85]) {
      const text = `a${String.fromCharCode(code)}b`
      expect(hasUnsafeCharacter(text), code.toString(16)).toBe(true)
      expect(refusal(() => checkInput(text, 'name')).details.reason).toBe('unsafe-character')
    }
    expect(hasUnsafeCharacter('a\uD800b')).toBe(true)
    expect(hasUnsafeCharacter('a\uDC00b')).toBe(true)
    expect(hasUnsafeCharacter('rocket 🚀 tab\tline\n')).toBe(false)
  })

  it('a username that is not shaped like one, or equals the password, is refused unseen', () => {
    for (const [value, reason, password] of [
      ['correct horse battery staple', 'not-a-username', undefined],
      ['Tr0ub4dor&3', 'not-a-username', undefined],
      ['s3cretpass', 'password-as-username', 's3cretpass'],
    ] as const) {
      const error = refusal(() => checkInput(value, '--username', {rule: 'username', ...(password === undefined ? {} : {password})}))
      expect(error.details.reason).toBe(reason)
      expect(error.message).not.toContain(value)
    }
    expect(() => checkInput('Ann.Smith', '--username', {rule: 'username', password: 'other'})).not.toThrow()
  })

  it('a key\'s or token\'s display start given as an id is recognised, with the command that lists ids', () => {
    const key = refusal(() => checkInput('ak_weather-app_dev_4fT9…', 'KEY_ID', {rule: 'id', expected: 'a key id'}))
    expect(key.details.reason).toBe('key-start')
    expect(key.message).toContain("display start")
    expect(key.suggestions[0]).toContain('apikey keys list --app weather-app')
    // Up to 11 characters after the environment: shown only as the 4-character display start.
    const longer = refusal(() => checkInput('ak_weather-app_dev_4fT9abcdefg', 'KEY_ID', {rule: 'id'}))
    expect(longer.message).toContain('ak_weather-app_dev_4fT9…')
    expect(longer.message).not.toContain('abcdefg')
    expect(refusal(() => checkInput('akp_4fT9…', 'TOKEN_ID', {rule: 'id'})).suggestions[0]).toContain('apikey tokens list')
    expect(() => checkInput('ak_weather-app_dev_4fT9…', '--name')).not.toThrow()
  })
  it('finds secrets disguised by case, percent-encoding, invisible characters or whitespace, and scrubs text holding one', () => {
    for (const [kind, secret] of Object.entries(SHAPES)) {
      for (const variant of [
        secret.toUpperCase(),
        secret.replaceAll('_', '%5F'),
        encodeURIComponent(encodeURIComponent(secret)).replaceAll('_', '%255F'),
        `${secret.slice(0, 20)} ${secret.slice(20)}`,
        `name: ${secret.slice(0, 16)}\n${secret.slice(16, 30)}  ${secret.slice(30)} (copied)`,
        `${secret.slice(0, 22)}\u2060${secret.slice(22)}`,
        `${secret.slice(0, 22)}\uFEFF${secret.slice(22)}`,
        `${secret.slice(0, 22)}\u00AD${secret.slice(22)}`,
        `${secret.slice(0, 22)}\u034F${secret.slice(22)}`,
      ]) {
        expect(findSecret(variant)?.kind, JSON.stringify(variant.slice(0, 8))).toBe(kind)
        const scrubbed = scrubSecrets(`debug: ${variant}`)
        expect(scrubbed).not.toContain(secret.slice(-12))
        expect(scrubbed.toLowerCase()).not.toContain(secret.slice(-12).toLowerCase())
        expect(refusal(() => checkInput(variant, '--name')).details).toMatchObject({field: '--name', reason: 'secret', secretKind: kind})
      }
    }
    // Ordinary names with spaces, capitals or encoded characters still pass.
    for (const ok of ['Weather App (prod)', 'WEATHER-APP PROD KEY', 'build 1234 of weather-app', 'ak_weather-app_dev key', '100%25 done', 'nightly CI_RUN_42']) {
      expect(findSecret(ok), ok).toBeUndefined()
      expect(() => checkInput(ok, '--name')).not.toThrow()
    }
  })

  it('refuses every invisible format character and line/paragraph separator in free text, not only the bidi and zero-width ranges', () => {
    for (const ch of ['\u061C', '\u2060', '\uFEFF', '\u180E', '\u00AD', '\u034F', '\u2028', '\u2029', '\u2064', '\u3164']) {
      expect(hasUnsafeCharacter(`weather${ch}app`), ch.codePointAt(0)!.toString(16)).toBe(true)
      expect(refusal(() => checkInput(`weather${ch}app`, 'name')).details).toMatchObject({field: 'name', reason: 'unsafe-character'})
    }
    expect(hasUnsafeCharacter('Wetter-App für Zürich 🌦')).toBe(false)
  })
})
