/**
 * Sessions: sign in (`POST /v1/sessions`), sign out (`DELETE /v1/sessions/current`)
 * and the signed-in user (`GET /v1/me`). Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {CreateSessionRequest, CreateSessionResponse, MeResponse} from '../../core/wire.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Registers the session routes: 201 on sign-in, 204 on sign-out, 200 for `/v1/me`. */
export async function sessionRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{Body: CreateSessionRequest}>(
    '/v1/sessions',
    {
      config: {auth: 'public'},
      schema: {
        summary: 'Sign in with username and password; returns a session token (shown once)',
        description:
          'Limited per (username, client address) with a backoff, per username from networks it has never signed in from, and per client address; password hashing is bounded. A refused attempt is 429 with Retry-After and the extension members retryAfterSeconds and limit (backoff, username, address or busy). See docs/sign-in.md.',
        tags: ['sessions'],
        body: s.createSessionBody,
        response: {201: s.createSessionResponse, ...s.problems(400, 401, 429)},
      },
    },
    async (request, reply): Promise<CreateSessionResponse> => {
      const result = await deps.auth.login(request.body.username, request.body.password, {ip: request.ip})
      reply.code(201).header('cache-control', 'no-store')
      return result
    },
  )

  app.delete(
    '/v1/sessions/current',
    {
      config: {auth: 'session'},
      schema: {summary: 'Sign out: revoke the session used for this call', tags: ['sessions'], security: s.sessionSecurity, response: {204: {type: 'null'}, ...s.problems(401, 403)}},
    },
    async (request, reply) => {
      await deps.auth.logout(principalOf(request))
      return reply.code(204).send()
    },
  )

  app.get(
    '/v1/me',
    {
      config: {auth: 'session'},
      schema: {
        summary:
          'The signed-in user and their teams. A provisioning token gets 403 naming its identity (extension members credential, tokenId, app, scope, expiresAt)',
        tags: ['sessions'],
        security: s.sessionSecurity,
        response: {200: s.meResponse, ...s.problems(401, 403)},
      },
    },
    async (request): Promise<MeResponse> => deps.auth.me(principalOf(request)),
  )
}
