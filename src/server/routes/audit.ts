/**
 * `GET /v1/audit`: audit events, newest first. Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {ListAuditResponse} from '../../core/wire.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Parses a decimal query parameter (already checked against `^[0-9]+$` by the schema). */
function queryInt(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value)
}

/** Registers `GET /v1/audit`. */
export async function auditRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get<{Querystring: {app?: string; since?: string; limit?: string}}>(
    '/v1/audit',
    {
      config: {auth: 'session'},
      schema: {
        summary: "Audit events, newest first: owners of an app's team see its events; admins see all",
        tags: ['audit'],
        security: s.sessionSecurity,
        querystring: s.auditQuery,
        response: {200: s.listAuditResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request): Promise<ListAuditResponse> =>
      deps.audit.list(principalOf(request), {app: request.query.app, since: queryInt(request.query.since), limit: queryInt(request.query.limit)}),
  )
}
