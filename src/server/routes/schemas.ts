/**
 * JSON Schemas (draft-07, as Fastify/Ajv use them) of the v1 wire types in
 * src/core/wire.ts. Registered once with `addSchema` and referenced by `$id`,
 * so `GET /openapi.json` lists them as components. Field rules with human
 * wording (slug, email, names) are checked by the services, which name the
 * rule in their 400 problem; the schemas check shape and types.
 */
import {KEY_ENVIRONMENTS} from '../../core/key-format.js'
import {MAX_USAGE_EVENT_COUNT} from '../../core/wire.js'

const nullableString = {type: ['string', 'null']} as const
const nullableInteger = {type: ['integer', 'null']} as const
const ms = (description: string) => ({type: 'integer', description: `${description} (ms since the Unix epoch, UTC)`}) as const

const KEY_VIEW_REQUIRED = ['id', 'app', 'env', 'kind', 'name', 'start', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt', 'revokedBy', 'lastUsedAt', 'status', 'metadata', 'rotation'] as const

const APP_VIEW_REQUIRED = ['slug', 'name', 'team', 'contactEmail', 'description', 'createdBy', 'createdAt'] as const

/** Properties of an AppView ({@link AppView} in src/core/wire.ts). */
const APP_VIEW_PROPERTIES = {
  slug: {type: 'string'},
  name: {type: 'string'},
  team: {$ref: 'TeamView#'},
  contactEmail: {type: 'string', description: 'point of contact for this app'},
  description: nullableString,
  createdBy: {type: 'string', description: 'username'},
  createdAt: ms('registration time'),
} as const

/** Properties of a KeyView ({@link KeyView} in src/core/wire.ts). */
const KEY_VIEW_PROPERTIES = {
  id: {type: 'string', description: 'public id, key_ + 20 base62'},
  app: {type: 'string'},
  env: {type: 'string', enum: [...KEY_ENVIRONMENTS]},
  kind: {type: 'string', enum: ['dev', 'ci', 'service']},
  name: nullableString,
  start: {type: 'string', description: 'display start, e.g. ak_weather-app_dev_4fT9…'},
  createdBy: {type: 'string', description: 'username, or token:<id> for a key issued with a provisioning token'},
  createdAt: ms('issue time'),
  expiresAt: {...nullableInteger, description: 'expiry (ms since the Unix epoch, UTC); lowered to the grace end on rotation'},
  revokedAt: nullableInteger,
  revokedBy: {...nullableString, description: 'username of whoever revoked it'},
  lastUsedAt: nullableInteger,
  status: {type: 'string', enum: ['active', 'expired', 'revoked'], description: 'at the time of the answer'},
  metadata: {$ref: 'KeyMetadata#'},
  rotation: {anyOf: [{$ref: 'KeyRotation#'}, {type: 'null'}], description: 'null unless the key was rotated'},
} as const

const TOKEN_VIEW_REQUIRED = ['id', 'app', 'scope', 'name', 'start', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt', 'revokedBy', 'lastUsedAt', 'status'] as const

/** Properties of a TokenView ({@link TokenView} in src/core/wire.ts) plus `revokedBy`. */
const TOKEN_VIEW_PROPERTIES = {
  id: {type: 'string', description: 'public id, tok_ + 20 base62'},
  app: {type: 'string'},
  scope: {type: 'string', enum: ['ci']},
  name: nullableString,
  start: {type: 'string', description: 'display start, e.g. akp_4fT9…'},
  createdBy: {type: 'string', description: 'username'},
  createdAt: ms('creation time'),
  expiresAt: ms('expiry'),
  revokedAt: nullableInteger,
  revokedBy: {...nullableString, description: 'username of whoever revoked it'},
  lastUsedAt: nullableInteger,
  status: {type: 'string', enum: ['active', 'expired', 'revoked']},
} as const

/** Shared schemas, each with an `$id` used in `$ref`. */
export const sharedSchemas = [
  {
    $id: 'Problem',
    type: 'object',
    description: 'Problem details (RFC 9457) with our `code`, optional `suggestions` (commands to run) and extension members.',
    required: ['type', 'title', 'status', 'code'],
    properties: {
      type: {type: 'string'},
      title: {type: 'string'},
      status: {type: 'integer'},
      detail: {type: 'string'},
      instance: {type: 'string'},
      code: {type: 'string'},
      suggestions: {type: 'array', items: {type: 'string'}},
    },
    additionalProperties: true,
  },
  {
    $id: 'UserView',
    type: 'object',
    required: ['id', 'username', 'isAdmin'],
    properties: {id: {type: 'string'}, username: {type: 'string'}, isAdmin: {type: 'boolean'}},
    additionalProperties: false,
  },
  {
    $id: 'TeamView',
    type: 'object',
    required: ['slug', 'name', 'contactEmail'],
    properties: {slug: {type: 'string'}, name: {type: 'string'}, contactEmail: nullableString},
    additionalProperties: false,
  },
  {
    $id: 'MembershipView',
    type: 'object',
    required: ['slug', 'name', 'contactEmail', 'role'],
    properties: {slug: {type: 'string'}, name: {type: 'string'}, contactEmail: nullableString, role: {type: 'string', enum: ['member', 'owner']}},
    additionalProperties: false,
  },
  {
    $id: 'AppView',
    type: 'object',
    required: [...APP_VIEW_REQUIRED],
    properties: APP_VIEW_PROPERTIES,
    additionalProperties: false,
  },
  {
    $id: 'KeyMetadata',
    type: 'object',
    properties: Object.fromEntries(
      ['commit', 'branch', 'build', 'buildUrl', 'version', 'ciProvider', 'repository', 'hostname'].map((name) => [name, {type: 'string', maxLength: 500}]),
    ),
    additionalProperties: false,
  },
  {
    $id: 'KeyRotation',
    type: 'object',
    description: 'Rotation state of a key: it stays valid until graceEndsAt.',
    required: ['rotatedAt', 'replacedBy', 'graceEndsAt'],
    properties: {
      rotatedAt: ms('rotation time'),
      replacedBy: {type: 'string', description: 'id of the replacement key'},
      graceEndsAt: ms('end of the grace period: the old key stops verifying at this instant'),
    },
    additionalProperties: false,
  },
  {
    $id: 'KeyView',
    type: 'object',
    required: [...KEY_VIEW_REQUIRED],
    properties: KEY_VIEW_PROPERTIES,
    additionalProperties: false,
  },
  {
    $id: 'TokenView',
    type: 'object',
    description: 'A provisioning token without its secret.',
    required: [...TOKEN_VIEW_REQUIRED],
    properties: TOKEN_VIEW_PROPERTIES,
    additionalProperties: false,
  },
  {
    $id: 'AuditEventView',
    type: 'object',
    required: ['id', 'actor', 'action', 'target', 'time', 'sourceAddress', 'details'],
    properties: {
      id: {type: 'string'},
      actor: {type: ['string', 'null'], description: "username, token:<id> for a provisioning token, 'server admin (local)' for apikey server commands on the service's host, or null when nobody proved who they are (failed sign-in)"},
      action: {type: 'string', description: 'e.g. session.create, app.transfer, key.rotate, token.revoke'},
      target: {type: 'string', description: 'e.g. app:weather-app, key:key_…, token:tok_…'},
      time: ms('when'),
      sourceAddress: {type: ['string', 'null'], description: 'client address after trusted-proxy handling'},
      details: {type: 'object', additionalProperties: true},
    },
    additionalProperties: false,
  },
] as const

/** `$ref` to a shared schema. */
export const ref = (id: (typeof sharedSchemas)[number]['$id']) => ({$ref: `${id}#`}) as const

/** What each documented error status means, for every route. */
const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request: body, query or path (including a malformed percent-escape or an over-long path segment)',
  401: 'missing, unknown, revoked or expired credential',
  403: 'the credential may not do this',
  404: 'no such resource',
  409: 'conflicts with the current state',
  413: 'request body larger than this route accepts',
  429: 'too many requests (Retry-After)',
  431: 'request header fields too large',
  503: 'temporarily unavailable (Retry-After); nothing was done',
}

/**
 * Error responses a route may give: problem details (RFC 9457), documented with the media type
 * they are sent with, `application/problem+json` (Fastify picks the serializer by that type).
 */
export function problems(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {description: `${PROBLEM_DESCRIPTIONS[status] ?? 'error'} (problem details)`, content: {'application/problem+json': {schema: ref('Problem')}}},
    ]),
  )
}

/** Path parameter `{slug}` (any string up to 64 characters; unknown slugs are 404). */
export const slugParams = {
  type: 'object',
  required: ['slug'],
  properties: {slug: {type: 'string', minLength: 1, maxLength: 64, description: 'app slug'}},
} as const

/** `GET /v1/meta` 200 body ({@link MetaResponse} in src/core/wire.ts). */
export const metaResponse = {
  type: 'object',
  required: ['service', 'version', 'keyPrefix', 'keyEnvVar', 'authModes', 'docsUrl', 'getKeyCommand', 'cliPackage', 'environments'],
  properties: {
    service: {type: 'string', enum: ['apikey']},
    version: {type: 'string'},
    keyPrefix: {type: 'string'},
    keyEnvVar: {type: 'string'},
    authModes: {type: 'array', items: {type: 'string', enum: ['password']}},
    docsUrl: {type: 'string', description: "how to get a key: this service's GET /docs unless configured otherwise"},
    getKeyCommand: {type: 'string', description: 'the command callers without a key are told to run (from the service settings)'},
    cliPackage: {...nullableString, description: "npm package name of the CLI on the organisation's registry, when configured"},
    environments: {type: 'array', items: {type: 'string', enum: [...KEY_ENVIRONMENTS]}},
  },
  additionalProperties: false,
} as const

/** `POST /v1/sessions` body ({@link CreateSessionRequest}); credentials are checked by the service. */
export const createSessionBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: {username: {type: 'string', minLength: 1, maxLength: 200}, password: {type: 'string', minLength: 1, maxLength: 1024}},
  additionalProperties: false,
} as const

/** `POST /v1/sessions` 201 body ({@link CreateSessionResponse}). */
export const createSessionResponse = {
  type: 'object',
  required: ['token', 'expiresAt', 'user', 'teams'],
  properties: {
    token: {type: 'string', description: 'session token aks_ + 40 base62; shown once'},
    expiresAt: ms('session expiry'),
    user: ref('UserView'),
    teams: {type: 'array', items: ref('MembershipView')},
  },
  additionalProperties: false,
} as const

/** `GET /v1/me` 200 body ({@link MeResponse}). */
export const meResponse = {
  type: 'object',
  required: ['user', 'teams', 'sessionExpiresAt'],
  properties: {user: ref('UserView'), teams: {type: 'array', items: ref('MembershipView')}, sessionExpiresAt: ms('session expiry')},
  additionalProperties: false,
} as const

/** `POST /v1/apps` body ({@link CreateAppRequest}); slug, name and email rules are checked by the service (400 naming the rule). */
export const createAppBody = {
  type: 'object',
  required: ['slug', 'name', 'team', 'contactEmail'],
  properties: {
    slug: {type: 'string', maxLength: 200, description: '3–32 of a-z 0-9 -, starts and ends alphanumeric, no --; immutable'},
    name: {type: 'string', maxLength: 1000, description: '1–100 printable characters'},
    team: {type: 'string', maxLength: 200, description: 'slug of the owning team; the caller must be a member'},
    contactEmail: {type: 'string', maxLength: 1000, description: 'point of contact'},
    description: {type: 'string', maxLength: 5000},
  },
  additionalProperties: false,
} as const

/** `GET /v1/apps` 200 body ({@link ListAppsResponse}). */
export const listAppsResponse = {
  type: 'object',
  required: ['apps'],
  properties: {apps: {type: 'array', items: ref('AppView')}},
  additionalProperties: false,
} as const

/**
 * `POST /v1/apps/{slug}/keys` body ({@link CreateKeyRequest}); expiry bounds are checked by the service.
 * `env` is required for session callers (checked by the service) and defaults to `ci` for provisioning tokens.
 */
export const createKeyBody = {
  type: 'object',
  properties: {
    env: {type: 'string', enum: [...KEY_ENVIRONMENTS]},
    kind: {type: 'string', enum: ['dev', 'ci', 'service']},
    name: {type: 'string', maxLength: 1000},
    expiresAt: {type: 'integer', description: 'absolute expiry, ms since the Unix epoch (UTC); default per env from settings'},
    metadata: ref('KeyMetadata'),
  },
  additionalProperties: false,
} as const

/** `POST /v1/apps/{slug}/keys` 201 body ({@link CreateKeyResponse}): a KeyView plus the plaintext key. */
export const createKeyResponse = {
  type: 'object',
  required: [...KEY_VIEW_REQUIRED, 'key'],
  description: 'KeyView plus the plaintext key, shown this once',
  properties: {
    ...KEY_VIEW_PROPERTIES,
    key: {type: 'string', description: 'the plaintext API key; shown once'},
  },
  additionalProperties: false,
} as const

/** `GET /v1/apps/{slug}/keys` 200 body ({@link ListKeysResponse}). */
export const listKeysResponse = {
  type: 'object',
  required: ['keys'],
  properties: {keys: {type: 'array', items: ref('KeyView')}},
  additionalProperties: false,
} as const

/** `POST /v1/keys/whoami` 200 body ({@link KeyWhoamiResponse}). */
export const whoamiResponse = {
  type: 'object',
  required: ['app', 'key'],
  properties: {app: ref('AppView'), key: ref('KeyView')},
  additionalProperties: false,
} as const

/** Path parameter `{id}` of a key (unknown or malformed ids are 404). */
export const keyIdParams = {
  type: 'object',
  required: ['id'],
  properties: {id: {type: 'string', minLength: 1, maxLength: 200, description: 'key id, key_ + 20 base62'}},
} as const

/** Path parameter `{id}` of a provisioning token (unknown or malformed ids are 404). */
export const tokenIdParams = {
  type: 'object',
  required: ['id'],
  properties: {id: {type: 'string', minLength: 1, maxLength: 200, description: 'token id, tok_ + 20 base62'}},
} as const

/** `GET /v1/keys/{id}` 200 body ({@link GetKeyResponse}). */
export const getKeyResponse = {
  type: 'object',
  required: ['app', 'key'],
  properties: {app: ref('AppView'), key: ref('KeyView')},
  additionalProperties: false,
} as const

/** `POST /v1/keys/{id}/rotate` body ({@link RotateKeyRequest}); may be empty. Grace bounds are checked by the service (400 naming the rule). */
export const rotateKeyBody = {
  type: 'object',
  properties: {graceMs: {type: 'integer', description: 'grace period in ms during which the old key stays valid; 0 = ends at once; default and maximum are service settings'}},
  additionalProperties: false,
} as const

/** `POST /v1/keys/{id}/rotate` 201 body ({@link RotateKeyResponse}). */
export const rotateKeyResponse = {
  type: 'object',
  required: ['newKey', 'oldKey'],
  properties: {newKey: createKeyResponse, oldKey: ref('KeyView')},
  additionalProperties: false,
} as const

/** `POST /v1/keys/{id}/replace` body ({@link ReplaceKeyRequest}). */
export const replaceKeyBody = {
  type: 'object',
  required: ['replacementId'],
  properties: {
    replacementId: {type: 'string', maxLength: 100, description: 'id of an active key of the same app and env that the caller issued'},
    graceMs: {type: 'integer', description: 'grace period in ms during which the old key stays valid; 0 = ends at once; default and maximum are service settings'},
  },
  additionalProperties: false,
} as const

/** `POST /v1/keys/{id}/replace` 200 body ({@link ReplaceKeyResponse}). */
export const replaceKeyResponse = {
  type: 'object',
  required: ['newKey', 'oldKey'],
  properties: {newKey: ref('KeyView'), oldKey: ref('KeyView')},
  additionalProperties: false,
} as const

/** `DELETE /v1/keys/{id}` optional body ({@link RevokeKeyRequest}). */
export const revokeKeyBody = {
  type: 'object',
  properties: {reason: {type: 'string', maxLength: 2000, description: "why, kept in the audit log (1–500 characters); required when a service admin revokes outside their teams' rules"}},
  additionalProperties: false,
} as const

/** `DELETE /v1/keys/{id}` 200 body ({@link RevokeKeyResponse}). */
export const revokeKeyResponse = {
  type: 'object',
  required: ['key', 'alreadyRevoked'],
  properties: {key: ref('KeyView'), alreadyRevoked: {type: 'boolean', description: 'true when the key was revoked before this call (revokedAt/revokedBy are the originals)'}},
  additionalProperties: false,
} as const

/** `POST /v1/apps/{slug}/transfer` body ({@link TransferAppRequest}). */
export const transferAppBody = {
  type: 'object',
  required: ['team'],
  properties: {
    team: {type: 'string', maxLength: 200, description: 'slug of the new owning team; the caller must be a member (or admin)'},
    contactEmail: {type: 'string', maxLength: 1000, description: 'new point of contact; default unchanged'},
  },
  additionalProperties: false,
} as const

/** `POST /v1/apps/{slug}/transfer` 200 body ({@link TransferAppResponse}). */
export const transferAppResponse = {
  type: 'object',
  required: [...APP_VIEW_REQUIRED, 'revokedTokens'],
  properties: {
    ...APP_VIEW_PROPERTIES,
    revokedTokens: {type: 'array', items: ref('TokenView'), description: "the app's provisioning tokens that the transfer revoked (the new team creates its own)"},
  },
  additionalProperties: false,
} as const

/** `GET /v1/audit` query: numbers as decimal strings (query strings are not coerced). */
export const auditQuery = {
  type: 'object',
  properties: {
    app: {type: 'string', minLength: 1, maxLength: 64, description: 'app slug; default: every app of the teams you own (admins: every event)'},
    since: {type: 'string', pattern: '^[0-9]{1,16}$', description: 'only events at or after this instant (ms since the Unix epoch, UTC)'},
    limit: {type: 'string', pattern: '^[0-9]{1,6}$', description: 'at most this many events (1–1000, default 100)'},
  },
  additionalProperties: false,
} as const

/** `GET /v1/audit` 200 body ({@link ListAuditResponse}), newest first. */
export const listAuditResponse = {
  type: 'object',
  required: ['events'],
  properties: {events: {type: 'array', items: ref('AuditEventView')}},
  additionalProperties: false,
} as const

/** `POST /v1/tokens` body ({@link CreateTokenRequest}). */
export const createTokenBody = {
  type: 'object',
  required: ['app', 'scope'],
  properties: {
    app: {type: 'string', maxLength: 200, description: 'app slug; the caller must be a member of its owning team'},
    scope: {type: 'string', enum: ['ci']},
    name: {type: 'string', maxLength: 1000},
    expiresAt: {type: 'integer', description: 'absolute expiry, ms since the Unix epoch (UTC); default and maximum are service settings'},
  },
  additionalProperties: false,
} as const

/** `POST /v1/tokens` 201 body ({@link CreateTokenResponse}). */
export const createTokenResponse = {
  type: 'object',
  required: [...TOKEN_VIEW_REQUIRED, 'token'],
  description: 'TokenView plus the plaintext token, shown this once',
  properties: {...TOKEN_VIEW_PROPERTIES, token: {type: 'string', description: 'the provisioning token akp_ + 40 base62; shown once'}},
  additionalProperties: false,
} as const

/** `GET /v1/tokens` query. */
export const tokensQuery = {
  type: 'object',
  properties: {app: {type: 'string', minLength: 1, maxLength: 64, description: 'app slug; default every app of your teams (admins: all)'}},
  additionalProperties: false,
} as const

/** `GET /v1/tokens` 200 body ({@link ListTokensResponse}). */
export const listTokensResponse = {
  type: 'object',
  required: ['tokens'],
  properties: {tokens: {type: 'array', items: ref('TokenView')}},
  additionalProperties: false,
} as const

/** `DELETE /v1/tokens/{id}` 200 body ({@link RevokeTokenResponse}). */
export const revokeTokenResponse = {
  type: 'object',
  required: ['token', 'alreadyRevoked'],
  properties: {token: ref('TokenView'), alreadyRevoked: {type: 'boolean'}},
  additionalProperties: false,
} as const

/** OpenAPI security requirement: developer session token. */
export const sessionSecurity = [{session: []}]
/** OpenAPI security requirement: the API key itself. */
export const apiKeySecurity = [{apiKey: []}]
/** OpenAPI security requirement: a session token, or a provisioning token (only `POST /v1/apps/{slug}/keys`). */
export const sessionOrProvisioningSecurity: Array<Record<string, string[]>> = [{session: []}, {provisioningToken: []}]

// ---------------------------------------------------------------------------
// Verification, rate limits and usage
// ---------------------------------------------------------------------------

/** OpenAPI security requirement: a verifier token as bearer credentials. */
export const verifierSecurity = [{verifierToken: []}]
/** OpenAPI security requirement: a verifier token in `X-Verifier-Token` (the nginx auth-request form). */
export const verifierHeaderSecurity = [{verifierTokenHeader: []}]

const contextString = (description: string) => ({type: 'string', maxLength: 2048, description}) as const

/** `POST /v1/verify` body ({@link VerifyRequest}). `key` has no schema limit: oversized keys are a MALFORMED verdict, not a 400. */
export const verifyBody = {
  type: 'object',
  required: ['key'],
  properties: {
    key: {type: 'string', description: 'the API key exactly as the client sent it (never trimmed)'},
    context: {
      type: 'object',
      description: 'request context (all optional; never the raw key)',
      properties: {
        clientApp: contextString('client app id, e.g. a bundle id (X-Client-App)'),
        appVersion: contextString('client app version (X-Client-Version)'),
        userAgent: contextString('User-Agent of the client'),
        clientIp: contextString('client IP as the protected API determined it (after its trusted-proxy handling)'),
        method: contextString('HTTP method'),
        route: contextString('route template, e.g. /v1/forecast/:city (never the concrete path)'),
      },
      additionalProperties: true,
    },
  },
  additionalProperties: false,
} as const

const rateLimitState = {
  type: ['object', 'null'],
  description: 'token-bucket state after this verification (draft-ietf-httpapi-ratelimit-headers numbers), null when not applicable',
  required: ['limit', 'remaining', 'resetMs'],
  properties: {
    limit: {type: 'integer', description: 'requests per window (bucket capacity)'},
    remaining: {type: 'integer'},
    resetMs: {type: 'integer', description: 'ms until the bucket is full again'},
    retryAfterSeconds: {type: 'integer', description: 'whole seconds to wait when RATE_LIMITED (≥ 1)'},
  },
  additionalProperties: false,
} as const

/** `POST /v1/verify` 200 body ({@link VerifyResponse}). */
export const verifyResponse = {
  type: 'object',
  required: ['valid', 'code', 'app', 'team', 'env', 'keyId', 'expiresAt', 'rateLimit', 'message', 'suggestions', 'docsUrl', 'getKeyCommand'],
  properties: {
    valid: {type: 'boolean'},
    code: {
      type: 'string',
      enum: ['VALID', 'MALFORMED', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'RATE_LIMITED', 'FORBIDDEN'],
      description: "FORBIDDEN: a genuine, active key of an environment the asking verifier does not accept (a verifier added with --env); the owner is named and the suggestions issue an accepted key",
    },
    app: {
      type: ['object', 'null'],
      description: 'owner of the key (null for MALFORMED, NOT_FOUND and REVOKED: nothing is revealed)',
      properties: {
        slug: {type: 'string'},
        name: {type: 'string'},
        team: {type: 'object', properties: {slug: {type: 'string'}, name: {type: 'string'}}, required: ['slug', 'name'], additionalProperties: false},
        contactEmail: {type: 'string'},
      },
      required: ['slug', 'name', 'team', 'contactEmail'],
      additionalProperties: false,
    },
    team: nullableString,
    env: {type: ['string', 'null'], enum: [...KEY_ENVIRONMENTS, null]},
    keyId: nullableString,
    expiresAt: {...nullableInteger, description: 'earliest instant after which this verdict no longer holds (expiry or grace end), ms since the Unix epoch; null for FORBIDDEN (a key never changes environment)'},
    rateLimit: rateLimitState,
    message: {type: 'string'},
    suggestions: {type: 'array', items: {type: 'string'}},
    docsUrl: {type: 'string'},
    getKeyCommand: {type: 'string', description: 'the command callers without a key are told to run (from the service settings)'},
    keyKind: {type: 'string', enum: ['dev', 'ci', 'service'], description: 'kind of a known key (absent for MALFORMED and NOT_FOUND); it decides the command that replaces an expired or revoked key'},
  },
  additionalProperties: false,
} as const

const usageString = {type: ['string', 'null'], maxLength: 2048} as const

/** `POST /v1/usage` body (`UsageEventRequest` in src/core/wire.ts): `{events: [...]}` of at most `maxEvents` events, each standing for `count` (1 to {@link MAX_USAGE_EVENT_COUNT}, default 1) verifications. */
export function usageBody(maxEvents: number) {
  return {
    type: 'object',
    required: ['events'],
    properties: {
      events: {
        type: 'array',
        maxItems: maxEvents,
        items: {
          type: 'object',
          required: ['code', 'at'],
          properties: {
            keyId: usageString,
            app: usageString,
            code: {type: 'string', pattern: '^[A-Z_]{1,32}$', description: 'verdict code, e.g. VALID'},
            route: usageString,
            clientApp: usageString,
            appVersion: usageString,
            userAgent: usageString,
            clientIp: usageString,
            at: {type: 'integer', description: 'when the request was handled (for an aggregated event: the latest of them), ms since the Unix epoch'},
            count: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_USAGE_EVENT_COUNT,
              default: 1,
              description: 'how many identical verifications (same key, code, source, route, client app, version, user agent, client address and UTC minute) this event stands for; each is stored as if sent on its own',
            },
          },
          additionalProperties: true,
        },
      },
    },
    additionalProperties: false,
  } as const
}

/** `POST /v1/usage` 200 body. */
export const usageIngestResponse = {
  type: 'object',
  required: ['received', 'stored', 'unattributed', 'skipped'],
  properties: {
    received: {type: 'integer', description: 'verifications in the batch (the sum of the events\' counts)'},
    stored: {type: 'integer', description: 'verifications counted against a key'},
    unattributed: {type: 'integer', description: 'verifications without a known key id'},
    skipped: {type: 'integer', description: 'verifications older than the retention or more than a day ahead, or already counted by POST /v1/verify (source: service)'},
    duplicate: {type: 'boolean', description: 'true when the Idempotency-Key was already stored: nothing was counted again'},
  },
  additionalProperties: false,
} as const

/** `PUT /v1/keys/{id}/limit` and `PUT /v1/apps/{slug}/limit` body ({@link SetKeyLimitRequest}). */
export const setLimitBody = {
  type: 'object',
  required: ['rpm'],
  properties: {rpm: {type: ['integer', 'null'], description: 'requests per minute (1 to the service maximum); null removes the override'}},
  additionalProperties: false,
} as const

/** Limit routes' 200 body. */
export const limitResponse = {
  type: 'object',
  required: ['keyId', 'app', 'env', 'rpm', 'effective'],
  properties: {
    keyId: nullableString,
    app: {type: 'string'},
    env: {type: ['string', 'null']},
    rpm: {...nullableInteger, description: 'the override now stored (requests per minute), or null'},
    effective: {
      type: ['object', 'null'],
      description: 'the limit now in force for the key (null for an app)',
      required: ['limit', 'windowMs', 'source'],
      properties: {limit: {type: 'integer'}, windowMs: {type: 'integer'}, source: {type: 'string', enum: ['key', 'app', 'default']}},
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const

/** `GET /v1/apps/{slug}/usage` query. */
export const usageQuery = {
  type: 'object',
  properties: {
    since: {type: 'string', pattern: '^[0-9]{1,16}$', description: 'start, ms since the Unix epoch (default: 24 h before until); before what retention keeps, the answer starts at the oldest kept day'},
    until: {type: 'string', pattern: '^[0-9]{1,16}$', description: 'end (exclusive), ms since the Unix epoch (default: the end of the current minute)'},
    source: {type: 'string', pattern: '^(verify|gateway|reported)(,(verify|gateway|reported))*$', description: 'comma-separated sources to count (default all)'},
  },
  additionalProperties: false,
} as const

const usageBuckets = {type: 'array', items: {type: 'object', required: ['value', 'count'], properties: {value: {type: 'string'}, count: {type: 'integer'}}, additionalProperties: false}} as const
const countMap = {type: 'object', additionalProperties: {type: 'integer'}} as const

/** `GET /v1/apps/{slug}/usage` 200 body. */
export const usageReportResponse = {
  type: 'object',
  required: ['app', 'since', 'until', 'requested', 'resolution', 'parts', 'sources', 'total', 'bySource', 'byCode', 'byKey', 'byRoute', 'byClientApp', 'byAppVersion', 'byUserAgentFamily', 'byUserAgentOs', 'distinctNetworks'],
  properties: {
    app: {type: 'string'},
    since: ms('start of the range covered (the requested one rounded to minutes, widened to hours or days where finer counts are no longer kept, cut to what retention keeps)'),
    until: ms('end of the range covered (exclusive)'),
    requested: {
      type: 'object',
      required: ['since', 'until'],
      properties: {since: ms('start as asked (or defaulted)'), until: ms('end as asked (or defaulted)')},
      additionalProperties: false,
    },
    resolution: {type: 'string', enum: ['minute', 'hour', 'day'], description: 'what the covered range is aligned to: minute when only rounded to minutes, hour or day when widened'},
    parts: {
      type: 'array',
      description: 'consecutive parts of the covered range and the level each was read from (whole weeks, starting on Thursdays, from weekly counts, whole days from daily counts, whole hours from hourly counts, the rest from minutes)',
      items: {
        type: 'object',
        required: ['level', 'since', 'until'],
        properties: {level: {type: 'string', enum: ['minute', 'hour', 'day', 'week']}, since: ms('start of the part'), until: ms('end of the part (exclusive)')},
        additionalProperties: false,
      },
    },
    sources: {type: 'array', items: {type: 'string'}},
    total: {type: 'integer'},
    bySource: countMap,
    byCode: countMap,
    byKey: {
      type: 'array',
      items: {
        type: 'object',
        required: ['keyId', 'env', 'total', 'byCode'],
        properties: {keyId: {type: 'string'}, env: {type: 'string'}, total: {type: 'integer'}, byCode: countMap},
        additionalProperties: false,
      },
    },
    byRoute: usageBuckets,
    byClientApp: usageBuckets,
    byAppVersion: usageBuckets,
    byUserAgentFamily: usageBuckets,
    byUserAgentOs: usageBuckets,
    distinctNetworks: {type: 'integer', description: 'distinct client networks (IPv4 /24, IPv6 /48); the networks are stored only as keyed hashes'},
  },
  additionalProperties: false,
} as const
