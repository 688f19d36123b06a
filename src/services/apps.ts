/**
 * `apikey apps list|show|transfer|limit`: the app directory, ownership changes
 * and the app-wide rate limit. A transfer moves the app (and so the right to
 * manage its keys) to another team; issued keys keep working unchanged.
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {isValidSlug, SLUG_RULE} from '../core/key-format.js'
import {isValidEmail} from '../core/validation.js'
import type {AppView, LimitView, TokenView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {needsYes, rpmChange, signedInApi, withFlagNames, type LimitFlags} from './common.js'
import {refuseSecret} from './secret-args.js'

/** Network options shared by the app commands. */
export interface AppsNetworkInput {
  server?: string
  timeoutMs: number
}

/** Result of {@link listApps}; the `--json` output of `apikey apps list`. */
export interface ListAppsResult {
  server: string
  apps: AppView[]
}

/** Lists the apps of the caller's teams (every app for admins). @throws ApikeyError `not_signed_in` (4). */
export async function listApps(deps: Deps, input: AppsNetworkInput): Promise<ListAppsResult> {
  const {api, server} = await signedInApi(deps, input)
  return {server: server.url, apps: (await api.listApps()).apps}
}

/** Result of {@link showApp}; the `--json` output of `apikey apps show`. */
export interface ShowAppResult {
  server: string
  app: AppView
  /** Key counts, or null when the caller may not list the app's keys (not in the owning team). */
  keys: {total: number; active: number; expired: number; revoked: number} | null
}

/**
 * One app: team, point of contact, and how many keys it has.
 * @throws ApikeyError `usage` (2) for an invalid slug; `not_found` (1); `not_signed_in` (4).
 */
export async function showApp(deps: Deps, input: AppsNetworkInput & {app: string}): Promise<ShowAppResult> {
  checkSlug(input.app, 'APP')
  const {api, server} = await signedInApi(deps, input)
  const app = await api.getApp(input.app)
  let keys: ShowAppResult['keys'] = null
  try {
    const list = (await api.listKeys(input.app)).keys
    keys = {total: list.length, active: 0, expired: 0, revoked: 0}
    for (const k of list) keys[k.status]++
  } catch (error) {
    if (!(error instanceof ApikeyError && error.code === 'forbidden')) throw error
  }
  return {server: server.url, app, keys}
}

/** Input of {@link transferApp}. */
export interface TransferAppInput extends AppsNetworkInput {
  app: string
  toTeam: string
  /** New point of contact; required without a terminal (pass the current one to keep it), asked on one. */
  contact?: string
  /** Consent to move the app without asking (required without a terminal). */
  yes: boolean
}

/** Who may transfer an app, in the words of the help, the CLI's refusal and the service's 403. */
export const TRANSFER_RULE = 'only owners of the owning team (or service admins) can transfer an app, and only to a team they are a member of'

/** Result of {@link transferApp}; the `--json` output of `apikey apps transfer`. */
export interface TransferAppResult {
  server: string
  /** Owning team before the transfer. */
  from: string
  app: AppView
  /** The app's provisioning tokens that the transfer stopped (the new team creates its own). */
  revokedTokens: TokenView[]
}

/**
 * Moves an app to another owning team with its point of contact. Order: flags →
 * the app (404) → who may ({@link TRANSFER_RULE}, 403 before any question) → the
 * point of contact (`--contact`, or asked with the current one as default; required
 * without a terminal) → confirmation (a question, or `--yes`) → the move.
 * @throws ApikeyError `usage` (2) for invalid slugs or email, or a missing `--contact`/`--yes`
 *   without a terminal; `cancelled` (3) when declined; `forbidden` (1) naming the rule;
 *   `not_found` (1).
 */
export async function transferApp(deps: Deps, input: TransferAppInput): Promise<TransferAppResult> {
  checkSlug(input.app, 'APP')
  checkSlug(input.toTeam, '--to-team')
  if (input.contact !== undefined && !isValidEmail(input.contact)) throw usageError(`--contact "${input.contact}" is not a valid email address`, [], {flag: '--contact'})
  const {api, server} = await signedInApi(deps, input)
  const before = await api.getApp(input.app)
  const me = await api.me()
  const owns = me.teams.some((t) => t.slug === before.team.slug && t.role === 'owner')
  const joins = me.teams.some((t) => t.slug === input.toTeam)
  if (!me.user.isAdmin && (!owns || !joins)) {
    const why = !owns ? `you are not an owner of team ${before.team.slug}, which owns ${before.slug}` : `you are not a member of team ${input.toTeam}`
    throw new ApikeyError(`${TRANSFER_RULE}: ${why}`, {
      code: 'forbidden',
      suggestions: [`ask an owner of team ${before.team.slug} (point of contact ${before.contactEmail})`],
      details: {owningTeam: before.team.slug, toTeam: input.toTeam, requiredRole: 'owner'},
    })
  }
  if (before.team.slug === input.toTeam) throw usageError(`${before.slug} already belongs to team ${input.toTeam}`, [], {flag: '--to-team'})
  let contact = input.contact
  if (contact === undefined) {
    if (!deps.prompter.interactive) {
      throw usageError(`the point of contact of ${before.slug} after the move is needed: pass --contact (the current one is ${before.contactEmail})`, [
        `apikey apps transfer ${before.slug} --to-team ${input.toTeam} --contact EMAIL --yes`,
        `or keep the current one: --contact ${before.contactEmail}`,
      ], {flag: '--contact'})
    }
    contact = await deps.prompter.input({
      message: `Point of contact for ${before.slug} in team ${input.toTeam}`,
      flag: '--contact',
      default: before.contactEmail,
      validate: (v) => isValidEmail(v) || 'enter a valid email address',
    })
  }
  if (!input.yes) {
    if (!deps.prompter.interactive) throw needsYes(`moving ${before.slug} from team ${before.team.slug} to team ${input.toTeam}`)
    const ok = await deps.prompter.confirm({
      message: `Move ${before.slug} from team ${before.team.slug} to team ${input.toTeam}? Its provisioning tokens stop.`,
      flag: '--yes',
      default: false,
    })
    if (!ok) throw new ApikeyError(`not moved: ${before.slug} stays with team ${before.team.slug}`, {code: 'cancelled'})
  }
  const moved = await withFlagNames(api.transferApp(input.app, {team: input.toTeam, contactEmail: contact}), {team: '--to-team', contactEmail: '--contact'})
  const {revokedTokens, ...app} = moved
  return {server: server.url, from: before.team.slug, app, revokedTokens: revokedTokens ?? []}
}

/** Input of {@link setAppLimit}. */
export interface SetAppLimitInput extends AppsNetworkInput, LimitFlags {
  /** App slug. */
  app: string
}

/**
 * Result of {@link setAppLimit}; the `--json` output of `apikey apps limit`:
 * the service's answer plus the server. `rpm` is the app-wide limit now stored
 * (null after `--clear`); `keyId`, `env` and `effective` are always null (the
 * limit in force depends on each key's own limit and environment).
 */
export interface SetAppLimitResult extends LimitView {
  server: string
}

/**
 * Sets (`--rpm N`) or removes (`--clear`) the app-wide rate limit: the limit of
 * each key of the app without its own, counted per key.
 * @throws ApikeyError `usage` (2) before any request for an invalid slug or a secret
 *   given as APP (never echoed), or a missing, conflicting or invalid `--rpm` / `--clear`;
 *   `not_signed_in` (4); `not_found` (1); `forbidden` (1) naming the owning team.
 */
export async function setAppLimit(deps: Deps, input: SetAppLimitInput): Promise<SetAppLimitResult> {
  checkSlug(input.app, 'APP')
  const rpm = rpmChange(input, 'app', input.app)
  const {api, server} = await signedInApi(deps, input)
  const answer = await withFlagNames(api.setAppLimit(input.app, {rpm}), {rpm: '--rpm'})
  return {server: server.url, ...answer}
}

function checkSlug(value: string, name: string): void {
  refuseSecret(value, name === '--to-team' ? 'team slug' : 'app slug', name)
  if (!isValidSlug(value)) throw usageError(`${name} "${value}" is not a valid slug: ${SLUG_RULE}`, [], {flag: name})
}
