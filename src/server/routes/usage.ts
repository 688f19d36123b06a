/**
 * Usage: verifiers report usage batches (`POST /v1/usage`, verifier token) and
 * an app's owners read the report (`GET /v1/apps/{slug}/usage`). Contract in
 * src/core/wire.ts.
 */
import type {FastifyInstance} from 'fastify'
import type {UsageSource} from '../repositories/usage.js'
import type {UsageEventInput} from '../services/usage.js'
import {firstHeader, principalOf, type RouteDeps} from './context.js'
import * as s from './schemas.js'

/** Body limit of `POST /v1/usage`, in bytes (5,000 events of ~1 KB fit). */
export const USAGE_BODY_LIMIT_BYTES = 8 * 1024 * 1024

/** Registers `POST /v1/usage` (200 once the batch is durably stored, 503 when not) and `GET /v1/apps/{slug}/usage`. */
export async function usageRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{Body: {events: UsageEventInput[]}}>(
    '/v1/usage',
    {
      config: {auth: 'verifier'},
      bodyLimit: USAGE_BODY_LIMIT_BYTES,
      schema: {
        summary: `Usage events of a verifier (at most ${deps.settings.maxUsageBatch} per batch; an event with a count stands for that many identical verifications): 200 only after the batch is durably stored in one transaction; 503 when it could not be (nothing of it is kept — send it again). An Idempotency-Key header makes retries safe: a batch already stored under the same key (within a day) answers 200 with duplicate: true and counts nothing again`,
        tags: ['usage'],
        security: s.verifierSecurity,
        body: s.usageBody(deps.settings.maxUsageBatch),
        response: {200: s.usageIngestResponse, ...s.problems(400, 401, 413, 503)},
      },
    },
    async (request) =>
      deps.usage.ingest(request.body.events, {
        verifierId: request.verifier?.verifier.id ?? '',
        idempotencyKey: firstHeader(request, 'idempotency-key'),
      }),
  )

  app.get<{Params: {slug: string}; Querystring: {since?: string; until?: string; source?: string}}>(
    '/v1/apps/:slug/usage',
    {
      config: {auth: 'session'},
      schema: {
        summary: "Usage of an app's keys (members of the owning team): totals per key, code, route, client app, version, user-agent family and OS, and the number of distinct client networks",
        tags: ['usage'],
        security: s.sessionSecurity,
        params: s.slugParams,
        querystring: s.usageQuery,
        response: {200: s.usageReportResponse, ...s.problems(400, 401, 403, 404)},
      },
    },
    async (request) =>
      deps.usage.report(principalOf(request), request.params.slug, {
        since: request.query.since === undefined ? undefined : Number(request.query.since),
        until: request.query.until === undefined ? undefined : Number(request.query.until),
        sources: request.query.source === undefined ? undefined : ([...new Set(request.query.source.split(','))] as UsageSource[]),
      }),
  )
}
