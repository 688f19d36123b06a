import {input} from '@inquirer/prompts'
import {render} from '@inquirer/testing'
import {describe, expect, it} from 'vitest'
import {generateKey} from '../../../src/core/key-format.js'
import {answerCheck} from '../../../src/lib/prompts.js'

const KEY = generateKey({prefix: 'ak', app: 'weather-app', env: 'dev'})

describe('prompted answers go through the same guard as flags', () => {
  it('a key pasted as a free-text answer is refused, not shown in the message, and the question asked again', async () => {
    const {answer, events, getScreen} = await render(input, {message: 'Point of contact', validate: answerCheck({message: 'Point of contact', flag: '--contact'})})
    events.type(KEY)
    events.keypress('enter')
    await Promise.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    const screen = getScreen()
    expect(screen).toContain('--contact contains what looks like an API key')
    expect(screen.split('\n').filter((line) => line.includes('looks like')).join('\n')).not.toContain(KEY.slice(-12))
    for (let i = 0; i < KEY.length; i++) events.keypress('backspace')
    events.type('ann@example.com')
    events.keypress('enter')
    await expect(answer).resolves.toBe('ann@example.com')
  })

  it('a password typed as the username is refused and the question asked again; a username is accepted', async () => {
    const check = answerCheck({message: 'Username', flag: '--username', rule: 'username', validate: (v) => v.length > 1 || 'too short'})
    expect(check('Tr0ub4dor&3 horse')).toMatch(/^--username does not look like a username/)
    expect(check(`x ${KEY}`)).toMatch(/looks like an API key/)
    expect(check('ann')).toBe(true)
    expect(answerCheck({message: 'Team name', flag: '--team-name'})('a\u202Eb')).toMatch(/direction-changing/)
  })
})
