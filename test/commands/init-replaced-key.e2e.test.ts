/**
 * What `apikey init` does with the key it replaces: an active key of yours is
 * ended after a short grace period (--grace); a key it cannot end (not yours,
 * already ended, the service refusing or unreachable) is named by id and
 * display start with the command that ends it, and the new key is stored all
 * the same. A stored key of another environment is replaced only with
 * consent (--replace), and status/whoami flag a stored key whose environment
 * differs from apikey.json. The real binary against the real service.
 */
import {readFile, writeFile} from 'node:fs/promises'
import {createServer, request as httpRequest, type Server} from 'node:http'
import {join} from 'node:path'
import {parse as parseDotenv} from 'dotenv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseKey} from '../../src/core/key-format.js'
import {developer, initProject} from '../helpers/project.js'
import {startTestService, type TestService} from '../helpers/service.js'

let svc: TestService

beforeAll(async () => {
  svc = await startTestService()
  await svc.addUser('ann', 'weather', {teamContactEmail: 'weather-team@example.com'})
  await svc.addUser('cy', 'weather')
})
afterAll(async () => svc?.close())

async function storedKey(repo: string): Promise<string> {
  return parseDotenv(await readFile(join(repo, '.env'))).API_KEY!
}

async function whoami(repo: string, key: string, env: Record<string, string | undefined>) {
  const dev = {run: (await developer(svc, 'ann')).run}
  return dev.run(['whoami', '--key', key, '--json'], repo, {env})
}

describe('init --new-key over a stored key of yours', () => {
  it('ends the old key after the default grace (1 h) and says so; --grace 0 ends it at once', async () => {
    const {repo, ann, keyId, key: oldKey} = await initProject(svc, 'grace-app')
    const r = await ann.run(['init', '--new-key', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.replaced).toMatchObject({id: keyId, start: parseKey(oldKey).start, outcome: 'ended'})
    expect(r.json.replaced.endsAt - Date.now()).toBeGreaterThan(59 * 60_000)
    expect(r.json.replaced.endsAt - Date.now()).toBeLessThanOrEqual(60 * 60_000)
    const newKey = await storedKey(repo)
    expect(newKey).not.toBe(oldKey)
    const old = await whoami(repo, oldKey, ann.env)
    expect(old.json.lookup.apiKey).toMatchObject({id: keyId, status: 'active', rotation: {replacedBy: r.json.key.id}})

    const plain = await ann.run(['init', '--new-key', '--grace', '0'], repo)
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toContain(`Ended the replaced key: key ${r.json.key.id}`)
    // With --grace 0 the key stopped at once, and --grace was given: no hint to pass it.
    expect(plain.stdout).toMatch(/stopped working at once/)
    expect(plain.stdout).not.toMatch(/keeps working|pass --grace/)
    expect(plain.stdout + plain.stderr).not.toContain(newKey)
    const ended = await whoami(repo, newKey, ann.env)
    expect(ended.code).toBe(1)
    expect(ended.json.lookup.apiKey.status).toBe('expired')
    // A replaced key names the key that replaced it instead of asking for a new key.
    const replacedBy = ended.json.lookup.apiKey.rotation.replacedBy
    expect(ended.json.warnings.join('\n')).toContain(`replaced by ${replacedBy}`)
    expect(ended.json.warnings.join('\n')).not.toContain('init --new-key')

    const given = await ann.run(['init', '--new-key', '--grace', '10m'], repo)
    expect(given.code, given.stderr).toBe(0)
    expect(given.stdout).toMatch(/keeps working, and stops/)
    expect(given.stdout).not.toContain('pass --grace')
  })

  it('a bad --grace is a usage error before anything is issued', async () => {
    const {repo, ann, key} = await initProject(svc, 'bad-grace-app')
    const r = await ann.run(['init', '--new-key', '--grace', 'soon'], repo)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--grace')
    expect(await storedKey(repo)).toBe(key)
  })

  it('an already revoked key: the new key is stored and the old one is named as already ended', async () => {
    const {repo, ann, keyId, key} = await initProject(svc, 'revoked-app')
    expect((await ann.run(['keys', 'revoke', keyId, '--yes'], repo)).code).toBe(0)
    const r = await ann.run(['init', '--new-key', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.replaced).toMatchObject({id: keyId, outcome: 'already-ended', reason: 'it was already revoked'})
    expect(await storedKey(repo)).not.toBe(key)
    expect(r.stderr).toContain(`key ${keyId}`)
  })

  it("a colleague's key in your .env: your new key is stored, theirs is named with the command that ends it", async () => {
    const {repo, key: annKey, keyId} = await initProject(svc, 'shared-app')
    const cy = await developer(svc, 'cy')
    const r = await cy.run(['init', '--new-key', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.replaced).toMatchObject({id: keyId, outcome: 'not-ended', command: `apikey keys revoke ${keyId}`})
    expect(r.json.replaced.reason).toContain("ann's key")
    expect(await storedKey(repo)).not.toBe(annKey)
    expect(r.stderr).toContain(`apikey keys revoke ${keyId}`)
    expect(r.stderr).not.toContain(annKey)
    // The colleague's key is untouched.
    expect((await whoami(repo, annKey, cy.env)).json.lookup.apiKey).toMatchObject({status: 'active', rotation: null})
  })

  describe('the key service unreachable when the old key is ended', () => {
    let proxy: Server
    let proxyUrl: string
    beforeAll(async () => {
      // In front of the real service: every request passes except ending a key, whose connection is cut.
      const target = new URL(svc.url)
      proxy = createServer((req, res) => {
        if (req.url?.endsWith('/replace')) {
          req.socket.destroy()
          return
        }
        const upstream = httpRequest({host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers}, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        req.pipe(upstream)
      })
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
      const address = proxy.address()
      if (address === null || typeof address === 'string') throw new Error('no proxy port')
      proxyUrl = `http://127.0.0.1:${address.port}`
    })
    afterAll(async () => new Promise<void>((resolve) => proxy.close(() => resolve())))

    it('the new key is stored and the old one is named (id, start) with the command that ends it', async () => {
      const {repo, ann, keyId, key} = await initProject(svc, 'outage-app')
      const r = await ann.run(['init', '--new-key', '--json'], repo, {env: {APIKEY_SERVER: proxyUrl}})
      expect(r.code, r.stderr).toBe(0)
      expect(r.json.replaced).toMatchObject({id: keyId, start: parseKey(key).start, outcome: 'not-ended', command: `apikey keys revoke ${keyId}`})
      expect(r.json.replaced.reason).toMatch(/did not end it/)
      const stored = await storedKey(repo)
      expect(stored).not.toBe(key)
      expect(stored).toMatch(/^ak_outage-app_dev_/)
      expect(r.stderr).not.toContain(key)
      expect((await whoami(repo, key, ann.env)).json.lookup.apiKey).toMatchObject({status: 'active', rotation: null})
    })
  })
})

describe('init --env over a stored key of another environment', () => {
  it('refuses without --replace (exit 2, nothing issued or changed); --replace stores it; status and whoami flag the mismatch', async () => {
    const {repo, ann, key: devKey, keyId} = await initProject(svc, 'env-app')
    const listBefore = await ann.run(['keys', 'list', '--json'], repo)
    const refused = await ann.run(['init', '--env', 'stage'], repo)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/holds a dev key \(ak_env-app_dev_/)
    expect(refused.stderr).toContain('--replace')
    expect(await storedKey(repo)).toBe(devKey)
    expect((await ann.run(['keys', 'list', '--json'], repo)).json).toEqual(listBefore.json)

    const replaced = await ann.run(['init', '--env', 'stage', '--replace', '--json'], repo)
    expect(replaced.code, replaced.stderr).toBe(0)
    expect(replaced.json.key.env).toBe('stage')
    // A key of another env is not ended on its own: it is named with the command that ends it.
    expect(replaced.json.replaced).toMatchObject({id: keyId, env: 'dev', outcome: 'not-ended', command: `apikey keys revoke ${keyId}`})
    const stageKey = await storedKey(repo)
    expect(stageKey).toMatch(/^ak_env-app_stage_/)
    expect(JSON.parse(await readFile(join(repo, 'apikey.json'), 'utf8')).env).toBe('dev')
    // init says at once that apikey.json was left at dev, and how to make the two agree.
    const left = replaced.json.warnings.join('\n')
    expect(left).toMatch(/apikey\.json still says env dev: it is shared with the team and was not changed/)
    expect(left).toContain('apikey init --env dev --replace')
    expect(left).toContain('edit "env" in apikey.json')

    const status = await ann.run(['status', '--json'], repo)
    expect(status.json.warnings.join('\n')).toMatch(/holds a stage key \(ak_env-app_stage_\S+\) but apikey\.json says app env-app, env dev/)
    const who = await ann.run(['whoami'], repo)
    expect(who.stderr).toMatch(/holds a stage key .* but apikey\.json says app env-app, env dev/)
    expect(who.stdout + who.stderr).not.toContain(stageKey)
  })

  it('a value that is not a key is replaced without asking (nothing to lose)', async () => {
    const {repo, ann} = await initProject(svc, 'junk-app')
    await writeFile(join(repo, '.env'), 'API_KEY=changeme\n')
    const r = await ann.run(['init', '--json'], repo)
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.replaced).toBeUndefined()
    expect(await storedKey(repo)).toMatch(/^ak_junk-app_dev_/)
  })
})
