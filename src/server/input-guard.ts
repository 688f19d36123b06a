/**
 * The service side of the free-text guard (`core/secrets.ts`): every string in
 * a request's path parameters, query and JSON body is checked before the
 * route's schema and service see it. A secret (API key, session, provisioning
 * or verifier token), a password given as a username, or an invisible or
 * direction-changing character answers 400 problem details naming the field —
 * never the value — and nothing is stored.
 *
 * Exceptions, listed in {@link INPUT_RULES}:
 * - fields meant to carry a secret (`POST /v1/sessions` `password`,
 *   `POST /v1/verify` `key`) are not checked;
 * - `username` fields follow the username rule (a value that is not shaped like
 *   a username, or equals the password sent with it, is refused unseen);
 * - path parameters (ids, slugs) answer 404 `not_found` instead of 400 (the
 *   status those routes document for an id that names nothing), with the same
 *   message; a key's display start given as an id is recognised and answered
 *   with `apikey keys list`;
 * - query parameters are checked when the route declares them (others are
 *   ignored by every route: never used, stored or echoed);
 * - on routes called by a verifier (`POST /v1/verify`, `POST /v1/usage`), the
 *   free-text request context (user agent, client app, route…) is reported by
 *   the protected API on behalf of its own callers: a secret-shaped value there
 *   is dropped (not stored, not echoed) instead of failing the verification or
 *   the whole usage batch.
 */
import type {FastifyRequest} from 'fastify'
import {ApikeyError} from '../core/errors.js'
import {checkInput, type InputRule} from '../core/secrets.js'

/** A field's rule: as in {@link checkInput}, or `secret` (not checked). */
export type FieldRule = InputRule | 'secret'

/**
 * Rules by route (`METHOD url-template`) and field path (`body.name`,
 * `query.app`, `path.id`; array items as `[]`, e.g. `body.events[].route`).
 * A field not listed is `text`; path parameters default to `id`.
 */
export const INPUT_RULES: Readonly<Record<string, Readonly<Record<string, FieldRule>>>> = {
  'POST /v1/sessions': {'body.password': 'secret', 'body.username': 'username'},
  'POST /v1/verify': {'body.key': 'secret'},
}

/** Where a value sits in the request. */
type Location = 'path' | 'query' | 'body'

/**
 * Checks (or, on verifier routes, cleans) every string of `request`.
 * @throws ApikeyError code `validation` (400) naming the field.
 */
export function guardRequest(request: FastifyRequest): void {
  const route = `${request.method} ${request.routeOptions.url ?? ''}`
  const rules = INPUT_RULES[route] ?? {}
  const drop = request.routeOptions.config.auth === 'verifier'
  const body = request.body
  const password = isRecord(body) && typeof body.password === 'string' ? body.password : undefined
  const check = (location: Location, path: string, value: string): boolean => {
    const rule = rules[`${location}.${path.replace(/\[\d+\]/g, '[]')}`] ?? (location === 'path' ? 'id' : 'text')
    if (rule === 'secret') return true
    const field = location === 'body' ? path : `${location}.${path}`
    try {
      checkInput(value, field, {rule, ...(rule === 'username' && password !== undefined ? {password} : {})})
      return true
    } catch (error) {
      if (!(error instanceof ApikeyError)) throw error
      if (drop && location === 'body') return false
      if (location === 'path') throw new ApikeyError(error.message, {code: 'not_found', suggestions: error.suggestions, details: error.details})
      throw error
    }
  }
  if (isRecord(request.params)) walk(request.params, 'path', '', check)
  const declared = (request.routeOptions.schema?.querystring as {properties?: Record<string, unknown>} | undefined)?.properties
  if (isRecord(request.query) && declared !== undefined) {
    const query = request.query
    walk(Object.fromEntries(Object.keys(declared).filter((name) => name in query).map((name) => [name, query[name]])), 'query', '', check)
  }
  if (body !== undefined && body !== null) walk(body, 'body', '', check)
}

/** Visits every string under `value`; a string `check` rejects is removed (objects) or nulled (arrays). */
function walk(value: unknown, location: Location, path: string, check: (location: Location, path: string, value: string) => boolean): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = `${path}[${i}]`
      if (typeof item === 'string') {
        if (!check(location, at, item)) value[i] = null
      } else walk(item, location, at, check)
    })
    return
  }
  if (!isRecord(value)) return
  for (const [name, item] of Object.entries(value)) {
    const at = path === '' ? name : `${path}.${name}`
    if (typeof item === 'string') {
      if (!check(location, at, item)) delete value[name]
    } else walk(item, location, at, check)
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
