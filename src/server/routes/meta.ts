/**
 * `GET /v1/meta`: public service facts (key prefix, key environment variable,
 * sign-in modes, key environments, docs). Contract in src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import {KEY_ENVIRONMENTS} from '../../core/key-format.js'
import type {MetaResponse} from '../../core/wire.js'
import {getKeyCommandOf} from '../settings.js'
import type {RouteDeps} from './context.js'
import {docsUrlOf} from './docs.js'
import * as s from './schemas.js'

/** Registers `GET /v1/meta`. */
export async function metaRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    '/v1/meta',
    {
      config: {auth: 'public'},
      schema: {summary: 'Service facts: key prefix, key env var, sign-in modes, docs', tags: ['meta'], response: {200: s.metaResponse}},
    },
    async (request): Promise<MetaResponse> => ({
      service: 'apikey',
      version: deps.version,
      keyPrefix: deps.settings.keyPrefix,
      keyEnvVar: deps.settings.keyEnvVar,
      authModes: ['password'],
      docsUrl: docsUrlOf(deps.settings, request),
      getKeyCommand: getKeyCommandOf(deps.settings),
      cliPackage: deps.settings.cliPackage,
      environments: [...KEY_ENVIRONMENTS],
    }),
  )
}
