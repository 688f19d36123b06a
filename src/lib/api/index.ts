/**
 * The key service's API client and its building blocks: deadline,
 * proxy selection, error classification and redaction.
 */
export {createApiClient, RETRYABLE_ERROR_CODES, RETRYABLE_METHODS, RETRYABLE_STATUSES, type ApiClient, type ApiClientOptions, type AuditQuery} from './client.js'
export {createDeadline, Deadline, DEFAULT_TIMEOUT_MS} from './deadline.js'
export {
  classifyNetworkError,
  deadlineExceededError,
  isErrorCode,
  isProblemDetails,
  notApikeyServiceError,
  parseRetryAfter,
  problemToError,
  type AuthKind,
  type FailurePhase,
  type NetworkErrorContext,
  type ProblemContext,
} from './errors.js'
export {createProxyAgent, isNoProxy, resolveProxy, SUPPORTED_PROXY_SCHEMES, validateProxyUrl, type EnvRecord, type ProxyChoice} from './proxy.js'
export {maskSecret, REDACTED, redactAuthorization, redactJson, redactUrl, scrubText} from './redact.js'
