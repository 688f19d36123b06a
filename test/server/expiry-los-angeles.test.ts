/**
 * The rotation-grace and expiry-instant suite again with TZ=America/Los_Angeles, set by the
 * first import before anything reads the clock. Same answers as in any zone.
 */
import './tz-los-angeles.js'
import {describe, expect, it} from 'vitest'
import {expiryAndRotationSuite} from './expiry-cases.js'

describe('time zone of this process', () => {
  it('is America/Los_Angeles (UTC−8 in January, UTC−7 in July)', () => {
    expect(process.env.TZ).toBe('America/Los_Angeles')
    expect(new Date(Date.UTC(2030, 0, 1)).getTimezoneOffset()).toBe(480)
    expect(new Date(Date.UTC(2030, 6, 1)).getTimezoneOffset()).toBe(420)
  })
})

expiryAndRotationSuite('TZ=America/Los_Angeles')
