/**
 * Questions on a real terminal (pseudo-terminal via util-linux `script`): an
 * invalid answer is explained and asked again — it never ends the command.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {cliEnv} from '../helpers/cli.js'
import {makeRepo} from '../helpers/git.js'
import {havePty, runPty} from '../helpers/pty.js'
import {PASSWORD, startTestService, type TestService} from '../helpers/service.js'

const pty = await havePty()
if (!pty) console.warn('prompt tests skipped: util-linux `script` is not installed')

let svc: TestService
beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather')
})
afterAll(async () => svc?.close())

const ENTER = '\r'
/** Ctrl+U: clears the answer typed so far. */
const CLEAR = '\u0015'

describe.skipIf(!pty)('an invalid answer is asked again', () => {
  it('login: a key service URL without a scheme, then an invalid username, then the right ones: signed in', async () => {
    const env = await cliEnv()
    const run = await runPty(['login', '--token-file'], {
      cwd: env.HOME!,
      env,
      steps: [
        {waitFor: /Key service URL/, send: `keys.example.com${ENTER}`},
        {waitFor: /must be an http:\/\/ or https:\/\/ URL/, send: `${CLEAR}${svc.url}${ENTER}`},
        {waitFor: /Username/, send: `not a name!${ENTER}`},
        {waitFor: /Username[\s\S]*(letters|characters)/i, send: `${CLEAR}ann${ENTER}`},
        {waitFor: /Password for ann/, send: `${PASSWORD}${ENTER}`},
      ],
    })
    expect(run.code, run.output).toBe(0)
    expect(run.output).toMatch(/Signed in to \S+ as ann/)
  })

  it('init: a key service URL without a scheme is asked again; the next question follows', async () => {
    const repo = await makeRepo('prompt-app')
    const env = await cliEnv({APIKEY_TOKEN: await svc.token('ann')})
    const run = await runPty(['init'], {
      cwd: repo,
      env,
      steps: [
        {waitFor: /Key service URL/, send: `ftp://keys.example.com${ENTER}`},
        {waitFor: /must be an http:\/\/ or https:\/\/ URL/, send: `${CLEAR}${svc.url}${ENTER}`},
        {waitFor: /App slug/, send: '\u0003'},
      ],
    })
    expect(run.code).toBe(3)
  })
})
