/**
 * Verification rate limits in requests per minute: a key's own override
 * (`PUT /v1/keys/{id}/limit`) and the app-wide one (`PUT /v1/apps/{slug}/limit`).
 * Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {SetKeyLimitRequest} from '../../core/wire.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Registers the rate-limit routes (200 with the limit now in force). */
export async function limitRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.put<{Params: {id: string}; Body: SetKeyLimitRequest}>(
    '/v1/keys/:id/limit',
    {
      config: {auth: 'session'},
      schema: {
        summary: "Set a key's verification rate limit in requests per minute (members of the owning team); rpm null removes the override",
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        body: s.setLimitBody,
        response: {200: s.limitResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request) => deps.limits.setKeyLimit(principalOf(request), request.params.id, request.body),
  )

  app.put<{Params: {slug: string}; Body: SetKeyLimitRequest}>(
    '/v1/apps/:slug/limit',
    {
      config: {auth: 'session'},
      schema: {
        summary: "Set the verification rate limit of every key of an app without its own override, in requests per minute (members of the owning team); rpm null removes it",
        tags: ['apps'],
        security: s.sessionSecurity,
        params: s.slugParams,
        body: s.setLimitBody,
        response: {200: s.limitResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request) => deps.limits.setAppLimit(principalOf(request), request.params.slug, request.body),
  )
}
