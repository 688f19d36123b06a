/**
 * The one place that changes key state: issue, rotate (or replace with an
 * existing key), revoke, expiry change and app transfer (which also stops the
 * app's provisioning tokens). Each operation runs in one SQLite transaction that
 * also appends its audit event, and — only after the transaction committed —
 * emits a {@link LifecycleEvent} on {@link LifecycleEvents}, which a verifier
 * cache subscribes to for invalidation. No route or other service
 * writes `api_keys` or `apps.team_id` except through this module — except
 * `last_used_at`, usage telemetry that changes no verdict, written by
 * `services/usage.ts` (at most once a minute per key).
 *
 * Authorization (who may do it) is the caller's job (`services/keys.ts`,
 * `services/apps.ts`); this module enforces state rules (a revoked key cannot
 * be rotated, a `prod` key needs a point of contact, …).
 */
import {isPlausibleEpochMs} from '../../core/duration.js'
import {ApikeyError} from '../../core/errors.js'
import {generateKey, parseKey, type KeyEnvironment} from '../../core/key-format.js'
import {replacementCommand} from '../../core/replacement-command.js'
import {isValidEmail} from '../../core/validation.js'
import type {CreateKeyResponse, KeyKind, KeyMetadata, KeyRotation, KeyView, RevokeKeyResponse, RotateKeyResponse} from '../../core/wire.js'
import type {ApiKey, App, ProvisioningToken, Team} from '../model.js'
import {inTransaction, isUniqueViolation, type Repositories} from '../repositories/index.js'
import {DAY_MS, getKeyCommandOf, maxKeyLifetimeMs} from '../settings.js'
import type {ServiceContext} from './context.js'
import {keyHash, newId} from './crypto.js'
import {keyStatus, keyView, tokenStatus} from './views.js'

/** What changed. `key.*` events list the keys whose verdict may have changed; `app.transferred` lists every key of the app. */
export type LifecycleEventType =
  | 'key.created'
  | 'key.rotated'
  | 'key.revoked'
  | 'key.expiry_changed'
  | 'app.transferred'
  // Changes made by `apikey server …` admin commands, read from the audit log (services/admin-changes.ts).
  | 'team.created'
  | 'user.created'
  | 'user.promoted'
  | 'membership.added'
  | 'verifier.created'
  | 'verifier.revoked'

/**
 * A committed change of key state, for cache invalidation. Emitted after the
 * transaction committed, once per operation, synchronously to every listener.
 */
export interface LifecycleEvent {
  type: LifecycleEventType
  /** Public ids of the keys concerned (`key.rotated`: the old key and its replacement). */
  keyIds: string[]
  /** Slug of the app the keys belong to ('' for an admin change, which concerns no app). */
  app: string
  /** Admin changes: the team, user or verifier changed (audit target type and public id). */
  target?: {type: string; id: string}
  /** When the change took effect, ms since epoch (the injected clock). */
  at: number
  /** `key.rotated`: id of the replacement key. */
  replacedBy?: string
  /** `key.rotated`: the old key stops verifying at this instant (ms); equals `at` for grace 0. */
  graceEndsAt?: number
  /** `key.expiry_changed`: the new expiry (ms). */
  expiresAt?: number
  /** `app.transferred`: previous and new owning team slugs. */
  fromTeam?: string
  toTeam?: string
  /** `app.transferred`: provisioning tokens of the app that the transfer revoked. */
  revokedTokenIds?: string[]
}

/** A subscriber of {@link LifecycleEvents}. Must not throw (errors are reported, never propagated to the request). */
export type LifecycleListener = (event: LifecycleEvent) => void

/**
 * A small typed in-process emitter of {@link LifecycleEvent}s. One per service
 * process (see `AppDeps.events` / `StartServerOptions.events`).
 */
export class LifecycleEvents {
  private readonly listeners = new Set<LifecycleListener>()
  private errorHandler: (error: unknown, event: LifecycleEvent) => void = () => undefined

  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: LifecycleListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Where errors thrown by listeners go (the app logs them); default: ignored. */
  onListenerError(handler: (error: unknown, event: LifecycleEvent) => void): void {
    this.errorHandler = handler
  }

  /** Delivers `event` to every listener in subscription order; a throwing listener does not stop the others. */
  emit(event: LifecycleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (error) {
        this.errorHandler(error, event)
      }
    }
  }
}

/** Who performs a change, for the audit log. */
export interface Actor {
  /** Acting user (null for a provisioning token). */
  userId: string | null
  /** Acting provisioning token, if any. */
  tokenId: string | null
  /** Client address as Fastify resolved it (trustProxy), or null. */
  sourceAddress: string | null
}

/** Input of {@link KeyLifecycle.issue}; request rules (name, env, kind) are checked by the caller. */
export interface IssueKeyInput {
  app: App
  env: KeyEnvironment
  kind: KeyKind
  name: string | null
  /** Requested expiry (ms since epoch), checked by {@link KeyLifecycle.expiryFor}; default per env. */
  expiresAt?: number | undefined
  metadata: KeyMetadata
  /** User recorded as `created_by` (for a token: the token's creator). */
  createdByUserId: string
  /** Provisioning token that issues the key, if any (shown as `createdBy: token:<id>`). */
  createdByTokenId?: string | null
}

/** Shorthand for a 400 naming `expiresAt` and its rule. */
function expiryError(rule: string): ApikeyError {
  return new ApikeyError(`expiresAt: ${rule}`, {code: 'validation', details: {field: 'expiresAt', errors: [{field: 'expiresAt', message: rule}]}})
}

/** Whole days of `ms`, for messages. */
function days(ms: number): string {
  const d = ms / DAY_MS
  return Number.isInteger(d) ? `${d} days` : `${Math.round(d * 10) / 10} days`
}

/** The 409 for a state change that the key's state forbids. */
function stateConflict(message: string, key: ApiKey, now: number, extra: Record<string, unknown> = {}, suggestions?: string[]): ApikeyError {
  return new ApikeyError(message, {code: 'conflict', details: {keyId: key.id, status: keyStatus(key, now), ...extra}, ...(suggestions === undefined ? {} : {suggestions})})
}

/**
 * The state rules of rotation: a revoked, expired or already rotated key cannot be rotated.
 * @throws ApikeyError `conflict` naming the state and what to do instead.
 */
function checkRotatable(old: ApiKey, now: number, getKeyCommand: string): void {
  const status = keyStatus(old, now)
  const issueNew = (ended: 'expired' | 'revoked'): {message: string; suggestions: string[]} => {
    const command = replacementCommand({kind: old.kind, app: old.appSlug, env: old.env, status: ended}, getKeyCommand)
    return {message: `a${ended === 'expired' ? 'n' : ''} ${ended} key cannot be rotated — issue a new key instead: ${command}`, suggestions: [command]}
  }
  if (status === 'revoked') {
    const {message, suggestions} = issueNew('revoked')
    throw stateConflict(`key ${old.id} was revoked at ${new Date(old.revokedAt ?? now).toISOString()}; ${message}`, old, now, {}, suggestions)
  }
  if (old.rotation !== null) {
    throw stateConflict(`key ${old.id} was already rotated at ${new Date(old.rotation.rotatedAt).toISOString()}; rotate its replacement ${old.rotation.replacedBy} instead`, old, now, {replacedBy: old.rotation.replacedBy})
  }
  if (status === 'expired') {
    const {message, suggestions} = issueNew('expired')
    throw stateConflict(`key ${old.id} expired at ${new Date(old.expiresAt ?? now).toISOString()}; ${message}`, old, now, {}, suggestions)
  }
}

/**
 * Ends `old` in favour of `fresh` inside a rotation transaction: the old key
 * stops verifying at min(its expiry, now + grace) and records `replacedBy`;
 * one `key.rotate` audit entry names both keys. Shared by rotation (a key
 * issued in the same transaction) and replacement (a key issued earlier).
 * @param options.grace - grace period in ms (already validated).
 * @param options.details - extra audit details of the caller.
 * @returns the old key as stored afterwards.
 * @throws ApikeyError `conflict` when the old key was rotated concurrently.
 */
async function endInFavourOf(
  repos: Repositories,
  old: ApiKey,
  fresh: ApiKey,
  options: {grace: number; now: number; actor: Actor; details: Record<string, unknown>},
): Promise<ApiKey> {
  const {grace, now, actor} = options
  const graceEndsAt = Math.min(old.expiresAt ?? Number.MAX_SAFE_INTEGER, now + grace)
  const changed = await repos.keys.markRotated(old.id, {rotatedAt: now, replacedBy: fresh.id, graceEndsAt})
  if (!changed) throw stateConflict(`key ${old.id} was rotated concurrently`, old, now)
  await repos.audit.append({
    at: now,
    actorUserId: actor.userId,
    actorTokenId: null,
    action: 'key.rotate',
    targetType: 'key',
    targetId: old.id,
    appId: old.appId,
    sourceAddress: actor.sourceAddress,
    details: {app: old.appSlug, env: old.env, newKeyId: fresh.id, newStart: fresh.start, graceMs: grace, graceEndsAt, ...options.details},
  })
  const updated = await repos.keys.findById(old.id)
  if (updated === undefined) throw new Error(`key ${old.id} vanished during rotation`)
  return updated
}

/** The 404 for an unknown key id (the id is echoed only when it has the shape of a key id). */
export function keyNotFound(id: string): ApikeyError {
  return new ApikeyError(`no key with id ${id}`, {code: 'key_not_found', details: {keyId: id}})
}

/** Performs every key state change (see the module comment). */
export class KeyLifecycle {
  constructor(
    private readonly ctx: ServiceContext,
    /** Where committed changes are announced. */
    readonly events: LifecycleEvents,
  ) {}

  /**
   * The expiry of a new key in `env` at `now` (all ms since epoch, UTC).
   * Without `requested`: now + `settings.keyTtlMs[env]`, capped at the env maximum.
   * With it: a plausible epoch-ms instant (core `isPlausibleEpochMs` range; values in
   * seconds are refused), strictly after now, and at most {@link maxKeyLifetimeMs} ahead.
   * @throws ApikeyError `validation` naming `expiresAt` and the rule it breaks.
   */
  expiryFor(env: KeyEnvironment, requested: number | undefined, now: number): number {
    const maxMs = maxKeyLifetimeMs(this.ctx.settings, env)
    const max = now + maxMs
    if (requested === undefined) return Math.min(max, now + this.ctx.settings.keyTtlMs[env])
    if (!Number.isSafeInteger(requested)) throw expiryError('an integer number of milliseconds since the Unix epoch (UTC)')
    if (!isPlausibleEpochMs(requested)) {
      throw expiryError(
        requested < 1_000_000_000_000
          ? `milliseconds since the Unix epoch (UTC); ${requested} looks like seconds (multiply by 1000) and is not a plausible instant`
          : `milliseconds since the Unix epoch (UTC); ${requested} is after the year 2286 and not a plausible instant`,
      )
    }
    if (requested <= now) throw expiryError(`must be in the future (now is ${new Date(now).toISOString()}, ${now} ms; given ${new Date(requested).toISOString()})`)
    if (requested > max) throw expiryError(`a ${env} key lives at most ${days(maxMs)} (until ${new Date(max).toISOString()}, ${max} ms)`)
    return requested
  }

  /**
   * Issues a key: inserts it, appends `key.create`, emits `key.created`.
   * A `prod` key requires the app to have a valid point of contact.
   * @returns the key view plus the plaintext `key` (shown this once).
   * @throws ApikeyError `validation` (expiry) | `conflict` (prod key without a point of contact).
   */
  async issue(input: IssueKeyInput, actor: Actor): Promise<CreateKeyResponse> {
    const now = this.ctx.clock.now()
    const expiresAt = this.expiryFor(input.env, input.expiresAt, now)
    this.checkPointOfContact(input.app, input.env)
    const created = await this.withFreshKey(input.app, input.env, (secret) =>
      inTransaction(this.ctx.db, async (repos) => {
        const key = await this.insertKey(repos, secret, {...input, expiresAt, createdAt: now})
        await repos.audit.append({
          at: now,
          actorUserId: actor.userId,
          actorTokenId: actor.tokenId,
          action: 'key.create',
          targetType: 'key',
          targetId: key.id,
          appId: input.app.id,
          sourceAddress: actor.sourceAddress,
          details: {app: input.app.slug, env: key.env, kind: key.kind, start: key.start, expiresAt, ...(input.createdByTokenId ? {viaToken: input.createdByTokenId} : {})},
        })
        return key
      }),
    )
    this.events.emit({type: 'key.created', keyIds: [created.key.id], app: input.app.slug, at: now})
    return {...keyView(created.key, now), key: created.secret}
  }

  /**
   * Rotates a key: issues a replacement with the same app, env, kind, name and
   * metadata (and the old key's lifetime, capped at the env maximum), and ends
   * the old key at min(its expiry, now + grace) — `grace` 0 ends it at once (status
   * `expired`). Appends one `key.rotate` event (target the old key, details name the
   * new one) and emits `key.rotated` with both ids.
   * @param graceMs grace period in ms; default `settings.rotationGraceMs`.
   * @throws ApikeyError `key_not_found`; `validation` for a negative, fractional or
   *   over-maximum grace; `conflict` when the key is revoked, expired, or already rotated.
   */
  async rotate(keyId: string, graceMs: number | undefined, actor: Actor & {userId: string}): Promise<RotateKeyResponse> {
    const grace = this.graceFor(graceMs)
    const now = this.ctx.clock.now()
    const result = await this.withFreshKey(undefined, undefined, (secret) =>
      inTransaction(this.ctx.db, async (repos) => {
        const old = await repos.keys.findById(keyId)
        if (old === undefined) throw keyNotFound(keyId)
        const app = await repos.apps.findById(old.appId)
        if (app === undefined) throw new Error(`app of key ${old.id} is missing`)
        checkRotatable(old, now, getKeyCommandOf(this.ctx.settings))
        this.checkPointOfContact(app, old.env)
        const lifetime = old.expiresAt === null ? this.ctx.settings.keyTtlMs[old.env] : old.expiresAt - old.createdAt
        const expiresAt = now + Math.min(Math.max(lifetime, 1), maxKeyLifetimeMs(this.ctx.settings, old.env))
        const fresh = await this.insertKey(repos, secret, {
          app,
          env: old.env,
          kind: old.kind,
          name: old.name,
          metadata: old.metadata,
          createdByUserId: actor.userId,
          expiresAt,
          createdAt: now,
        })
        const updated = await endInFavourOf(repos, old, fresh, {grace, now, actor, details: {newExpiresAt: expiresAt}})
        return {app, old: updated, fresh}
      }),
    )
    const {app, old, fresh} = result.key
    const rotation = old.rotation as KeyRotation
    this.events.emit({type: 'key.rotated', keyIds: [old.id, fresh.id], app: app.slug, at: now, replacedBy: fresh.id, graceEndsAt: rotation.graceEndsAt})
    return {newKey: {...keyView(fresh, now), key: result.secret}, oldKey: {...keyView(old, now), rotation}}
  }

  /**
   * Ends a key in favour of an existing replacement, as {@link rotate} does but
   * without issuing a key: the old key ends at min(its expiry, now + grace)
   * and records `replacedBy`. The replacement must be another active, never
   * rotated key of the same app and env issued by the acting user. Appends one
   * `key.rotate` event (details: `newKeyId`, `existingReplacement: true`) and
   * emits `key.rotated` with both ids.
   * @throws ApikeyError `key_not_found` (either key); `validation` for the grace or an
   *   unsuitable replacement (field `replacementId`); `conflict` when the old key is
   *   revoked, expired or already rotated.
   */
  async replace(keyId: string, replacementId: string, graceMs: number | undefined, actor: Actor & {userId: string}): Promise<{oldKey: KeyView & {rotation: KeyRotation}; newKey: KeyView}> {
    const grace = this.graceFor(graceMs)
    const now = this.ctx.clock.now()
    const {app, old, fresh} = await inTransaction(this.ctx.db, async (repos) => {
      const old = await repos.keys.findById(keyId)
      if (old === undefined) throw keyNotFound(keyId)
      const fresh = await repos.keys.findById(replacementId)
      if (fresh === undefined) throw keyNotFound(replacementId)
      const unsuitable = (rule: string) => new ApikeyError(`replacementId: ${rule}`, {code: 'validation', details: {field: 'replacementId', errors: [{field: 'replacementId', message: rule}]}})
      if (fresh.id === old.id) throw unsuitable('a key cannot replace itself')
      if (fresh.appId !== old.appId || fresh.env !== old.env) throw unsuitable(`the replacement must be a key of the same app and env (${old.appSlug}, ${old.env})`)
      if (fresh.createdByTokenId !== null || fresh.createdByUserId !== actor.userId) throw unsuitable('the replacement must be a key you issued')
      if (keyStatus(fresh, now) !== 'active' || fresh.rotation !== null) throw unsuitable(`the replacement ${fresh.id} is not an active, never rotated key`)
      checkRotatable(old, now, getKeyCommandOf(this.ctx.settings))
      const updated = await endInFavourOf(repos, old, fresh, {grace, now, actor, details: {existingReplacement: true}})
      return {app: old.appSlug, old: updated, fresh}
    })
    const rotation = old.rotation as KeyRotation
    this.events.emit({type: 'key.rotated', keyIds: [old.id, fresh.id], app, at: now, replacedBy: fresh.id, graceEndsAt: rotation.graceEndsAt})
    return {oldKey: {...keyView(old, now), rotation}, newKey: keyView(fresh, now)}
  }

  /**
   * A grace period in ms: `graceMs` or `settings.rotationGraceMs`.
   * @throws ApikeyError `validation` (field `graceMs`) unless a whole number of ms from 0 to `settings.maxRotationGraceMs`.
   */
  private graceFor(graceMs: number | undefined): number {
    const grace = graceMs ?? this.ctx.settings.rotationGraceMs
    const maxGrace = this.ctx.settings.maxRotationGraceMs
    if (!Number.isSafeInteger(grace) || grace < 0 || grace > maxGrace) {
      const rule = `a grace period in whole milliseconds from 0 (end the old key at once) to ${maxGrace} (${days(maxGrace)})`
      throw new ApikeyError(`graceMs: ${rule}`, {code: 'validation', details: {field: 'graceMs', errors: [{field: 'graceMs', message: rule}], maxGraceMs: maxGrace}})
    }
    return grace
  }

  /**
   * Revokes a key at once. Revoking a revoked key changes nothing, appends no
   * event, emits nothing, and answers `alreadyRevoked: true` with the original
   * `revokedAt`/`revokedBy`. Otherwise appends `key.revoke` and emits `key.revoked`.
   * Expired and rotated keys may be revoked (ends a grace period early).
   * @param options.reason why (audit details `reason`); `options.asAdmin` records that a
   *   service admin acted outside the team's rules (audit details `asAdmin: true`).
   * @throws ApikeyError `key_not_found`.
   */
  async revoke(keyId: string, actor: Actor & {userId: string}, options: {reason?: string; asAdmin?: boolean} = {}): Promise<RevokeKeyResponse & {appSlug: string}> {
    const now = this.ctx.clock.now()
    const outcome = await inTransaction(this.ctx.db, async (repos) => {
      const key = await repos.keys.findById(keyId)
      if (key === undefined) throw keyNotFound(keyId)
      if (key.revokedAt !== null) return {key, alreadyRevoked: true}
      await repos.keys.revoke(key.id, now, actor.userId)
      await repos.audit.append({
        at: now,
        actorUserId: actor.userId,
        actorTokenId: null,
        action: 'key.revoke',
        targetType: 'key',
        targetId: key.id,
        appId: key.appId,
        sourceAddress: actor.sourceAddress,
        details: {
          app: key.appSlug,
          env: key.env,
          start: key.start,
          statusBefore: keyStatus(key, now),
          ...(options.reason === undefined ? {} : {reason: options.reason}),
          ...(options.asAdmin === true ? {asAdmin: true} : {}),
        },
      })
      const updated = await repos.keys.findById(key.id)
      if (updated === undefined) throw new Error(`key ${key.id} vanished during revocation`)
      return {key: updated, alreadyRevoked: false}
    })
    if (!outcome.alreadyRevoked) this.events.emit({type: 'key.revoked', keyIds: [outcome.key.id], app: outcome.key.appSlug, at: now})
    return {key: keyView(outcome.key, now), alreadyRevoked: outcome.alreadyRevoked, appSlug: outcome.key.appSlug}
  }

  /**
   * Sets a key's expiry (ms since epoch, UTC). A time in the past ends the key at
   * once. Appends `key.expiry` and emits `key.expiry_changed`. Not yet exposed by a
   * route; kept here so that no other code writes `expires_at`.
   * @throws ApikeyError `key_not_found`; `validation` for an implausible instant or one
   *   beyond the env maximum from now; `conflict` for a revoked key.
   */
  async setExpiry(keyId: string, expiresAt: number, actor: Actor): Promise<KeyView> {
    const now = this.ctx.clock.now()
    if (!isPlausibleEpochMs(expiresAt)) {
      throw expiryError('a plausible instant in milliseconds since the Unix epoch (UTC)')
    }
    const key = await inTransaction(this.ctx.db, async (repos) => {
      const found = await repos.keys.findById(keyId)
      if (found === undefined) throw keyNotFound(keyId)
      if (found.revokedAt !== null) throw stateConflict(`key ${found.id} is revoked; its expiry cannot change`, found, now)
      const maxMs = maxKeyLifetimeMs(this.ctx.settings, found.env)
      if (expiresAt > now + maxMs) throw expiryError(`a ${found.env} key lives at most ${days(maxMs)} from now`)
      // A rotated key never outlives its grace period.
      const effective = found.rotation === null ? expiresAt : Math.min(expiresAt, found.rotation.graceEndsAt)
      await repos.keys.setExpiry(found.id, effective)
      await repos.audit.append({
        at: now,
        actorUserId: actor.userId,
        actorTokenId: actor.tokenId,
        action: 'key.expiry',
        targetType: 'key',
        targetId: found.id,
        appId: found.appId,
        sourceAddress: actor.sourceAddress,
        details: {app: found.appSlug, from: found.expiresAt, to: effective},
      })
      const updated = await repos.keys.findById(found.id)
      if (updated === undefined) throw new Error(`key ${found.id} vanished`)
      return updated
    })
    this.events.emit({type: 'key.expiry_changed', keyIds: [key.id], app: key.appSlug, at: now, ...(key.expiresAt === null ? {} : {expiresAt: key.expiresAt})})
    return keyView(key, now)
  }

  /**
   * Moves an app to another owning team (keys unchanged) and optionally sets a
   * new point of contact. The app's active provisioning tokens stop at once:
   * the old team created them and can no longer see or revoke them, so the new
   * team creates its own (each gets a `token.revoke` audit event with reason
   * `app transferred`). Appends `app.transfer` and emits `app.transferred` with
   * every key id of the app (their owning team changed) and the stopped token ids.
   * @returns the moved app and the tokens revoked by the transfer (their state after it).
   * @throws ApikeyError `not_found` when the app vanished; `conflict` when `to` already owns it.
   */
  async transferApp(app: App, to: Team, contactEmail: string | undefined, actor: Actor & {userId: string}): Promise<{app: App; revokedTokens: ProvisioningToken[]}> {
    const now = this.ctx.clock.now()
    const result = await inTransaction(this.ctx.db, async (repos) => {
      const current = await repos.apps.findById(app.id)
      if (current === undefined) throw new ApikeyError(`no app with slug "${app.slug}" is registered`, {code: 'not_found', details: {app: app.slug}})
      if (current.team.id === to.id) {
        throw new ApikeyError(`the app "${current.slug}" already belongs to team ${to.slug}`, {code: 'conflict', details: {app: current.slug, owningTeam: to.slug}})
      }
      const contact = contactEmail ?? current.contactEmail
      await repos.apps.transfer(current.id, to.id, contact)
      const keyIds = await repos.keys.idsForApp(current.id)
      const stopped: string[] = []
      for (const token of await repos.tokens.listForApps([current.id])) {
        if (tokenStatus(token, now) !== 'active') continue
        if (!(await repos.tokens.revoke(token.id, now, actor.userId))) continue
        stopped.push(token.id)
        await repos.audit.append({
          at: now,
          actorUserId: actor.userId,
          action: 'token.revoke',
          targetType: 'token',
          targetId: token.id,
          appId: current.id,
          sourceAddress: actor.sourceAddress,
          details: {app: current.slug, start: token.start, reason: 'app transferred', fromTeam: current.team.slug, toTeam: to.slug},
        })
      }
      await repos.audit.append({
        at: now,
        actorUserId: actor.userId,
        actorTokenId: actor.tokenId,
        action: 'app.transfer',
        targetType: 'app',
        targetId: current.id,
        appId: current.id,
        sourceAddress: actor.sourceAddress,
        details: {
          slug: current.slug,
          fromTeam: current.team.slug,
          toTeam: to.slug,
          keys: keyIds.length,
          revokedTokens: stopped,
          ...(contact === current.contactEmail ? {} : {fromContactEmail: current.contactEmail, toContactEmail: contact}),
        },
      })
      const updated = await repos.apps.findById(current.id)
      if (updated === undefined) throw new Error(`app ${current.id} vanished during transfer`)
      const revokedTokens: ProvisioningToken[] = []
      for (const id of stopped) {
        const token = await repos.tokens.findById(id)
        if (token !== undefined) revokedTokens.push(token)
      }
      return {updated, keyIds, fromTeam: current.team.slug, revokedTokens}
    })
    this.events.emit({
      type: 'app.transferred',
      keyIds: result.keyIds,
      app: result.updated.slug,
      at: now,
      fromTeam: result.fromTeam,
      toTeam: to.slug,
      revokedTokenIds: result.revokedTokens.map((t) => t.id),
    })
    return {app: result.updated, revokedTokens: result.revokedTokens}
  }

  /** A `prod` key needs someone to call when it leaks. @throws ApikeyError `conflict`. */
  private checkPointOfContact(app: App, env: KeyEnvironment): void {
    if (env !== 'prod' || isValidEmail(app.contactEmail)) return
    throw new ApikeyError(
      `the app "${app.slug}" has no valid point of contact; a prod key needs one. Set it with: apikey apps transfer ${app.slug} --team ${app.team.slug} --contact-email <email>`,
      {code: 'conflict', details: {app: app.slug, rule: 'prod keys require a point of contact'}},
    )
  }

  /**
   * Runs `work` with a fresh plaintext key for (app, env) and retries once on an
   * id or hash collision (astronomically unlikely). When `app`/`env` are not
   * known up front (rotation), `work` receives a generator instead.
   */
  private async withFreshKey<T>(app: App | undefined, env: KeyEnvironment | undefined, work: (secret: KeySecretSource) => Promise<T>): Promise<{key: T; secret: string}> {
    for (let attempt = 0; ; attempt++) {
      const source = new KeySecretSource(this.ctx, app, env)
      try {
        const key = await work(source)
        return {key, secret: source.plaintext()}
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 1) throw error
      }
    }
  }

  private async insertKey(
    repos: Repositories,
    secret: KeySecretSource,
    input: Omit<IssueKeyInput, 'expiresAt'> & {expiresAt: number; createdAt: number},
  ): Promise<ApiKey> {
    const key = secret.generate(input.app, input.env)
    const start = parseKey(key).start
    if (start === undefined) throw new Error('generated key has no display start')
    const id = newId('key', this.ctx.random)
    await repos.keys.insert({
      id,
      appId: input.app.id,
      env: input.env,
      kind: input.kind,
      name: input.name,
      hash: keyHash(this.ctx.pepper, key),
      start,
      createdBy: input.createdByUserId,
      createdAt: input.createdAt,
      expiresAt: input.expiresAt,
      metadata: input.metadata,
      createdByToken: input.createdByTokenId ?? null,
    })
    const stored = await repos.keys.findById(id)
    if (stored === undefined) throw new Error(`key ${id} vanished after insert`)
    return stored
  }
}

/** Generates one plaintext key per attempt and remembers it, so it can be returned once after commit. */
class KeySecretSource {
  private key: string | undefined

  constructor(
    private readonly ctx: ServiceContext,
    private readonly app: App | undefined,
    private readonly env: KeyEnvironment | undefined,
  ) {}

  generate(app: App | undefined = this.app, env: KeyEnvironment | undefined = this.env): string {
    if (app === undefined || env === undefined) throw new Error('key generation needs an app and an env')
    this.key = generateKey({prefix: this.ctx.settings.keyPrefix, app: app.slug, env}, this.ctx.random)
    return this.key
  }

  plaintext(): string {
    if (this.key === undefined) throw new Error('no key was generated')
    return this.key
  }
}
