/**
 * `apikey/verify`: the verifier that protected APIs embed. It checks keys
 * offline (format, checksum), asks the key service (`POST /v1/verify`) on a
 * cache miss, caches authoritative verdicts within a staleness bound, applies
 * a documented outage policy, reports usage in batches (`POST /v1/usage`),
 * and answers rejected requests with problem details (RFC 9457) and
 * rate-limit headers (draft-ietf-httpapi-ratelimit-headers).
 * See docs/verifier.md.
 */
export {createVerifier} from './verifier.js'
export type {
  CloseReport,
  OutagePolicy,
  RateLimitMode,
  UsageBatchRequest,
  UsageEvent,
  UsageOptions,
  Verdict,
  VerdictCode,
  VerdictSource,
  Verifier,
  VerifierOptions,
  VerifierCheck,
  VerifierStats,
} from './types.js'
export {systemClock, type TimerHandle, type VerifierClock} from './clock.js'
export type {FetchLike} from './transport.js'
export {GET_KEY_COMMAND, NEW_KEY_COMMAND, newKeyCommand, UNAVAILABLE_MESSAGE} from './messages.js'
export {
  contextFrom,
  expressMiddleware,
  extractKey,
  fastifyOnRequest,
  fastifyPlugin,
  fetchCarrier,
  fetchGuard,
  nodeCarrier,
  nodeMiddleware,
  problemFor,
  rateLimitHeaders,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  verifyCarrier,
  type AdapterOptions,
  type ApikeyIdentity,
  type ExtractOptions,
  type Extraction,
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  type KeyCarrier,
  type KeySource,
  type ProblemResponse,
  type RequestWithApikey,
  type VerifierProblem,
} from './http.js'
