/**
 * Issuing and inspecting API keys (design §3, §4). The plaintext key exists
 * only in the 201 response; the database holds HMAC-SHA256(pepper, key) and
 * the display start.
 */
import {ApikeyError} from '../../core/errors.js'
import {generateKey, parseKey} from '../../core/key-format.js'
import type {CreateKeyRequest, CreateKeyResponse, KeyKind, KeyView, KeyWhoamiResponse} from '../../core/wire.js'
import type {App} from '../model.js'
import {validationError} from '../problems.js'
import {inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {keyHash, newId} from './crypto.js'
import {appView, keyView} from './views.js'

/** Longest key name, in characters. */
export const MAX_KEY_NAME_LENGTH = 100
/** Smallest plausible `expiresAt` in ms (2001-09-09): smaller numbers are almost surely seconds. */
export const MIN_PLAUSIBLE_MS = 1e12

/** Issuing, listing and inspecting keys. */
export class KeysService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The app, when the caller is a member of its owning team.
   * @throws ApikeyError `not_found` for an unknown app; `forbidden` naming the
   *   owning team and contact, suggesting the caller register their own app.
   */
  private async appForMember(principal: Principal, slug: string): Promise<App> {
    const repos = repositories(this.ctx.db)
    const app = await repos.apps.findBySlug(slug)
    if (app === undefined) throw appNotFound(slug)
    const role = await repos.teams.roleOf(principal.user.id, app.team.id)
    if (role === undefined) {
      throw new ApikeyError(
        `the app "${app.slug}" belongs to team ${app.team.name} (${app.team.slug}); only its members can list or issue its keys. Its point of contact is ${app.contactEmail}. Keys are not shared between teams: ask them to add you to the team, or register your own app.`,
        {
          code: 'forbidden',
          suggestions: ['apikey init --app <another-slug>'],
          details: {
            owningTeam: app.team.slug,
            owningTeamName: app.team.name,
            contactEmail: app.contactEmail,
            ...(app.team.contactEmail === null ? {} : {teamContactEmail: app.team.contactEmail}),
            app: app.slug,
          },
        },
      )
    }
    return app
  }

  /**
   * Issues a key for an app of one of the caller's teams and records `key.create`.
   * Expiry: `request.expiresAt` (ms since epoch, in the future, at most
   * `settings.maxKeyTtlMs` ahead) or now + `settings.keyTtlMs[env]`.
   * Kind defaults to `ci` for env `ci`, else `dev`.
   * @returns the key view plus the plaintext `key` (shown this once).
   * @throws ApikeyError `not_found` | `forbidden` (see {@link appForMember}) | `validation`.
   */
  async create(principal: Principal, slug: string, request: CreateKeyRequest): Promise<CreateKeyResponse> {
    const app = await this.appForMember(principal, slug)
    const now = this.ctx.clock.now()
    const expiresAt = this.expiry(request, now)
    if (request.name !== undefined && (request.name.length > MAX_KEY_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(request.name))) {
      throw validationError('name', `at most ${MAX_KEY_NAME_LENGTH} characters, without control characters`)
    }
    const kind: KeyKind = request.kind ?? (request.env === 'ci' ? 'ci' : 'dev')
    const metadata = request.metadata ?? {}
    for (let attempt = 0; ; attempt++) {
      const key = generateKey({prefix: this.ctx.settings.keyPrefix, app: app.slug, env: request.env}, this.ctx.random)
      const start = parseKey(key).start
      if (start === undefined) throw new Error('generated key has no display start')
      const id = newId('key', this.ctx.random)
      try {
        const created = await inTransaction(this.ctx.db, async (repos) => {
          await repos.keys.insert({
            id,
            appId: app.id,
            env: request.env,
            kind,
            name: request.name ?? null,
            hash: keyHash(this.ctx.pepper, key),
            start,
            createdBy: principal.user.id,
            createdAt: now,
            expiresAt,
            metadata,
          })
          await repos.audit.append({
            at: now,
            actorUserId: principal.user.id,
            action: 'key.create',
            targetType: 'key',
            targetId: id,
            details: {app: app.slug, env: request.env, kind, start, expiresAt},
          })
          return repos.keys.findById(id)
        })
        if (created === undefined) throw new Error(`key ${id} vanished after insert`)
        return {...keyView(created, now), key}
      } catch (error) {
        // An id or hash collision is astronomically unlikely; retry once with fresh randomness.
        if (!isUniqueViolation(error) || attempt >= 1) throw error
      }
    }
  }

  private expiry(request: CreateKeyRequest, now: number): number {
    const max = now + this.ctx.settings.maxKeyTtlMs
    if (request.expiresAt === undefined) return Math.min(max, now + this.ctx.settings.keyTtlMs[request.env])
    const at = request.expiresAt
    if (!Number.isSafeInteger(at)) throw validationError('expiresAt', 'an integer number of milliseconds since the Unix epoch (UTC)')
    if (at < MIN_PLAUSIBLE_MS) throw validationError('expiresAt', `milliseconds since the Unix epoch; ${at} looks like seconds (multiply by 1000)`)
    if (at <= now) throw validationError('expiresAt', `must be in the future (now is ${now} ms)`)
    if (at > max) throw validationError('expiresAt', `at most ${Math.round(this.ctx.settings.maxKeyTtlMs / 86_400_000)} days ahead (≤ ${max} ms)`)
    return at
  }

  /**
   * Keys of an app (newest first), for members of its owning team.
   * @throws ApikeyError `not_found` | `forbidden`.
   */
  async list(principal: Principal, slug: string): Promise<KeyView[]> {
    const app = await this.appForMember(principal, slug)
    const now = this.ctx.clock.now()
    return (await repositories(this.ctx.db).keys.listForApp(app.id)).map((key) => keyView(key, now))
  }

  /**
   * What a key is: its app and key view, including revoked and expired keys
   * (see `status`). The key is parsed offline first; a key that fails its
   * checksum or rules is rejected without any database lookup.
   * @throws ApikeyError `malformed_key` (with `problems`) for a key that does not parse;
   *   `key_not_found` for a well-formed key this service did not issue.
   */
  async whoami(key: string): Promise<KeyWhoamiResponse> {
    const parsed = parseKey(key, this.ctx.settings.keyPrefix)
    if (!parsed.valid) {
      throw new ApikeyError(`the API key is malformed: ${parsed.problems.map((p) => p.message).join('; ')}`, {
        code: 'malformed_key',
        suggestions: ['apikey whoami'],
        details: {problems: parsed.problems},
      })
    }
    const repos = repositories(this.ctx.db)
    const found = await repos.keys.findByHash(keyHash(this.ctx.pepper, key))
    if (found === undefined) {
      throw new ApikeyError(`this service did not issue the key ${parsed.start ?? ''} (or it was deleted)`, {
        code: 'key_not_found',
        suggestions: parsed.app === undefined ? [] : [`apikey init --app ${parsed.app}`],
        details: {start: parsed.start},
      })
    }
    const app = await repos.apps.findById(found.appId)
    if (app === undefined) throw new Error(`app of key ${found.id} is missing`)
    return {app: appView(app), key: keyView(found, this.ctx.clock.now())}
  }
}
