/**
 * `apikey usage`: an app's own traffic, for its owning team — totals by key,
 * outcome, route, client app, version, user agent, and how many distinct client
 * networks use its keys (a key seen from many networks and client apps may be shared).
 */
import type {UsageReportView} from '../core/wire.js'
import type {Deps} from '../lib/deps.js'
import {resolveApp, signedInApi, sinceFlag, withFlagNames} from './common.js'

/** Input of {@link appUsage}. */
export interface UsageInput {
  /** `--app`; default apikey.json's app. */
  app?: string
  /** `--since`: a duration back from now (`24h`, default) or an ISO instant with offset. */
  since?: string
  server?: string
  timeoutMs: number
}

/** Result of {@link appUsage}; the `--json` output of `apikey usage`. */
export interface UsageResult {
  server: string
  report: UsageReportView
}

/** Default look-back of `apikey usage`. */
export const DEFAULT_USAGE_SINCE = '24h'

/**
 * Reads an app's usage report.
 * @throws ApikeyError `usage` (2) for a bad `--since` or a missing `--app` outside a project;
 *   `not_signed_in` (4); `forbidden` (1) for someone outside the owning team.
 */
export async function appUsage(deps: Deps, input: UsageInput): Promise<UsageResult> {
  const since = sinceFlag('--since', input.since ?? DEFAULT_USAGE_SINCE, deps.now())
  const app = await resolveApp(deps, input.app)
  const {api, server} = await signedInApi(deps, input)
  const report = await withFlagNames(api.getUsage(app, {since}), {since: '--since', slug: '--app'})
  return {server: server.url, report}
}
