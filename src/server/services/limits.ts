/**
 * Verification rate limits: the per-environment defaults of the
 * settings, overridden per app or per key (requests per minute) by members of
 * the owning team. A limit is a token bucket: capacity = the limit, refilled
 * continuously over its window.
 */
import {ApikeyError} from '../../core/errors.js'
import type {KeyEnvironment} from '../../core/key-format.js'
import type {EffectiveLimit, LimitView, SetKeyLimitRequest} from '../../core/wire.js'
import type {ApiKey, App} from '../model.js'
import {validationError} from '../problems.js'
import {inTransaction, repositories} from '../repositories/index.js'
import {MINUTE_MS, type RateLimitPolicy, type ServerSettings} from '../settings.js'
import {requireMember} from './access.js'
import {appNotFound} from './apps.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {KEY_ID_PATTERN} from './crypto.js'
import {findKeyWithApp, isPersonal, personalKeyError} from './keys.js'

export type {EffectiveLimit, LimitSource, LimitView} from '../../core/wire.js'

/**
 * The limit in force for a key of `env` given its overrides (rpm): key override, then
 * app override (both per minute), then `settings.verifyRateLimits[env]`.
 */
export function effectiveLimit(settings: ServerSettings, env: KeyEnvironment, overrides: {key: number | undefined; app: number | undefined}): EffectiveLimit {
  if (overrides.key !== undefined) return {limit: overrides.key, windowMs: MINUTE_MS, source: 'key'}
  if (overrides.app !== undefined) return {limit: overrides.app, windowMs: MINUTE_MS, source: 'app'}
  const base = settings.verifyRateLimits[env]
  return {limit: base.limit, windowMs: base.windowMs, source: 'default'}
}

/** The token-bucket policy of a limit: capacity `limit`, one token every `windowMs / limit` ms. */
export function bucketPolicy(limit: EffectiveLimit): RateLimitPolicy {
  return {capacity: limit.limit, refillIntervalMs: limit.windowMs / limit.limit}
}

/** Setting rate-limit overrides. */
export class LimitsService {
  constructor(
    private readonly ctx: ServiceContext,
    /** Called after an override changed (the verifier drops cached limits). */
    private readonly onChange: () => void = () => undefined,
  ) {}

  private checkRpm(request: SetKeyLimitRequest): number | null {
    const rpm = request.rpm
    if (rpm === null) return null
    if (!Number.isSafeInteger(rpm) || rpm < 1 || rpm > this.ctx.settings.maxRpm) throw validationError('rpm', `an integer from 1 to ${this.ctx.settings.maxRpm} requests per minute, or null to remove the override`)
    return rpm
  }

  /**
   * Sets (or with `rpm: null` removes) a key's override; members of the owning team only, and for a
   * personal key (see {@link isPersonal}) its holder or an owner of the team (service admins: any key).
   * Appends audit event `key.limit` ({from, to} in rpm).
   * @throws ApikeyError `validation` (rpm) | `key_not_found` | `forbidden`.
   */
  async setKeyLimit(principal: Principal, keyId: string, request: SetKeyLimitRequest): Promise<LimitView> {
    const rpm = this.checkRpm(request)
    if (!KEY_ID_PATTERN.test(keyId)) throw new ApikeyError('no key with this id (key ids look like key_ followed by 20 letters and digits)', {code: 'key_not_found'})
    const repos = repositories(this.ctx.db)
    const {key, app} = await findKeyWithApp(repos, keyId)
    if (!principal.user.isAdmin) {
      const role = await requireMember(repos, principal, app, 'change its rate limits')
      // Limiting a colleague's personal key is policing it: its holder or a team owner only, as for revoking.
      if (isPersonal(key) && key.createdByUserId !== principal.user.id && role !== 'owner') {
        throw personalKeyError(key, app, 'limit', `only ${key.createdBy} (who holds it) or an owner of team ${app.team.slug} can change its rate limit`)
      }
    }
    const overrides = await this.write(principal, app, key, rpm)
    this.onChange()
    return {keyId: key.id, app: app.slug, env: key.env, rpm, effective: effectiveLimit(this.ctx.settings, key.env, overrides)}
  }

  /**
   * Sets (or removes) an app-wide override for every key of the app without its own;
   * members of the owning team only. Appends `app.limit`.
   * @throws ApikeyError `validation` | `not_found` | `forbidden`.
   */
  async setAppLimit(principal: Principal, slug: string, request: SetKeyLimitRequest): Promise<LimitView> {
    const rpm = this.checkRpm(request)
    const repos = repositories(this.ctx.db)
    const app = await repos.apps.findBySlug(slug)
    if (app === undefined) throw appNotFound(slug)
    if (!principal.user.isAdmin) await requireMember(repos, principal, app, 'change its rate limits')
    await this.write(principal, app, undefined, rpm)
    this.onChange()
    return {keyId: null, app: app.slug, env: null, rpm, effective: null}
  }

  private async write(principal: Principal, app: App, key: ApiKey | undefined, rpm: number | null): Promise<{key: number | undefined; app: number | undefined}> {
    const now = this.ctx.clock.now()
    const scope = key === undefined ? 'app' : 'key'
    const targetId = key === undefined ? app.id : key.id
    return inTransaction(this.ctx.db, async (repos) => {
      const before = await repos.limits.forKey(key?.id ?? '', app.id)
      const from = scope === 'key' ? before.key : before.app
      if (rpm === null) await repos.limits.clear(scope, targetId)
      else await repos.limits.set({scope, targetId, rpm, updatedAt: now, updatedBy: principal.user.id})
      await repos.audit.append({
        at: now,
        actorUserId: principal.user.id,
        action: `${scope}.limit`,
        targetType: scope,
        targetId,
        appId: app.id,
        sourceAddress: principal.sourceAddress,
        details: {app: app.slug, ...(key === undefined ? {} : {env: key.env}), from: from ?? null, to: rpm},
      })
      return repos.limits.forKey(key?.id ?? '', app.id)
    })
  }
}
