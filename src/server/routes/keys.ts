/**
 * API keys: list and issue an app's keys (`/v1/apps/{slug}/keys`), read, rotate
 * and revoke one key (`/v1/keys/{id}`, `/v1/keys/{id}/rotate`), end one in
 * favour of a key the caller holds (`/v1/keys/{id}/replace`), and ask what a
 * key is (`POST /v1/keys/whoami`, authenticated by the key itself).
 * Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import {ApikeyError} from '../../core/errors.js'
import type {
  CreateKeyRequest,
  GetKeyResponse,
  KeyWhoamiResponse,
  ListKeysResponse,
  ReplaceKeyRequest,
  ReplaceKeyResponse,
  RevokeKeyRequest,
  RevokeKeyResponse,
  RotateKeyRequest,
  RotateKeyResponse,
} from '../../core/wire.js'
import {bearerToken} from '../services/auth.js'
import {principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Registers the key routes: 201 with `Location` and `Cache-Control: no-store` when a plaintext key is in the answer (issue, rotate), 200 otherwise. */
export async function keyRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
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

  app.post<{Params: {id: string}; Body: ReplaceKeyRequest}>(
    '/v1/keys/:id/replace',
    {
      config: {auth: 'session'},
      schema: {
        summary:
          'End a key in favour of an active key of the same app and env that the caller issued, after graceMs (as rotate, without issuing a key); personal keys only by their holder',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        body: s.replaceKeyBody,
        response: {200: s.replaceKeyResponse, ...s.problems(400, 401, 403, 404, 409)},
      },
    },
    async (request): Promise<ReplaceKeyResponse> => deps.keys.replace(principalOf(request), request.params.id, request.body),
  )

  app.delete<{Params: {id: string}; Body: RevokeKeyRequest | undefined}>(
    '/v1/keys/:id',
    {
      config: {auth: 'session'},
      // The body is optional: no body means no reason.
      preValidation: async (request) => {
        request.body ??= {}
      },
      schema: {
        summary:
          'Revoke a key at once (personal keys: their holder or team owners; other keys: team members; admins: any key, with a reason); revoking twice answers 200 with alreadyRevoked: true',
        tags: ['keys'],
        security: s.sessionSecurity,
        params: s.keyIdParams,
        body: s.revokeKeyBody,
        response: {200: s.revokeKeyResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request): Promise<RevokeKeyResponse> => deps.keys.revoke(principalOf(request), request.params.id, request.body ?? {}),
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
