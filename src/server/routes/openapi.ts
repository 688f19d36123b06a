/**
 * What every operation of the OpenAPI document states without each route repeating it, applied
 * to each route as it is added (an `onRoute` hook in `app.ts`), so a route added later cannot
 * forget it:
 * - an `operationId` derived from method and path (`POST /v1/keys/:id/rotate` → `postKeysByIdRotate`);
 * - `security: []` on public routes (no credential), so every operation states its security;
 * - the 400 every request can get (a malformed percent-escape in the path, a path segment longer
 *   than {@link MAX_PARAM_LENGTH}) and the 431 (header fields too large), as problem details.
 * Error responses are documented with the media type they are sent with, `application/problem+json`
 * (see `schemas.problems`).
 */
import type {RouteOptions} from 'fastify'
import {problems} from './schemas.js'

/** Longest path parameter the router accepts, in characters (Fastify's default); longer answers 400. */
export const MAX_PARAM_LENGTH = 100

/** Statuses every documented operation can answer, whatever its route does. */
const EVERY_ROUTE_STATUSES = [400, 431] as const

/** `operationId` of a route: method plus its path after `/v1`, parameters as `By<Name>`, in lowerCamelCase. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1')
    .flatMap((segment) => (segment.startsWith(':') ? ['by', ...segment.slice(1).split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/)))
    .filter((word) => word !== '')
  return method.toLowerCase() + words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('')
}

/** The `onRoute` hook: completes a documented route's schema (see the module comment). Hidden routes are left alone. */
export function documentRoute(route: RouteOptions): void {
  const schema = route.schema as (Record<string, unknown> & {hide?: boolean; response?: Record<string, unknown>}) | undefined
  if (schema === undefined || schema.hide === true) return
  const method = Array.isArray(route.method) ? (route.method[0] ?? 'GET') : route.method
  if (method === 'HEAD') return
  schema.operationId ??= operationIdOf(method, route.url)
  if (route.config?.auth === 'public' && schema.security === undefined) schema.security = []
  const response = (schema.response ??= {})
  for (const status of EVERY_ROUTE_STATUSES) response[String(status)] ??= problems(status)[String(status)]
}
