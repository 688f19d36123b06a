/**
 * Provisioning tokens for CI: create, list and revoke (`/v1/tokens`,
 * `/v1/tokens/{id}`). Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {CreateTokenRequest, CreateTokenResponse, ListTokensResponse, RevokeTokenResponse} from '../../core/wire.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Registers the provisioning-token routes: 201 with `Cache-Control: no-store` on creation (the plaintext is in that answer only), 200 otherwise. */
export async function tokenRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{Body: CreateTokenRequest}>(
    '/v1/tokens',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'Create a provisioning token for CI (members of the app\'s owning team); the plaintext is in this response only',
        tags: ['tokens'],
        security: s.sessionSecurity,
        body: s.createTokenBody,
        response: {201: s.createTokenResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request, reply): Promise<CreateTokenResponse> => {
      const created = await deps.tokens.create(principalOf(request), request.body)
      reply.code(201).header('cache-control', 'no-store')
      return created
    },
  )

  app.get<{Querystring: {app?: string}}>(
    '/v1/tokens',
    {
      config: {auth: 'session'},
      schema: {
        summary: "Provisioning tokens (without secrets) of an app, or of every app of the caller's teams",
        tags: ['tokens'],
        security: s.sessionSecurity,
        querystring: s.tokensQuery,
        response: {200: s.listTokensResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request): Promise<ListTokensResponse> => ({tokens: await deps.tokens.list(principalOf(request), request.query.app)}),
  )

  app.delete<{Params: {id: string}}>(
    '/v1/tokens/:id',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'Revoke a provisioning token at once (keys it issued stay valid); twice answers alreadyRevoked: true',
        tags: ['tokens'],
        security: s.sessionSecurity,
        params: s.tokenIdParams,
        response: {200: s.revokeTokenResponse, ...s.problems(401, 403, 404)},
      },
    },
    async (request): Promise<RevokeTokenResponse> => deps.tokens.revoke(principalOf(request), request.params.id),
  )
}
