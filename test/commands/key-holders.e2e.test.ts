/**
 * Who may change a key and an app, end to end: a personal key is rotated only
 * by its holder and revoked by them or a team owner (whose name its holder's
 * whoami then shows); a service admin revokes any key with --reason; `keys
 * revoke` checks the id before asking for --yes; `apps transfer` needs the
 * point of contact and a confirmation, says who may transfer in help and
 * error alike, and stops the app's provisioning tokens. The real binary
 * against the real service.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {havePty, runPty} from '../helpers/pty.js'
import {developer} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'
import {makeRepo} from '../helpers/git.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'}) // owner of weather
  await svc.addUser('cy', 'weather') // member of weather
  await svc.addUser('ann', 'maps')
  await svc.addUser('root', 'platform', {admin: true})
})
afterAll(async () => svc?.close())

/** A repo where ann (in two teams) ran `apikey init` for an app of team weather. */
async function initProject(_svc: TestService, slug: string) {
  const repo = await makeRepo(slug)
  const ann = await developer(svc, 'ann')
  const r = await ann.run(['init', '--app', slug, '--team', 'weather', '--contact', 'ann@example.com', '--yes', '--json'], repo)
  expect(r.code, r.stderr).toBe(0)
  return {repo, ann, keyId: r.json.key.id as string}
}

describe('personal keys', () => {
  it("a member cannot rotate a colleague's dev key (no secret printed); a team owner revokes it and the holder's whoami says who and when", async () => {
    const {repo} = await initProject(svc, 'holder-app')
    const cy = await developer(svc, 'cy')
    const own = await cy.run(['init', '--json'], repo)
    expect(own.code, own.stderr).toBe(0)
    const cyKeyId = own.json.key.id as string
    const ann = await developer(svc, 'ann')
    const annKeys = (await ann.run(['keys', 'list', '--json'], repo)).json.keys
    const annKeyId = annKeys.find((k: {createdBy: string}) => k.createdBy === 'ann').id as string

    const rotated = await cy.run(['keys', 'rotate', annKeyId, '--grace', '0', '--json'], repo)
    expect(rotated.code).toBe(1)
    expect(rotated.json.error.code).toBe('forbidden')
    expect(rotated.json.error.message).toContain('only ann (who holds it) can rotate it')
    expect(rotated.stdout).not.toMatch(/ak_holder-app_dev_[0-9A-Za-z]{36}/)
    const revokedByMember = await cy.run(['keys', 'revoke', annKeyId, '--yes', '--json'], repo)
    expect(revokedByMember.code).toBe(1)
    expect(revokedByMember.json.error.message).toContain('or an owner of team weather can revoke it')

    const revoked = await ann.run(['keys', 'revoke', cyKeyId, '--yes', '--json'], repo)
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.json.key).toMatchObject({status: 'revoked', revokedBy: 'ann'})
    const who = await cy.run(['whoami'], repo)
    expect(who.code).toBe(1)
    expect(who.stdout).toMatch(/revoked at \d{4}-\S+ by ann/)
  })
})

describe('keys revoke', () => {
  it('an unknown id is reported as such before --yes is asked for (exit 1, not 2)', async () => {
    const {repo, ann} = await initProject(svc, 'unknown-id-app')
    const r = await ann.run(['keys', 'revoke', `key_${'Z'.repeat(20)}`], repo)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(`no key with id key_${'Z'.repeat(20)}`)
    expect(r.stderr).not.toContain('--yes')
    // A known id still needs --yes without a terminal.
    const list = await ann.run(['keys', 'list', '--json'], repo)
    const needs = await ann.run(['keys', 'revoke', list.json.keys[0].id], repo)
    expect(needs.code).toBe(2)
    expect(needs.stderr).toContain('--yes')
  })

  it('a service admin outside the team revokes any key with --reason (kept in the audit log); without it exit 2 naming --reason', async () => {
    const {repo, ann, keyId} = await initProject(svc, 'incident-app')
    const root = await developer(svc, 'root')
    const elsewhere = await makeRepo('admin-elsewhere')
    const noReason = await root.run(['keys', 'revoke', keyId, '--yes'], elsewhere)
    expect(noReason.code, noReason.stderr).toBe(2)
    expect(noReason.stderr).toContain('--reason')
    const done = await root.run(['keys', 'revoke', keyId, '--yes', '--reason', 'leaked in a public gist', '--json'], elsewhere)
    expect(done.code, done.stderr).toBe(0)
    expect(done.json.key).toMatchObject({id: keyId, status: 'revoked', revokedBy: 'root'})
    const audit = await ann.run(['audit', '--app', 'incident-app', '--json'], repo)
    expect(audit.code, audit.stderr).toBe(0)
    const event = audit.json.events.find((e: {action: string}) => e.action === 'key.revoke')
    expect(event.details).toMatchObject({reason: 'leaked in a public gist', asAdmin: true})
  })
})

describe('apps transfer', () => {
  it('help and error say who may transfer; --contact and --yes are required without a terminal; the app’s tokens stop', async () => {
    const {repo, ann} = await initProject(svc, 'transfer-app')
    // Help text as oclif prints it from the real binary.
    const help = await runCli(['apps', 'transfer', '--help'], {cwd: repo, env: ann.env, mode: 'subprocess'})
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('Only owners of the owning team (or service admins) can transfer an app, and only to a team they are a member of')
    const cy = await developer(svc, 'cy')
    const refused = await cy.run(['apps', 'transfer', 'transfer-app', '--to-team', 'maps', '--contact', 'maps@example.com', '--yes', '--json'], repo)
    expect(refused.code, refused.stdout).toBe(1)
    expect(refused.json.error.message).toContain('only owners of the owning team (or service admins) can transfer an app, and only to a team they are a member of')

    const token = await ann.run(['tokens', 'create', '--scope', 'ci', '--name', 'gha', '--json'], repo)
    expect(token.code, token.stderr).toBe(0)

    const noContact = await ann.run(['apps', 'transfer', 'transfer-app', '--to-team', 'maps', '--yes'], repo)
    expect(noContact.code).toBe(2)
    expect(noContact.stderr).toContain('--contact')
    expect(noContact.stderr).toContain('the current one is ann@example.com')
    const noYes = await ann.run(['apps', 'transfer', 'transfer-app', '--to-team', 'maps', '--contact', 'maps@example.com'], repo)
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('--yes')
    expect((await ann.run(['apps', 'show', 'transfer-app', '--json'], repo)).json.app.team.slug).toBe('weather')

    const moved = await ann.run(['apps', 'transfer', 'transfer-app', '--to-team', 'maps', '--contact', 'maps@example.com', '--yes'], repo)
    expect(moved.code, moved.stderr).toBe(0)
    expect(moved.stderr).toContain(`1 provisioning token of the app stopped: ${token.json.id} (gha)`)
    const tokens = await ann.run(['tokens', 'list', '--app', 'transfer-app', '--json'], repo)
    expect(tokens.json.tokens.find((t: {id: string}) => t.id === token.json.id)).toMatchObject({status: 'revoked'})
  })

  it('on a terminal it asks for the point of contact (default: the current one) and confirmation; "n" cancels (exit 3)', async () => {
    if (!(await havePty())) return
    const {repo, ann} = await initProject(svc, 'asked-app')
    const no = await runPty(['apps', 'transfer', 'asked-app', '--to-team', 'maps'], {
      cwd: repo,
      env: ann.env,
      steps: [
        {waitFor: /Point of contact for asked-app in team maps/, send: '\r'},
        {waitFor: /Move asked-app from team weather to team maps\?/, send: 'n\r'},
      ],
      killAfterMs: 20_000,
    })
    expect(no.code, no.output).toBe(3)
    expect((await ann.run(['apps', 'show', 'asked-app', '--json'], repo)).json.app.team.slug).toBe('weather')
  })
})
