/**
 * Times for people: on a terminal every time is relative ("expires in 59 min",
 * "in 59 min" in tables, "grace ends in …"); piped or with --json they are
 * full ISO 8601 timestamps (or ms numbers in JSON), never relative.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {initProject} from '../helpers/project.js'
import {havePty, runPty} from '../helpers/pty.js'
import {startTestService, type TestService} from '../helpers/service.js'

const pty = await havePty()
if (!pty) console.warn('relative time tests on a terminal skipped: util-linux `script` is not installed')

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
})
afterAll(async () => svc?.close())

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/

describe.skipIf(!pty)('times on a terminal', () => {
  it('keys create, keys list, whoami and rotate show relative times; piped and --json they are ISO 8601', async () => {
    const {repo, ann, keyId} = await initProject(svc, 'times-app')
    const onTerminal = (args: string[]) => runPty(args, {cwd: repo, env: ann.env, steps: []})

    const created = await onTerminal(['keys', 'create', '--env', 'test', '--expires-in', '1h'])
    expect(created.code, created.output).toBe(0)
    expect(created.output).toMatch(/expires in 59 min/)
    expect(created.output).not.toMatch(ISO)

    const list = await onTerminal(['keys', 'list'])
    expect(list.code, list.output).toBe(0)
    expect(list.output).toMatch(/in 59 min/)
    expect(list.output).toMatch(/\bnow\b|\d+ s ago/)
    expect(list.output).not.toMatch(ISO)

    const who = await onTerminal(['whoami'])
    expect(who.code, who.output).toBe(0)
    expect(who.output).toMatch(/expires\s+in \d+ d/)
    expect(who.output).not.toMatch(ISO)

    const rotated = await onTerminal(['keys', 'rotate', keyId, '--grace', '1h', '--yes'])
    expect(rotated.code, rotated.output).toBe(0)
    expect(rotated.output).toMatch(/stops in 59 min/)
    expect(rotated.output).not.toMatch(ISO)

    // Piped: ISO 8601; --json on a terminal: no relative text at all.
    const piped = await ann.run(['keys', 'list'], repo)
    expect(piped.stdout).toMatch(ISO)
    expect(piped.stdout).not.toMatch(/ ago\b|\bin \d+ (s|min|h|d)\b/)
    const json = await onTerminal(['whoami', '--json'])
    expect(json.output).not.toMatch(/ ago\b|\bin \d+ (s|min|h|d)\b/)
  })
})
