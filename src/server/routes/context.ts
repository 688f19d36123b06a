/**
 * What route plugins receive, and the per-route authentication declaration.
 * Every route states `config.auth`; a global `onRequest` hook in `app.ts`
 * enforces it (a route that forgets is treated as `session`, never public).
 */
import type {FastifyRequest} from 'fastify'
import type {AppsService} from '../services/apps.js'
import type {AuditService} from '../services/audit.js'
import type {AuthService, Principal, SignInStats} from '../services/auth.js'
import type {KeysService} from '../services/keys.js'
import type {LimitsService} from '../services/limits.js'
import type {UsageService} from '../services/usage.js'
import type {VerifierAuth, VerifierPrincipal} from '../services/verifiers.js'
import type {VerifyService} from '../services/verify.js'
import type {ProvisioningPrincipal, TokensService} from '../services/tokens.js'
import type {ServerSettings} from '../settings.js'

/**
 * How a route authenticates its caller: `public` (nobody), `session` (a developer
 * session token; a provisioning token gets 403), `sessionOrProvisioning` (either;
 * only `POST /v1/apps/{slug}/keys`), `apiKey` (the route reads the key itself),
 * `verifier` (a verifier token `akv_…`: `Authorization: Bearer`, or the
 * `X-Verifier-Token` header when the route sets `verifierTokenHeader`).
 */
export type RouteAuth = 'public' | 'session' | 'sessionOrProvisioning' | 'apiKey' | 'verifier'

import type {MaintenanceResult} from '../services/usage.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How this route authenticates; default `session`. */
    auth?: RouteAuth
    /** `verifier` routes: read the verifier token from `X-Verifier-Token` (the nginx auth-request form; its `Authorization` is the client's). */
    verifierTokenHeader?: boolean
    /** The nginx auth-request form: every answer is 2xx, 401 or 403 (nginx turns anything else into 500). */
    authRequest?: boolean
  }
  interface FastifyInstance {
    /** Writes usage and last-used times held in memory now (see `services/usage.ts`). */
    flushUsage(): Promise<void>
    /** Runs one usage rollup and retention pass now (otherwise every `settings.usageRollupIntervalMs`; see `services/usage.ts`). */
    rollupUsage(): Promise<MaintenanceResult>
    /** Reads admin changes from the audit log now and emits them (otherwise every second); resolves to how many. */
    pollAdminChanges(): Promise<number>
    /** Counters of the sign-in path: password hashing per lane (see `services/hash-gate.ts`). */
    signInStats(): SignInStats
  }
  interface FastifyRequest {
    /** The signed-in caller of a `session` route (set by the auth hook). */
    principal: Principal | null
    /** The provisioning token of a `sessionOrProvisioning` route (set by the auth hook; then `principal` is null). */
    provisioner: ProvisioningPrincipal | null
    /** The verifier of a `verifier` route (set by the auth hook). */
    verifier: VerifierPrincipal | null
  }
}

/** Services and facts the routes need. */
export interface RouteDeps {
  auth: AuthService
  apps: AppsService
  keys: KeysService
  tokens: TokensService
  audit: AuditService
  verifiers: VerifierAuth
  verify: VerifyService
  usage: UsageService
  limits: LimitsService
  settings: ServerSettings
  /** Server version for `GET /v1/meta`. */
  version: string
}

/**
 * The signed-in caller of a `session` route.
 * @throws Error when the route did not declare `auth: 'session'` (a programming error: the auth hook set no principal).
 */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('route declared auth "session" but no principal was set')
  return request.principal
}

/** The first value of a request header; undefined when absent or empty. */
export function firstHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return text === undefined || text === '' ? undefined : text
}
