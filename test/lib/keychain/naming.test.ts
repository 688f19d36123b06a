import {describe, expect, test} from 'vitest'
import {apiKeyAccount, keychainService, serverHost, SESSION_ACCOUNT} from '../../../src/lib/keychain/index.js'

describe('keychain entry names', () => {
  test('service is apikey:<server host>, with a non-default port, lower case', () => {
    expect(keychainService('https://Keys.Example.com/')).toBe('apikey:keys.example.com')
    expect(keychainService('https://keys.example.com:443/v1')).toBe('apikey:keys.example.com')
    expect(keychainService('http://127.0.0.1:4000')).toBe('apikey:127.0.0.1:4000')
    expect(serverHost('http://[::1]:8080')).toBe('[::1]:8080')
  })

  test('API keys use <app>/<env>; the session token uses "session", which cannot collide', () => {
    expect(apiKeyAccount('weather-app', 'dev')).toBe('weather-app/dev')
    expect(SESSION_ACCOUNT).toBe('session')
    expect(SESSION_ACCOUNT).not.toContain('/')
  })

  test('invalid inputs are usage errors', () => {
    expect(() => keychainService('keys.example.com')).toThrow(expect.objectContaining({code: 'usage'}))
    expect(() => keychainService('ftp://keys.example.com')).toThrow(/http:\/\/ or https:\/\//)
    expect(() => apiKeyAccount('Weather App', 'dev')).toThrow(expect.objectContaining({code: 'usage'}))
    expect(() => apiKeyAccount('weather-app', 'production')).toThrow(/not a key environment/)
  })
})
