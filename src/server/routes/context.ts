/**
 * What route plugins receive, and the per-route authentication declaration.
 * Every route states `config.auth`; a global `onRequest` hook in `app.ts`
 * enforces it (a route that forgets is treated as `session`, never public).
 */
import type {AppsService} from '../services/apps.js'
import type {AuditService} from '../services/audit.js'
import type {AuthService, Principal} from '../services/auth.js'
import type {KeysService} from '../services/keys.js'
import type {ProvisioningPrincipal, TokensService} from '../services/tokens.js'
import type {ServerSettings} from '../settings.js'

/**
 * How a route authenticates its caller: `public` (nobody), `session` (a developer
 * session token; a provisioning token gets 403), `sessionOrProvisioning` (either;
 * only `POST /v1/apps/{slug}/keys`), `apiKey` (the route reads the key itself).
 */
export type RouteAuth = 'public' | 'session' | 'sessionOrProvisioning' | 'apiKey'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How this route authenticates; default `session`. */
    auth?: RouteAuth
  }
  interface FastifyRequest {
    /** The signed-in caller of a `session` route (set by the auth hook). */
    principal: Principal | null
    /** The provisioning token of a `sessionOrProvisioning` route (set by the auth hook; then `principal` is null). */
    provisioner: ProvisioningPrincipal | null
  }
}

/** Services and facts the routes need. */
export interface RouteDeps {
  auth: AuthService
  apps: AppsService
  keys: KeysService
  tokens: TokensService
  audit: AuditService
  settings: ServerSettings
  /** Server version for `GET /v1/meta`. */
  version: string
}
