/**
 * Apps: list, register, read and transfer (`/v1/apps`, `/v1/apps/{slug}`,
 * `/v1/apps/{slug}/transfer`). Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {CreateAppRequest, ListAppsResponse, TransferAppRequest} from '../../core/wire.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Registers the app routes: 201 with `Location` on registration, 200 otherwise. */
export async function appRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    '/v1/apps',
    {
      config: {auth: 'session'},
      schema: {summary: "Apps of the caller's teams (all apps for admins)", tags: ['apps'], security: s.sessionSecurity, response: {200: s.listAppsResponse, ...s.problems(401, 403)}},
    },
    async (request): Promise<ListAppsResponse> => ({apps: await deps.apps.list(principalOf(request))}),
  )

  app.post<{Body: CreateAppRequest}>(
    '/v1/apps',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'Register an app for one of your teams',
        tags: ['apps'],
        security: s.sessionSecurity,
        body: s.createAppBody,
        response: {201: s.ref('AppView'), ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request, reply) => {
      const app = await deps.apps.create(principalOf(request), request.body)
      reply.code(201).header('location', `/v1/apps/${app.slug}`)
      return app
    },
  )

  app.get<{Params: {slug: string}}>(
    '/v1/apps/:slug',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'One app (directory data: any signed-in user)',
        tags: ['apps'],
        security: s.sessionSecurity,
        params: s.slugParams,
        response: {200: s.ref('AppView'), ...s.problems(401, 403, 404)},
      },
    },
    async (request) => deps.apps.get(request.params.slug),
  )

  app.post<{Params: {slug: string}; Body: TransferAppRequest}>(
    '/v1/apps/:slug/transfer',
    {
      config: {auth: 'session'},
      schema: {
        summary:
          "Move an app to another owning team (owners of the current team or admins; member of the target team); keys do not change, the app's provisioning tokens are revoked",
        tags: ['apps'],
        security: s.sessionSecurity,
        params: s.slugParams,
        body: s.transferAppBody,
        response: {200: s.transferAppResponse, ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request) => deps.apps.transfer(principalOf(request), request.params.slug, request.body),
  )
}
