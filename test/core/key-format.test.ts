import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {
  BASE62_ALPHABET,
  checksumOf,
  generateKey,
  KEY_ENVIRONMENTS,
  KEY_SCAN_PATTERN,
  parseKey,
  randomBase62,
  toBase62,
  type KeyEnvironment,
} from '../../src/core/key-format.js'

const slugArb = fc
  .stringMatching(/^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/)
  .filter((s) => !s.includes('--'))
const prefixArb = fc.stringMatching(/^[a-z]{2,8}$/)
const envArb = fc.constantFrom<KeyEnvironment>(...KEY_ENVIRONMENTS)
const partsArb = fc.record({prefix: prefixArb, app: slugArb, env: envArb})

describe('key format', () => {
  it('has the documented shape', () => {
    const key = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
    expect(key).toMatch(/^ak_weather-app_dev_[0-9A-Za-z]{36}$/)
    expect(key.length).toBe('ak_weather-app_dev_'.length + 36)
  })

  it('every generated key parses back to its parts', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const key = generateKey(parts)
        const parsed = parseKey(key)
        expect(parsed.problems).toEqual([])
        expect(parsed.valid).toBe(true)
        expect(parsed.checksumValid).toBe(true)
        expect({prefix: parsed.prefix, app: parsed.app, env: parsed.env}).toEqual(parts)
        expect(parsed.start).toBe(`${parts.prefix}_${parts.app}_${parts.env}_${key.split('_')[3]!.slice(0, 4)}…`)
      }),
    )
  })

  it('every single-character change is rejected', () => {
    const charArb = fc.constantFrom(...`${BASE62_ALPHABET}_- \n`.split(''))
    fc.assert(
      fc.property(partsArb, fc.nat(), charArb, (parts, where, replacement) => {
        const key = generateKey(parts)
        const i = where % key.length
        fc.pre(key[i] !== replacement)
        const edited = key.slice(0, i) + replacement + key.slice(i + 1)
        expect(parseKey(edited).valid).toBe(false)
      }),
      {numRuns: 2000},
    )
  })

  it('rejects insertions, deletions and whitespace around the key', () => {
    fc.assert(
      fc.property(partsArb, fc.nat(), (parts, where) => {
        const key = generateKey(parts)
        const i = where % key.length
        expect(parseKey(key.slice(0, i) + key.slice(i + 1)).valid).toBe(false)
        expect(parseKey(key.slice(0, i) + 'a' + key.slice(i)).valid).toBe(false)
      }),
    )
    const key = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
    expect(parseKey(` ${key}`).valid).toBe(false)
    expect(parseKey(`${key}\n`).valid).toBe(false)
  })

  it('names the part that is wrong', () => {
    const key = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})
    const tail = key.split('_')[3]!
    expect(parseKey(`AK_weather-app_dev_${tail}`).problems.map((p) => p.part)).toContain('prefix')
    expect(parseKey(`ak_Weather_dev_${tail}`).problems.map((p) => p.part)).toContain('app')
    expect(parseKey(`ak_weather-app_live_${tail}`).problems.map((p) => p.part)).toContain('env')
    expect(parseKey(`ak_weather-app_dev_${tail.slice(0, 20)}`).problems.map((p) => p.part)).toEqual(['secret'])
    // Changing the app name keeps every rule but breaks the checksum.
    const renamed = parseKey(key.replace('weather-app', 'weather-api'))
    expect(renamed.problems).toEqual([{part: 'checksum', message: expect.stringContaining('checksum')}])
    expect(renamed.app).toBe('weather-api')
    expect(parseKey('').problems[0]!.part).toBe('format')
    expect(parseKey('x'.repeat(10_000)).problems[0]!.part).toBe('format')
    expect(parseKey('ak_weather_app_dev_x').problems[0]!.part).toBe('format')
    expect(parseKey(key, 'zz').problems.map((p) => p.part)).toEqual(['prefix'])
  })

  it('checksum is CRC32 (IEEE) in base62, padded to 6', () => {
    // CRC32("123456789") = 0xCBF43926 = 3421780262 (the standard check value).
    expect(checksumOf('123456789')).toBe(toBase62(3_421_780_262, 6))
    expect(toBase62(3_421_780_262, 6)).toBe('3jZRME') // computed independently with Python's zlib.crc32
    expect(toBase62(0, 6)).toBe('000000')
    expect(toBase62(61, 2)).toBe('0z')
  })

  it('random secrets use the whole alphabet uniformly enough', () => {
    const counts = new Map<string, number>()
    const sample = randomBase62(62 * 400)
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    expect(counts.size).toBe(62)
    for (const n of counts.values()) expect(n).toBeGreaterThan(250)
  })

  it('the scan pattern finds keys in text and rejects invalid parts', () => {
    const key = generateKey({prefix: 'ak', app: 'weather-app', env: 'prod'})
    const text = `const x = "${key}"; other ak_x_dev_short`
    expect([...text.matchAll(KEY_SCAN_PATTERN)].map((m) => m[0])).toEqual([key])
  })

  it('refuses to generate keys with invalid parts', () => {
    expect(() => generateKey({prefix: 'a', app: 'weather-app', env: 'dev'})).toThrow(/prefix/)
    expect(() => generateKey({prefix: 'ak', app: 'we--ather', env: 'dev'})).toThrow(/slug/)
    expect(() => generateKey({prefix: 'ak', app: 'weather', env: 'live' as KeyEnvironment})).toThrow(/environment/)
  })
})

describe('docs/gitleaks.toml', () => {
  it('its regex matches generated keys and the exported pattern', async () => {
    const {readFile} = await import('node:fs/promises')
    const toml = await readFile(new URL('../../docs/gitleaks.toml', import.meta.url), 'utf8')
    const source = /regex = '''(.*)'''/.exec(toml)?.[1]
    expect(source).toBe(KEY_SCAN_PATTERN.source)
    const re = new RegExp(source!)
    for (const env of KEY_ENVIRONMENTS) expect(re.test(generateKey({prefix: 'ak', app: 'weather-app', env}))).toBe(true)
    expect(re.test('ak_weather-app_live_' + 'a'.repeat(36))).toBe(false)
  })
})
