/**
 * Static migration list. Listed by hand (no folder scan) so migrations work
 * from the compiled `dist/` and from bundles. Names are ISO dates and sort in
 * the order they must run; add new ones at the end.
 */
import type {Migration} from 'kysely'
import * as initial from './2025-11-30T10-00-00_initial.js'
import * as keyLifecycle from './2025-12-14T09-00-00_key-lifecycle.js'
import * as verification from './2026-01-05T09-00-00_verification.js'
import * as verifierScope from './2026-11-30T12-00-00_verifier-scope.js'
import * as signInNetworks from './2026-12-06T23-30-00_sign-in-networks.js'
import * as usageRollups from './2026-12-07T02-00-00_usage-rollups.js'
import * as usageFacets from './2026-12-07T02-30-00_usage-facets.js'
import * as usageFacetWeeks from './2026-12-07T03-00-00_usage-facet-weeks.js'

/** Every migration by name, in order. */
export const migrations: Readonly<Record<string, Migration>> = {
  '2025-11-30T10-00-00_initial': initial,
  '2025-12-14T09-00-00_key-lifecycle': keyLifecycle,
  '2026-01-05T09-00-00_verification': verification,
  '2026-11-30T12-00-00_verifier-scope': verifierScope,
  '2026-12-06T23-30-00_sign-in-networks': signInNetworks,
  '2026-12-07T02-00-00_usage-rollups': usageRollups,
  '2026-12-07T02-30-00_usage-facets': usageFacets,
  '2026-12-07T03-00-00_usage-facet-weeks': usageFacetWeeks,
}
