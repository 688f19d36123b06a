/**
 * `apikey audit`: the service's append-only audit log (who changed what,
 * when, from where) for an app — team owners for their apps, admins for all.
 */
import type {AuditEventView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {resolveApp, signedInApi, sinceFlag, withFlagNames} from './common.js'

/** Input of {@link listAudit}. */
export interface AuditInput {
  /** `--app`; default the project's app, else every app the caller may see. */
  app?: string
  /** `--since`: a duration back from now (`7d`) or an ISO instant with offset. */
  since?: string
  limit?: number
  server?: string
  timeoutMs: number
}

/** Result of {@link listAudit}; the `--json` output of `apikey audit`. */
export interface AuditResult {
  server: string
  app: string | null
  /** Lower bound used, ms since epoch, or null. */
  since: number | null
  events: AuditEventView[]
}

/**
 * Reads the audit log.
 * @throws ApikeyError `usage` (2) for a bad `--since`; `not_signed_in` (4); `forbidden` (1) for a non-owner.
 */
export async function listAudit(deps: Deps, input: AuditInput): Promise<AuditResult> {
  const since = input.since === undefined ? undefined : sinceFlag('--since', input.since, deps.now())
  const app = input.app !== undefined || (await deps.project()) !== undefined ? await resolveApp(deps, input.app) : undefined
  const {api, server} = await signedInApi(deps, input)
  const answer = await withFlagNames(
    api.listAudit({
      ...(app === undefined ? {} : {app}),
      ...(since === undefined ? {} : {since}),
      ...(input.limit === undefined ? {} : {limit: input.limit}),
    }),
    {since: '--since', limit: '--limit', app: '--app'},
  )
  return {server: server.url, app: app ?? null, since: since ?? null, events: answer.events}
}
