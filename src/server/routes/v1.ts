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
  KeyWhoamiResponse,
  ListAppsResponse,
  ListKeysResponse,
  MeResponse,
  MetaResponse,
} from '../../core/wire.js'
import type {Principal} from '../services/auth.js'
import {bearerToken} from '../services/auth.js'
import type {RouteDeps} from './context.js'
import * as s from './schemas.js'

function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('route declared auth "session" but no principal was set')
  return request.principal
}

/** Registers every v1 route on `app`. */
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
      schema: {summary: 'Sign out: revoke the session used for this call', tags: ['sessions'], security: s.sessionSecurity, response: {204: {type: 'null'}, ...s.problems(401)}},
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
      schema: {summary: 'The signed-in user and their teams', tags: ['sessions'], security: s.sessionSecurity, response: {200: s.meResponse, ...s.problems(401)}},
    },
    async (request): Promise<MeResponse> => deps.auth.me(principalOf(request)),
  )

  app.get(
    '/v1/apps',
    {
      config: {auth: 'session'},
      schema: {summary: "Apps of the caller's teams (all apps for admins)", tags: ['apps'], security: s.sessionSecurity, response: {200: s.listAppsResponse, ...s.problems(401)}},
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
        response: {200: s.ref('AppView'), ...s.problems(401, 404)},
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
      config: {auth: 'session'},
      schema: {
        summary: 'Issue a key (members of the owning team only); the plaintext is in this response only',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.slugParams,
        body: s.createKeyBody,
        response: {201: s.createKeyResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request, reply) => {
      const created = await deps.keys.create(principalOf(request), request.params.slug, request.body)
      reply.code(201).header('cache-control', 'no-store')
      return created
    },
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
