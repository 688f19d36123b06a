/**
 * App registration and the directory: slug rules, team
 * membership, conflicts that name the owner.
 */
import {ApikeyError} from '../../core/errors.js'
import {isValidSlug, SLUG_RULE} from '../../core/key-format.js'
import {isValidAppName, isValidEmail} from '../../core/validation.js'
import type {AppView, CreateAppRequest, TransferAppRequest, TransferAppResponse} from '../../core/wire.js'
import type {App} from '../model.js'
import {validationError} from '../problems.js'
import {inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import type {Principal} from './auth.js'
import type {ServiceContext} from './context.js'
import {newId} from './crypto.js'
import type {KeyLifecycle} from './lifecycle.js'
import {appView, tokenView} from './views.js'

/** Longest app description, in characters. */
export const MAX_DESCRIPTION_LENGTH = 1000

/** The 409 problem for a slug that is already registered, naming its owner. */
export function slugTakenError(app: App): ApikeyError {
  return new ApikeyError(
    `the app slug "${app.slug}" is already registered by team ${app.team.name} (${app.team.slug}); its point of contact is ${app.contactEmail}. Ask them for access, or choose another slug.`,
    {
      code: 'conflict',
      suggestions: [`apikey init --app ${app.slug}`, 'apikey init --app <another-slug>'],
      details: {owningTeam: app.team.slug, owningTeamName: app.team.name, contactEmail: app.contactEmail, app: app.slug},
    },
  )
}

/**
 * The 404 problem for an unknown app. The slug is echoed only when it has the shape of a slug: anything
 * else (a key or token pasted into a URL or field) is never repeated back.
 */
export function appNotFound(slug: string): ApikeyError {
  if (!isValidSlug(slug)) {
    return new ApikeyError('no app with this slug: app slugs are 3–32 lowercase letters, digits and "-" (and never a key or token)', {code: 'not_found', suggestions: ['apikey apps list']})
  }
  return new ApikeyError(`no app with slug "${slug}" is registered`, {code: 'not_found', suggestions: [`apikey init --app ${slug}`], details: {app: slug}})
}

/** Registering, finding and transferring apps. */
export class AppsService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly lifecycle: KeyLifecycle,
  ) {}

  /**
   * Moves an app to another owning team; its keys do not change (see
   * {@link KeyLifecycle.transferApp}: audit `app.transfer`, event `app.transferred`).
   * The caller must be an owner (role `owner`) of the current team or an admin,
   * and a member of the target team or an admin. Checks, in order: contact email
   * (400), app exists (404), caller owns it (403 naming the owning team), target
   * team exists (404), caller belongs to it (403), target differs (409).
   * The app's active provisioning tokens are revoked by the transfer and listed in the answer.
   * @throws ApikeyError `validation` | `not_found` | `forbidden` | `conflict`.
   */
  async transfer(principal: Principal, slug: string, request: TransferAppRequest): Promise<TransferAppResponse> {
    if (request.contactEmail !== undefined && !isValidEmail(request.contactEmail)) throw validationError('contactEmail', 'a valid email address (name@example.com)')
    const repos = repositories(this.ctx.db)
    const app = await this.require(slug)
    const admin = principal.user.isAdmin
    if (!admin && (await repos.teams.roleOf(principal.user.id, app.team.id)) !== 'owner') {
      throw new ApikeyError(
        `the app "${app.slug}" belongs to team ${app.team.name} (${app.team.slug}); only owners of that team (or service admins) can transfer it, and only to a team they are a member of. Its point of contact is ${app.contactEmail}.`,
        {code: 'forbidden', details: {owningTeam: app.team.slug, owningTeamName: app.team.name, contactEmail: app.contactEmail, app: app.slug, requiredRole: 'owner'}},
      )
    }
    const to = await repos.teams.findBySlug(request.team)
    if (to === undefined) throw new ApikeyError(`no team with slug "${request.team}" exists`, {code: 'not_found', suggestions: ['apikey status'], details: {field: 'team'}})
    if (!admin && (await repos.teams.roleOf(principal.user.id, to.id)) === undefined) {
      throw new ApikeyError(
        `you are not a member of team ${to.name} (${to.slug}), so you cannot transfer apps to it (only owners of the owning team, or service admins, can transfer an app, and only to a team they are a member of)${to.contactEmail === null ? '' : `; its contact is ${to.contactEmail}`}`,
        {code: 'forbidden', suggestions: ['apikey status'], details: {team: to.slug, ...(to.contactEmail === null ? {} : {contactEmail: to.contactEmail})}},
      )
    }
    const moved = await this.lifecycle.transferApp(app, to, request.contactEmail, {userId: principal.user.id, tokenId: null, sourceAddress: principal.sourceAddress})
    const now = this.ctx.clock.now()
    return {...appView(moved.app), revokedTokens: moved.revokedTokens.map((t) => tokenView(t, now))}
  }

  /**
   * Registers an app for one of the caller's teams and records `app.create`.
   * Checks, in order: field rules (400), slug free (409 naming the owner),
   * team exists (404), caller is a member (403).
   * @throws ApikeyError `validation` | `conflict` | `not_found` | `forbidden`.
   */
  async create(principal: Principal, request: CreateAppRequest): Promise<AppView> {
    if (!isValidSlug(request.slug)) throw validationError('slug', SLUG_RULE)
    if (!isValidAppName(request.name)) throw validationError('name', '1–100 characters, not blank, without control characters')
    if (!isValidEmail(request.contactEmail)) throw validationError('contactEmail', 'a valid email address (name@example.com)')
    if (request.description !== undefined && request.description.length > MAX_DESCRIPTION_LENGTH) {
      throw validationError('description', `at most ${MAX_DESCRIPTION_LENGTH} characters`)
    }
    const now = this.ctx.clock.now()
    try {
      const app = await inTransaction(this.ctx.db, async (repos) => {
        const existing = await repos.apps.findBySlug(request.slug)
        if (existing !== undefined) throw slugTakenError(existing)
        const team = await repos.teams.findBySlug(request.team)
        if (team === undefined) {
          throw new ApikeyError(`no team with slug "${request.team}" exists`, {code: 'not_found', suggestions: ['apikey status'], details: {field: 'team'}})
        }
        const role = await repos.teams.roleOf(principal.user.id, team.id)
        if (role === undefined) {
          throw new ApikeyError(
            `you are not a member of team ${team.name} (${team.slug}), so you cannot register apps for it${team.contactEmail === null ? '' : `; its contact is ${team.contactEmail}`}`,
            {code: 'forbidden', suggestions: ['apikey status'], details: {team: team.slug, ...(team.contactEmail === null ? {} : {contactEmail: team.contactEmail})}},
          )
        }
        const id = newId('app', this.ctx.random)
        await repos.apps.insert({
          id,
          slug: request.slug,
          name: request.name,
          teamId: team.id,
          contactEmail: request.contactEmail,
          description: request.description ?? null,
          createdBy: principal.user.id,
          createdAt: now,
        })
        await repos.audit.append({
          at: now,
          actorUserId: principal.user.id,
          action: 'app.create',
          targetType: 'app',
          targetId: id,
          appId: id,
          sourceAddress: principal.sourceAddress,
          details: {slug: request.slug, team: team.slug},
        })
        const created = await repos.apps.findById(id)
        if (created === undefined) throw new Error(`app ${id} vanished after insert`)
        return created
      })
      return appView(app)
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
      // Lost a race with another registration of the same slug.
      const winner = await repositories(this.ctx.db).apps.findBySlug(request.slug)
      if (winner === undefined) throw error
      throw slugTakenError(winner)
    }
  }

  /**
   * Any signed-in user may read an app (directory data).
   * @throws ApikeyError `not_found` for an unknown slug.
   */
  async get(slug: string): Promise<AppView> {
    return appView(await this.require(slug))
  }

  /** The app with this slug. @throws ApikeyError `not_found`. */
  async require(slug: string): Promise<App> {
    const app = await repositories(this.ctx.db).apps.findBySlug(slug)
    if (app === undefined) throw appNotFound(slug)
    return app
  }

  /** Apps of the caller's teams, or every app for admins; by slug. */
  async list(principal: Principal): Promise<AppView[]> {
    const repos = repositories(this.ctx.db)
    const apps = principal.user.isAdmin ? await repos.apps.listAll() : await repos.apps.listForUser(principal.user.id)
    return apps.map(appView)
  }
}
