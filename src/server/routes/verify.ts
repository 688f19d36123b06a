/**
 * Verification (contract in src/core/wire.ts): `POST /v1/verify` and the nginx
 * `auth_request` form `GET /v1/verify/auth-request`. Usage is in `usage.ts`,
 * rate-limit settings in `limits.ts`.
 *
 * Rate-limit headers follow draft-ietf-httpapi-ratelimit-headers (the
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` fields, reset in
 * seconds) plus `Retry-After` (RFC 9110 §10.2.3, whole seconds).
 */
import type {FastifyInstance, FastifyReply, FastifyRequest} from 'fastify'
import type {VerifyContext, VerifyRequest, VerifyResponse} from '../../core/wire.js'
import {bearerToken} from '../services/auth.js'
import {routeTemplateOf, type VerifierScope} from '../services/verify.js'
import {getKeyCommandOf} from '../settings.js'
import {firstHeader, type RouteDeps} from './context.js'
import {docsUrlOf} from './docs.js'
import * as s from './schemas.js'

/** Request context fields of the auth-request form and the headers nginx passes them in. */
const CONTEXT_HEADERS: ReadonlyArray<[Exclude<keyof VerifyContext, 'route'>, string]> = [
  ['clientApp', 'x-client-app'],
  ['appVersion', 'x-client-version'],
  ['userAgent', 'user-agent'],
  ['clientIp', 'x-real-ip'],
  ['method', 'x-original-method'],
]

/** `X-Apikey-Code` values of the auth-request form besides the {@link VerifyResponse} codes. */
export type AuthRequestCode = VerifyResponse['code'] | 'UNAVAILABLE' | 'VERIFIER_REJECTED'

/** The authenticated verifier of a `verifier` route (its environment scope applies to every verdict). */
function verifierOf(request: FastifyRequest): VerifierScope {
  if (request.verifier === null) throw new Error('route declared auth "verifier" but no verifier was set')
  return request.verifier.verifier
}

/** Every value of a request header, in order, from the raw header list (Node joins or drops duplicates in `headers`). */
export function headerValues(request: FastifyRequest, name: string): string[] {
  const raw = request.raw.rawHeaders
  const out: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] ?? '')
  return out
}

/**
 * The API key of an auth-request subrequest: `X-API-Key`, or `Authorization: Bearer`.
 * Deterministic rules: no key → `''` (answered as "missing key"); two different
 * keys (repeated header, or both headers) → a rejection; a key-shaped value in the
 * original URI's query → a rejection (keys never travel in URLs). Nothing is trimmed.
 */
export function authRequestKey(request: FastifyRequest, keyPrefix: string): {key: string; rejection?: string} {
  const candidates = new Set<string>()
  for (const value of headerValues(request, 'x-api-key')) candidates.add(value)
  for (const value of headerValues(request, 'authorization')) {
    const credential = bearerToken(value)
    if (credential !== undefined) candidates.add(credential)
  }
  const uri = firstHeader(request, 'x-original-uri') ?? ''
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : ''
  const inQuery = query !== '' && [...new URLSearchParams(query).values()].some((value) => value.startsWith(`${keyPrefix}_`))
  if (inQuery) return {key: '', rejection: 'API keys are never accepted in URLs (they end up in logs): send it in the X-API-Key header, and rotate a key that was sent in a URL'}
  const nonEmpty = [...candidates].filter((value) => value !== '')
  if (nonEmpty.length > 1) return {key: '', rejection: 'the request carries more than one API key (X-API-Key and Authorization, or a repeated header): send exactly one'}
  return {key: nonEmpty[0] ?? ''}
}

/** Sets `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (s, rounded up) and, when refused, `Retry-After` (s). */
export function setRateLimitHeaders(reply: FastifyReply, rateLimit: VerifyResponse['rateLimit']): void {
  if (rateLimit === null) return
  reply.header('ratelimit-limit', String(rateLimit.limit))
  reply.header('ratelimit-remaining', String(rateLimit.remaining))
  reply.header('ratelimit-reset', String(Math.ceil(rateLimit.resetMs / 1000)))
  if (rateLimit.retryAfterSeconds !== undefined) reply.header('retry-after', String(rateLimit.retryAfterSeconds))
}

/** The 403 of the auth-request form for service trouble (nginx example: 503). */
export function sendUnavailable(reply: FastifyReply, code: 'UNAVAILABLE' | 'VERIFIER_REJECTED'): FastifyReply {
  return reply.code(403).header('cache-control', 'no-store').header('x-apikey-code', code).header('x-apikey-retry-after', '1').send()
}

/** Registers `POST /v1/verify` and `GET /v1/verify/auth-request`. */
export async function verifyRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{Body: VerifyRequest}>(
    '/v1/verify',
    {
      config: {auth: 'verifier'},
      schema: {
        summary:
          'Verify an API key for a protected API (verifier token): 200 with the verdict (VALID, MALFORMED, NOT_FOUND, EXPIRED, REVOKED, RATE_LIMITED, or FORBIDDEN for a genuine key of an environment outside the verifier\'s scope, e.g. a dev key sent to a verifier added with --env prod); 503 when verification is unavailable (never a verdict)',
        tags: ['verify'],
        security: s.verifierSecurity,
        body: s.verifyBody,
        response: {200: s.verifyResponse, ...s.problems(400, 401, 503)},
      },
    },
    async (request, reply): Promise<VerifyResponse> => {
      const verdict = await deps.verify.verify({key: request.body.key, verifier: verifierOf(request), context: request.body.context, source: 'verify', requestIp: request.ip})
      reply.header('cache-control', 'no-store')
      return {...verdict, docsUrl: verdict.docsUrl === '' ? docsUrlOf(deps.settings, request) : verdict.docsUrl}
    },
  )

  app.get(
    '/v1/verify/auth-request',
    {
      config: {auth: 'verifier', verifierTokenHeader: true, authRequest: true},
      // nginx turns anything but 2xx, 401 and 403 into 500: every failure here is a 403 UNAVAILABLE.
      errorHandler: (error, request, reply) => {
        request.log.error({err: error}, 'auth-request verification failed')
        return sendUnavailable(reply, 'UNAVAILABLE')
      },
      schema: {
        summary:
          'nginx auth_request form (verifier token in X-Verifier-Token; key in X-API-Key or Authorization: Bearer). 204 VALID with X-Apikey-App/-Team/-Env/-Key-Id and RateLimit-* headers; 401 with X-Apikey-Code for an invalid key; 403 with X-Apikey-Code FORBIDDEN (a genuine key of an environment outside the verifier\'s scope: X-Apikey-App/-Team/-Env/-Key-Id, X-Apikey-Allowed-Envs and X-Apikey-Suggestion, the command that issues an accepted key), RATE_LIMITED (and X-Apikey-Retry-After, Retry-After) or UNAVAILABLE/VERIFIER_REJECTED',
        tags: ['verify'],
        security: s.verifierHeaderSecurity,
        response: {
          204: {description: 'VALID', type: 'null'},
          401: {
            description:
              'the key is missing or invalid: X-Apikey-Code names why (MALFORMED, NOT_FOUND, EXPIRED, REVOKED), X-Apikey-Suggestion the command to run (e.g. apikey init from the service settings; for an expired or revoked key the command for its kind: apikey init --new-key for a dev key, apikey keys create --app APP --env ENV for a service key, apikey ci key for a CI key), X-Apikey-Docs-Url the docs page',
            type: 'null',
          },
          403: {
            description:
              'X-Apikey-Code FORBIDDEN (X-Apikey-App/-Team/-Env/-Key-Id, X-Apikey-Allowed-Envs, X-Apikey-Suggestion), RATE_LIMITED (X-Apikey-Retry-After, Retry-After), UNAVAILABLE or VERIFIER_REJECTED',
            type: 'null',
          },
        },
      },
    },
    async (request, reply) => {
      const {key, rejection} = authRequestKey(request, deps.settings.keyPrefix)
      const context: VerifyContext = {}
      const route = firstHeader(request, 'x-route-template') ?? routeTemplateOf(firstHeader(request, 'x-original-uri'))
      if (route !== undefined) context.route = route
      for (const [field, header] of CONTEXT_HEADERS) {
        const value = firstHeader(request, header)
        if (value !== undefined) context[field] = value
      }
      const verifier = verifierOf(request)
      const verdict = await deps.verify.verify({key, rejection, verifier, context, source: 'gateway', requestIp: request.ip})
      reply.header('cache-control', 'no-store')
      setRateLimitHeaders(reply, verdict.rateLimit)
      if (verdict.code === 'VALID' && verdict.app !== null && verdict.env !== null && verdict.keyId !== null) {
        return reply
          .code(204)
          .header('x-apikey-app', verdict.app.slug)
          .header('x-apikey-team', verdict.app.team.slug)
          .header('x-apikey-env', verdict.env)
          .header('x-apikey-key-id', verdict.keyId)
          .send()
      }
      if (verdict.code === 'FORBIDDEN' && verdict.app !== null && verdict.env !== null && verdict.keyId !== null) {
        // A genuine key, not meant for this API. Header values are slugs, environment names and
        // the command built from them (never free text), so a gateway can put them in a JSON body.
        return reply
          .code(403)
          .header('x-apikey-code', 'FORBIDDEN')
          .header('x-apikey-app', verdict.app.slug)
          .header('x-apikey-team', verdict.app.team.slug)
          .header('x-apikey-env', verdict.env)
          .header('x-apikey-key-id', verdict.keyId)
          .header('x-apikey-allowed-envs', (verifier.allowedEnvs ?? []).join(','))
          .header('x-apikey-suggestion', verdict.suggestions[0] ?? '')
          .send()
      }
      if (verdict.code === 'RATE_LIMITED') {
        return reply
          .code(403)
          .header('x-apikey-code', 'RATE_LIMITED')
          .header('x-apikey-retry-after', String(verdict.rateLimit?.retryAfterSeconds ?? 1))
          .send()
      }
      // The command to run and the docs link come from the service's settings, so a gateway can show them
      // (printable ASCII without quotes or backslashes: safe to put in a JSON string).
      return reply
        .code(401)
        .header('x-apikey-code', verdict.code)
        .header('x-apikey-suggestion', verdict.suggestions[0] ?? getKeyCommandOf(deps.settings))
        .header('x-apikey-docs-url', verdict.docsUrl === '' ? docsUrlOf(deps.settings, request) : verdict.docsUrl)
        .send()
    },
  )
}
