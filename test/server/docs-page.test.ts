/**
 * The page every refusal links to exists on the service, and the command callers are told to run
 * comes from the service's settings: `apikey init` by default (never `npx apikey init`: the public
 * npm name `apikey` is someone else's package), `npx --yes <package> init` with a configured CLI
 * package, or a configured command verbatim.
 */
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {afterEach, describe, expect, it} from 'vitest'
import {BIN} from '../helpers/cli.js'
import {KEY_PROBLEMS} from '../../src/core/problem-types.js'
import {resolveSettings} from '../../src/server/settings.js'
import {startHarness, tempDir, type Harness} from './helpers.js'
import {rm} from 'node:fs/promises'

/** Every problem code a caller of a protected API can get (KEY_PROBLEMS), each documented with its title. */
const CODES = Object.entries(KEY_PROBLEMS).map(([code, {title}]) => [code, title] as const)

describe('the docs page and the get-key command', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.cleanup()
    h = undefined
  })

  it('by default /v1/meta links to the service\'s own /docs page, which exists and names `apikey init`, the env var and every code', async () => {
    h = await startHarness()
    const meta = await h.request('GET', '/v1/meta')
    expect(meta.body).toMatchObject({docsUrl: `${h.url}/docs`, getKeyCommand: 'apikey init', cliPackage: null})
    const html = await fetch(meta.body.docsUrl as string)
    expect(html.status).toBe(200)
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const page = await html.text()
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).toContain('<pre><code>apikey init</code></pre>')
    expect(page).toContain('API_KEY')
    expect(page).toContain('ask the platform team')
    for (const [code, title] of CODES) expect(page).toContain(`<td>${code}</td><td>${title}</td>`)
    expect(page).not.toContain('npx apikey')
    const markdown = await fetch(meta.body.docsUrl as string, {headers: {accept: 'text/markdown'}})
    expect(markdown.headers.get('content-type')).toBe('text/markdown; charset=utf-8')
    const text = await markdown.text()
    expect(text).toContain('```sh\napikey init\n```')
    for (const [code, title] of CODES) expect(text).toContain(`| ${code} | ${title} |`)
  })

  it('a configured CLI package gives `npx --yes <package> init`, its install command, and messages that name it', async () => {
    h = await startHarness({settings: {cliPackage: '@acme/apikey', keyEnvVar: 'WEATHER_KEY'}})
    const meta = await h.request('GET', '/v1/meta')
    expect(meta.body).toMatchObject({getKeyCommand: 'npx --yes @acme/apikey init', cliPackage: '@acme/apikey'})
    const page = await (await fetch(`${h.url}/docs`, {headers: {accept: 'text/markdown'}})).text()
    expect(page).toContain('npm install --save-dev @acme/apikey')
    expect(page).toContain('npx --yes @acme/apikey init')
    expect(page).toContain('WEATHER_KEY')
    await h.addUser('ann', 'mobile')
    const session = await h.login('ann')
    await h.createApp(session, 'weather-app', 'mobile')
    const issued = await h.issueKey(session, 'weather-app')
    const verifier = await h.addVerifier()
    const unknown = await h.verify(verifier, `${issued.key.slice(0, -8)}AAAAAAAA`)
    expect(unknown.body.suggestions).toEqual(['npx --yes @acme/apikey init'])
    expect(unknown.body.getKeyCommand).toBe('npx --yes @acme/apikey init')
    expect(unknown.body.docsUrl).toBe(`${h.url}/docs`)
    expect(await h.request('DELETE', `/v1/keys/${issued.id}`, {token: session})).toMatchObject({status: 200})
    const revoked = await h.verify(verifier, issued.key)
    expect(revoked.body).toMatchObject({code: 'REVOKED', suggestions: ['npx --yes @acme/apikey init --new-key']})
    expect(revoked.body.message).toMatch(/revoked .*Get a new key: npx --yes @acme\/apikey init --new-key$/)
    // The nginx auth-request form passes the command and the docs link on for the gateway to show.
    const gateway = await h.request('GET', '/v1/verify/auth-request', {headers: {'x-verifier-token': verifier, 'x-api-key': issued.key}})
    expect(gateway.status).toBe(401)
    expect(gateway.headers.get('x-apikey-code')).toBe('REVOKED')
    expect(gateway.headers.get('x-apikey-suggestion')).toBe('npx --yes @acme/apikey init --new-key')
    expect(gateway.headers.get('x-apikey-docs-url')).toBe(`${h.url}/docs`)
  })

  it('a configured command and public URL are used verbatim', async () => {
    h = await startHarness({settings: {getKeyCommand: 'acme-dev keys get', publicUrl: 'https://apikey.acme.test/'}})
    const meta = await h.request('GET', '/v1/meta')
    expect(meta.body).toMatchObject({docsUrl: 'https://apikey.acme.test/docs', getKeyCommand: 'acme-dev keys get'})
    expect((await h.request('GET', '/openapi.json')).body.servers).toEqual([{url: 'https://apikey.acme.test', description: 'this key service'}])
  })

  it('settings that could not be shown safely are refused', () => {
    expect(() => resolveSettings({cliPackage: 'Not A Package'})).toThrow(/settings.cliPackage must be an npm package name/)
    expect(() => resolveSettings({getKeyCommand: 'say "hi"'})).toThrow(/settings.getKeyCommand must be/)
    expect(() => resolveSettings({getKeyCommand: 'line\nbreak'})).toThrow(/settings.getKeyCommand must be/)
    expect(() => resolveSettings({docsUrl: 'javascript:alert(1)'})).toThrow(/settings.docsUrl must be an http or https URL/)
    expect(() => resolveSettings({publicUrl: 'https://host/?q=1'})).toThrow(/settings.publicUrl/)
  })

  it('`server start` refuses a bad --cli-package or --get-key-command with exit 2 before it creates a database', async () => {
    const dir = await tempDir()
    try {
      for (const flags of [['--cli-package', 'Not A Package'], ['--get-key-command', 'say "hi"']]) {
        const result = await promisify(execFile)(process.execPath, [BIN, 'server', 'start', '--port', '0', '--db', join(dir, 'apikey.db'), ...flags]).then(
          () => ({code: 0, stderr: ''}),
          (error: {code: number; stderr: string}) => error,
        )
        expect(result.code).toBe(2)
        expect(result.stderr).toMatch(new RegExp(`${flags[0]} must be`))
        expect(existsSync(join(dir, 'apikey.db'))).toBe(false)
      }
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
