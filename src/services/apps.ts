/**
 * `apikey apps list|show|transfer|limit`: the app directory, ownership changes
 * and the app-wide rate limit. A transfer moves the app (and so the right to
 * manage its keys) to another team; issued keys keep working unchanged.
 */
import {ApikeyError, usageError} from '../core/errors.js'
import {isValidSlug, SLUG_RULE} from '../core/key-format.js'
import {isValidEmail} from '../core/validation.js'
import type {AppView, LimitView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {rpmChange, signedInApi, withFlagNames, type LimitFlags} from './common.js'
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
  contact?: string
}

/** Result of {@link transferApp}; the `--json` output of `apikey apps transfer`. */
export interface TransferAppResult {
  server: string
  /** Owning team before the transfer. */
  from: string
  app: AppView
}

/**
 * Moves an app to another owning team (and optionally a new point of contact).
 * @throws ApikeyError `usage` (2) for invalid slugs or email; `forbidden` (1) when the caller does not own the app; `not_found` (1).
 */
export async function transferApp(deps: Deps, input: TransferAppInput): Promise<TransferAppResult> {
  checkSlug(input.app, 'APP')
  checkSlug(input.toTeam, '--to-team')
  if (input.contact !== undefined && !isValidEmail(input.contact)) throw usageError(`--contact "${input.contact}" is not a valid email address`, [], {flag: '--contact'})
  const {api, server} = await signedInApi(deps, input)
  const before = await api.getApp(input.app)
  const app = await withFlagNames(api.transferApp(input.app, {team: input.toTeam, ...(input.contact === undefined ? {} : {contactEmail: input.contact})}), {team: '--to-team', contactEmail: '--contact'})
  return {server: server.url, from: before.team.slug, app}
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
