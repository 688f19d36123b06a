/**
 * `apikey keys create --store dotenv` tells the truth about which key `whoami`
 * and `run` will use: a key stored under another variable or in another file is
 * not the project's key, and the message gives the exact flags that use it —
 * which then work.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {initProject} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
})
afterAll(async () => svc?.close())

describe('keys create --store dotenv', () => {
  it('--var X: says whoami/run read API_KEY, not this key, and names the flags that use it; those commands find the new key', async () => {
    const {repo, ann, keyId} = await initProject(svc, 'lookup-app')
    const created = await ann.run(['keys', 'create', '--env', 'test', '--store', 'dotenv', '--var', 'TEST_API_KEY', '--json'], repo)
    expect(created.code, created.stderr).toBe(0)
    expect(created.json.lookup).toEqual({byDefault: false, whoami: 'apikey whoami --var TEST_API_KEY', run: 'apikey run --var TEST_API_KEY -- CMD'})
    const said = created.stderr + created.json.warnings.join('\n')
    expect(said).not.toMatch(/will use this test key/)
    expect(created.json.warnings).toContain('apikey whoami and apikey run read API_KEY in .env, not this key; to use it: apikey run --var TEST_API_KEY -- CMD, apikey whoami --var TEST_API_KEY')

    // The project's key is still what whoami finds by default; the flags find the new one.
    const byDefault = await ann.run(['whoami', '--json'], repo)
    expect(byDefault.json.lookup.apiKey.id).toBe(keyId)
    const withFlag = await ann.run(['whoami', '--var', 'TEST_API_KEY', '--json'], repo)
    expect(withFlag.code, withFlag.stderr).toBe(0)
    expect(withFlag.json.lookup.apiKey).toMatchObject({id: created.json.id, env: 'test'})

    // Another file too: both flags.
    const other = await ann.run(['keys', 'create', '--env', 'stage', '--store', 'dotenv', '--dotenv-file', '.env.stage', '--yes', '--json'], repo)
    expect(other.code, other.stderr).toBe(0)
    expect(other.json.lookup).toEqual({byDefault: false, whoami: 'apikey whoami --dotenv-file .env.stage', run: 'apikey run --dotenv-file .env.stage -- CMD'})
    const stage = await ann.run(['whoami', '--dotenv-file', '.env.stage', '--json'], repo)
    expect(stage.json.lookup.apiKey).toMatchObject({id: other.json.id, env: 'stage'})
  })
})
