/**
 * The v1 routes (design §7; contract in src/core/wire.ts). Thin: schema in,
 * service call, view out. Authorization lives in the services.
 */
import type {FastifyInstance, FastifyRequest} from 'fastify'
import {ApikeyError} from '../../core/errors.js'
import {KEY_ENVIRONMENTS} from '../../core/key-format.js'
import type {
  CreateAppRequest,
  CreateKeyRequest,
  CreateSessionRequest,
  CreateSessionResponse,
  CreateTokenRequest,
  CreateTokenResponse,
  GetKeyResponse,
  KeyWhoamiResponse,
  ListAppsResponse,
  ListAuditResponse,
  ListKeysResponse,
  ListTokensResponse,
  MeResponse,
  MetaResponse,
  RevokeKeyResponse,
  RevokeTokenResponse,
  RotateKeyRequest,
  RotateKeyResponse,
  TransferAppRequest,
} from '../../core/wire.js'
import type {Principal} from '../services/auth.js'
import {bearerToken} from '../services/auth.js'
import type {RouteDeps} from './context.js'
import * as s from './schemas.js'

function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('route declared auth "session" but no principal was set')
  return request.principal
}

/** Parses a decimal query parameter (already checked against `^[0-9]+$` by the schema). */
function queryInt(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value)
}

/**
 * Registers every v1 route on `app`. Status codes: 200/201 as documented per route;
 * 400 `validation`, 401 `unauthenticated`, 403 `forbidden`, 404 `not_found`/`key_not_found`,
 * 409 `conflict` — all problem details (RFC 9457).
 */
export async function v1Routes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    '/v1/meta',
    {
      config: {auth: 'public'},
      schema: {summary: 'Service facts: key prefix, key env var, sign-in modes, docs', tags: ['meta'], response: {200: s.metaResponse}},
    },
    async (): Promise<MetaResponse> => ({
      service: 'apikey',
      version: deps.version,
      keyPrefix: deps.settings.keyPrefix,
      keyEnvVar: deps.settings.keyEnvVar,
      authModes: ['password'],
      docsUrl: deps.settings.docsUrl,
      environments: [...KEY_ENVIRONMENTS],
    }),
  )

  app.post<{Body: CreateSessionRequest}>(
    '/v1/sessions',
    {
      config: {auth: 'public'},
      schema: {
        summary: 'Sign in with username and password; returns a session token (shown once)',
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

  app.get<{Params: {slug: string}}>(
    '/v1/apps/:slug/keys',
    {
      config: {auth: 'session'},
      schema: {
        summary: "An app's keys (members of the owning team only)",
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.slugParams,
        response: {200: s.listKeysResponse, ...s.problems(401, 403, 404)},
      },
    },
    async (request): Promise<ListKeysResponse> => ({keys: await deps.keys.list(principalOf(request), request.params.slug)}),
  )

  app.post<{Params: {slug: string}; Body: CreateKeyRequest}>(
    '/v1/apps/:slug/keys',
    {
      config: {auth: 'sessionOrProvisioning'},
      // A provisioning token may send no body (env ci, defaults); a session caller then gets "env is required".
      preValidation: async (request) => {
        request.body ??= {} as CreateKeyRequest
      },
      schema: {
        summary:
          'Issue a key (members of the owning team; or a provisioning token for a ci key of its own app, with build metadata); the plaintext is in this response only',
        tags: ['keys'],
        security: s.sessionOrProvisioningSecurity,
        params: s.slugParams,
        body: s.createKeyBody,
        response: {201: s.createKeyResponse, ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request, reply) => {
      const created =
        request.provisioner === null
          ? await deps.keys.create(principalOf(request), request.params.slug, request.body)
          : await deps.keys.createWithToken(request.provisioner, request.params.slug, request.body)
      reply.code(201).header('cache-control', 'no-store').header('location', `/v1/keys/${created.id}`)
      return created
    },
  )

  app.post<{Params: {slug: string}; Body: TransferAppRequest}>(
    '/v1/apps/:slug/transfer',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'Move an app to another owning team (owners of the current team or admins; member of the target team); keys do not change',
        tags: ['apps'],
        security: s.sessionSecurity,
        params: s.slugParams,
        body: s.transferAppBody,
        response: {200: s.ref('AppView'), ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request) => deps.apps.transfer(principalOf(request), request.params.slug, request.body),
  )

  app.get<{Params: {id: string}}>(
    '/v1/keys/:id',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'One key (without secret), its app, status and rotation state (members of the owning team only)',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        response: {200: s.getKeyResponse, ...s.problems(401, 403, 404)},
      },
    },
    async (request): Promise<GetKeyResponse> => deps.keys.get(principalOf(request), request.params.id),
  )

  app.post<{Params: {id: string}; Body: RotateKeyRequest | undefined}>(
    '/v1/keys/:id/rotate',
    {
      config: {auth: 'session'},
      // The body is optional: no body means "all defaults".
      preValidation: async (request) => {
        request.body ??= {}
      },
      schema: {
        summary: 'Rotate a key: issue its replacement (plaintext once) and end the old key after graceMs (default 24 h, 0 = at once)',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        body: s.rotateKeyBody,
        response: {201: s.rotateKeyResponse, ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request, reply): Promise<RotateKeyResponse> => {
      const rotated = await deps.keys.rotate(principalOf(request), request.params.id, request.body ?? undefined)
      reply.code(201).header('cache-control', 'no-store').header('location', `/v1/keys/${rotated.newKey.id}`)
      return rotated
    },
  )

  app.delete<{Params: {id: string}}>(
    '/v1/keys/:id',
    {
      config: {auth: 'session'},
      schema: {
        summary: 'Revoke a key at once; revoking twice answers 200 with alreadyRevoked: true',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        response: {200: s.revokeKeyResponse, ...s.problems(401, 403, 404)},
      },
    },
    async (request): Promise<RevokeKeyResponse> => deps.keys.revoke(principalOf(request), request.params.id),
  )

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
        response: {200: s.listTokensResponse, ...s.problems(401, 403, 404)},
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

  app.post(
    '/v1/keys/whoami',
    {
      config: {auth: 'apiKey'},
      schema: {
        summary: 'What a key is (app, team, env, expiry, status); authenticated by the key itself',
        tags: ['keys'],
        security: s.apiKeySecurity,
        response: {200: s.whoamiResponse, ...s.problems(400, 401, 404)},
      },
    },
    async (request): Promise<KeyWhoamiResponse> => {
      const key = bearerToken(request.headers.authorization)
      if (key === undefined) {
        throw new ApikeyError('send the API key to inspect as "Authorization: Bearer <key>"', {code: 'unauthenticated', suggestions: ['apikey whoami']})
      }
      return deps.keys.whoami(key)
    },
  )
}
