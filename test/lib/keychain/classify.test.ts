import {describe, expect, test} from 'vitest'
import {ApikeyError} from '../../../src/core/errors.js'
import {classifyKeychainError, isKeychainUnavailable, redactSecrets, unavailableReasonOf} from '../../../src/lib/keychain/index.js'

describe('unavailableReasonOf: binding messages seen on Linux, macOS and Windows', () => {
  test.each([
    ['Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead', 'no-dbus'],
    ['Platform failure: DBus error: Failed to connect to socket /run/user/1000/bus: No such file or directory', 'no-dbus'],
    ['Platform failure: DBus error: Failed to connect to socket /tmp/x: Connection refused', 'no-dbus'],
    ['Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files', 'no-secret-service'],
    ["Couldn't access platform storage: Secret Service: unlock prompt was dismissed", 'locked'],
    ["Couldn't access platform storage: Secret Service: no result found", 'no-keyring'],
    ["Couldn't access platform storage: AccessDenied", 'access-denied'],
    ["Couldn't access platform secure storage: User interaction is not allowed.", 'access-denied'],
    ['Cannot find native binding. npm has a bug related to optional dependencies', 'not-installed'],
  ])('%s → %s', (message, reason) => {
    expect(unavailableReasonOf(message)).toBe(reason)
  })

  test.each([
    ["Attribute 'password' is longer than platform limit of 2560 chars"],
    ['Entry is matched by 2 credentials: [..]'],
    ['Data is not UTF-8 encoded'],
  ])('%s is a keychain_error, not unavailability', (message) => {
    expect(unavailableReasonOf(message)).toBeUndefined()
    expect(classifyKeychainError({message}).code).toBe('keychain_error')
  })
})

describe('classifyKeychainError', () => {
  test('unavailable: code, reason, store, action and suggestions', () => {
    const error = classifyKeychainError({message: 'Platform failure: DBus error: Failed to connect to socket /x: No such file or directory'}, {action: 'read entry "apikey:h" / "session" from', storeName: 'Secret Service'})
    expect(error).toBeInstanceOf(ApikeyError)
    expect(error.code).toBe('keychain_unavailable')
    expect(error.details).toEqual({reason: 'no-dbus', store: 'Secret Service'})
    expect(error.message).toMatch(/^could not read entry "apikey:h" \/ "session" from the OS keychain \(Secret Service\): no D-Bus session bus is reachable/)
    expect(error.suggestions.length).toBeGreaterThan(0)
    expect(isKeychainUnavailable(error)).toBe(true)
  })

  test('secrets are redacted from message and cause; multi-line text is collapsed', () => {
    const error = classifyKeychainError(new Error('failed for tok_abcdef\n    at native (x.rs:1:1)'), {secrets: ['tok_abcdef']})
    expect(error.message).not.toContain('tok_abcdef')
    expect(error.message).not.toContain('\n')
    expect((error.cause as Error).message).not.toContain('tok_abcdef')
    expect(isKeychainUnavailable(error)).toBe(false)
  })

  test('an ApikeyError passes through unchanged', () => {
    const original = new ApikeyError('x', {code: 'keychain_error'})
    expect(classifyKeychainError(original)).toBe(original)
  })

  test('redactSecrets ignores very short secrets and truncates long text', () => {
    expect(redactSecrets('a b c', ['b'])).toBe('a b c')
    expect(redactSecrets('x'.repeat(400))).toHaveLength(300)
  })
})
