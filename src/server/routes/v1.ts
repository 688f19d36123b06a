/**
 * The v1 routes, one file per resource (contract in src/core/wire.ts). Thin:
 * schema in, service call, view out. Authorization lives in the services.
 * The verification routes (`verify.ts`) are registered by `app.ts`.
 */
import type {FastifyInstance} from 'fastify'
import {appRoutes} from './apps.js'
import {auditRoutes} from './audit.js'
import type {RouteDeps} from './context.js'
import {keyRoutes} from './keys.js'
import {limitRoutes} from './limits.js'
import {metaRoutes} from './meta.js'
import {sessionRoutes} from './sessions.js'
import {tokenRoutes} from './tokens.js'
import {usageRoutes} from './usage.js'

/**
 * Registers every v1 route on `app` except those of `verify.ts`. Status codes: 200/201 as
 * documented per route; 400 `validation`, 401 `unauthenticated`, 403 `forbidden`,
 * 404 `not_found`/`key_not_found`, 409 `conflict` — all problem details (RFC 9457).
 */
export async function v1Routes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  await metaRoutes(app, deps)
  await sessionRoutes(app, deps)
  await appRoutes(app, deps)
  await keyRoutes(app, deps)
  await auditRoutes(app, deps)
  await tokenRoutes(app, deps)
  await usageRoutes(app, deps)
  await limitRoutes(app, deps)
}
