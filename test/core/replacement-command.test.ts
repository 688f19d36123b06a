/**
 * The one rule for the command that replaces a key: by kind, app, environment and state.
 */
import {describe, expect, it} from 'vitest'
import {replacementCommand} from '../../src/core/replacement-command.js'

describe('replacementCommand', () => {
  it.each([
    [{kind: 'dev', app: 'weather-app', env: 'dev', status: 'expired'}, undefined, 'apikey init --new-key'],
    [{kind: 'dev', app: 'weather-app', env: 'dev', status: 'revoked'}, 'npx --yes @acme/apikey init', 'npx --yes @acme/apikey init --new-key'],
    [{kind: 'ci', app: 'weather-app', env: 'ci', status: 'revoked'}, undefined, 'apikey ci key'],
    [{kind: 'service', app: 'weather-app', env: 'test', status: 'expired'}, undefined, 'apikey keys create --app weather-app --env test'],
    [{kind: 'service', app: 'weather-app', env: 'prod', status: 'revoked', id: 'key_1'}, undefined, 'apikey keys create --app weather-app --env prod'],
    [{kind: 'service', app: 'weather-app', env: 'prod', status: 'active', id: 'key_1'}, undefined, 'apikey keys rotate key_1'],
  ] as const)('%o (get-key command %s) → %s', (key, getKeyCommand, command) => {
    expect(replacementCommand(key, getKeyCommand)).toBe(command)
  })
})
