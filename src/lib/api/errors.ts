/**
 * Turning transport failures and problem details (RFC 9457) into
 * {@link ApikeyError}s that say what failed, in which phase (DNS, connect, TLS,
 * HTTP), and what to run next.
 *
 * Messages name the request URL and any proxy with credentials redacted
 * ({@link redactUrl}); the underlying library error is never attached as
 * `cause` (it carries request headers and bodies), only a sanitised summary.
 */
import {ApikeyError, type ErrorCode, type ProblemDetails} from '../../core/errors.js'
import {redactJson, redactUrl, scrubText} from './redact.js'

/** Where a request failed. `http` means a connection was made and an HTTP exchange failed or timed out. */
export type FailurePhase = 'dns' | 'connect' | 'tls' | 'http'

/** What {@link classifyNetworkError} needs to know about the request. */
export interface NetworkErrorContext {
  /** Request URL (credentials are redacted before use). */
  url: string
  /** Proxy URL in use for this request, if any (credentials are redacted before use). */
  proxyUrl?: string
  /** Variable the proxy came from, e.g. `HTTPS_PROXY`. */
  proxyEnvVar?: string
  /** Overall deadline of the command in ms, for timeout messages. */
  timeoutMs?: number
  /** Secrets to scrub from any text taken over from the error. */
  secrets?: readonly (string | undefined)[]
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'EAI_ADDRFAMILY'])
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN'])
/** OpenSSL / Node certificate verification codes (X509_V_ERR_* without the prefix). */
const CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])
/** Certificate codes that mean "issued by a CA this machine does not trust". */
const UNTRUSTED_CA_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'INVALID_CA',
])

/** Facts pulled from a got / Node error without keeping the object. */
interface ErrorFacts {
  code: string | undefined
  message: string
  name: string
  /** got's per-request timings, when present. */
  timings: Record<string, unknown> | undefined
}

function factsOf(err: unknown): ErrorFacts {
  let code: string | undefined
  let message = ''
  let name = ''
  let timings: Record<string, unknown> | undefined
  let current: unknown = err
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {code?: unknown; message?: unknown; name?: unknown; timings?: unknown; cause?: unknown}
    if (depth === 0) {
      message = typeof e.message === 'string' ? e.message : String(current)
      name = typeof e.name === 'string' ? e.name : ''
      if (e.timings && typeof e.timings === 'object') timings = e.timings as Record<string, unknown>
    }
    // got wraps unknown codes as ERR_GOT_REQUEST_ERROR; the cause has the real one.
    if (typeof e.code === 'string' && (code === undefined || code.startsWith('ERR_GOT_'))) code = e.code
    current = e.cause
  }
  if (typeof err === 'string') message = err
  return {code, message, name, timings}
}

/** A proxy URL for messages: credentials redacted, no trailing `/`. */
function showProxy(url: string): string {
  return redactUrl(url).replace(/\/$/, '')
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

function hostnameOf(url: string): string {
  try {
    return new URL(url).hostname
  } catch {
    return url
  }
}

function isTimeout(f: ErrorFacts): boolean {
  return f.name === 'TimeoutError' || f.code === 'ERR_DEADLINE'
}

/** The phase a request that timed out was in, from got's timings. */
function phaseFromTimings(timings: Record<string, unknown> | undefined, url: string): FailurePhase {
  if (!timings) return 'connect'
  const isHttps = url.startsWith('https:')
  if (timings['lookup'] === undefined && timings['connect'] === undefined) {
    // Literal IPs and proxied requests skip the lookup event; without a socket connect we were still connecting.
    return 'connect'
  }
  if (timings['connect'] === undefined) return 'connect'
  if (isHttps && timings['secureConnect'] === undefined) return 'tls'
  return 'http'
}

function describeTarget(ctx: NetworkErrorContext): {target: string; via: string} {
  const target = redactUrl(ctx.url)
  const via = ctx.proxyUrl ? ` through proxy ${showProxy(ctx.proxyUrl)}${ctx.proxyEnvVar ? ` (from ${ctx.proxyEnvVar})` : ''}` : ''
  return {target, via}
}

function proxySuggestions(ctx: NetworkErrorContext): string[] {
  if (!ctx.proxyUrl) return []
  const name = ctx.proxyEnvVar ?? 'HTTPS_PROXY'
  return [`Check the proxy in ${name}, or exempt the service host with NO_PROXY=${hostOf(ctx.url).replace(/:\d+$/, '')}`]
}

/** Sanitised stand-in for the library error, safe to show with `--debug`. */
function safeCause(f: ErrorFacts, secrets: readonly (string | undefined)[]): Error {
  const summary = scrubText(`${f.name || 'Error'}${f.code ? ` ${f.code}` : ''}: ${f.message}`, secrets)
  return new Error(summary.replace(/\/\/[^/@\s]*@/g, '//***@'))
}

/**
 * Classifies a transport failure (no usable HTTP response) of one request.
 *
 * - DNS (`ENOTFOUND`, `EAI_AGAIN`…) → phase `dns`; names the host that did not
 *   resolve (the proxy's host when a proxy is in use). Names under `.invalid`
 *   never resolve (RFC 6761).
 * - Connect (`ECONNREFUSED`, `EHOSTUNREACH`, `ENETUNREACH`, an OS-level
 *   `ETIMEDOUT`…) → phase `connect`; names the proxy when the connection was to
 *   the proxy.
 * - TLS (certificate codes such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 *   `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`, or OpenSSL
 *   `ERR_SSL_*`) → phase `tls`; names the code and suggests
 *   `NODE_EXTRA_CA_CERTS` for untrusted CAs. An `https://` proxy that does not
 *   speak TLS (a plain-HTTP proxy) is reported as such, with the
 *   `http://` form of the proxy URL as the fix.
 * - got's `TimeoutError` (the per-request timeout, which the client sets to the
 *   remaining overall deadline) → code `timeout` with the phase it was in.
 * - Anything else (reset, socket hang up…) → phase `connect` before a
 *   connection was made, else `http`.
 *
 * @param err - the error thrown by got or Node.
 * @param ctx - request URL, proxy, deadline; see {@link NetworkErrorContext}.
 * @returns an {@link ApikeyError} with code `network` (exit 1) or `timeout`
 *   (exit 1); `details` = `{phase, url, proxy?, proxyEnvVar?, errorCode?}`.
 */
export function classifyNetworkError(err: unknown, ctx: NetworkErrorContext): ApikeyError {
  if (err instanceof ApikeyError) return err
  const f = factsOf(err)
  const secrets = ctx.secrets ?? []
  const {target, via} = describeTarget(ctx)
  const proxy = ctx.proxyUrl ? showProxy(ctx.proxyUrl) : undefined
  const baseDetails: Record<string, unknown> = {url: target}
  if (proxy) {
    baseDetails['proxy'] = proxy
    if (ctx.proxyEnvVar) baseDetails['proxyEnvVar'] = ctx.proxyEnvVar
  }
  if (f.code) baseDetails['errorCode'] = f.code
  const cause = safeCause(f, secrets)
  const code = f.code ?? ''

  if (isTimeout(f)) {
    const phase = phaseFromTimings(f.timings, ctx.url)
    const budget = ctx.timeoutMs === undefined ? 'the deadline' : `the ${ctx.timeoutMs} ms deadline`
    const doing = {dns: 'resolving the host name', connect: 'connecting', tls: 'in the TLS handshake', http: 'waiting for the response'}[phase]
    return new ApikeyError(`No answer from ${target}${via} within ${budget} of this command (timed out while ${doing}).`, {
      code: 'timeout',
      suggestions: [
        `Check that ${hostOf(ctx.url)} is reachable from this machine (VPN, firewall, HTTPS_PROXY / NO_PROXY)`,
        `Allow more time with --timeout${ctx.timeoutMs === undefined ? '' : ` (seconds; now ${Math.ceil(ctx.timeoutMs / 1000)})`}`,
        ...proxySuggestions(ctx),
      ],
      details: {...baseDetails, phase, ...(ctx.timeoutMs === undefined ? {} : {timeoutMs: ctx.timeoutMs})},
      cause,
    })
  }

  // An https:// proxy URL pointing at a proxy that speaks plain HTTP.
  if (ctx.proxyUrl?.toLowerCase().startsWith('https:')) {
    const plainProxy = /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i.test(f.message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'EPROTO' || ((code === 'ECONNRESET' || code === 'ERR_SSL_RECORD_LAYER_FAILURE') && f.timings?.['response'] === undefined)
    if (plainProxy) {
      const httpForm = (proxy ?? '').replace(/^https:/i, 'http:')
      const hasCredentials = /\/\/[^/]*@/.test(httpForm)
      return new ApikeyError(
        `Could not reach ${target}: the proxy ${proxy}${ctx.proxyEnvVar ? ` (from ${ctx.proxyEnvVar})` : ''} did not answer the TLS handshake (${code || 'TLS error'}). The proxy URL uses https://, but the proxy seems to speak plain HTTP.`,
        {
          code: 'network',
          suggestions: [
            `Use the http:// scheme for the proxy: export ${ctx.proxyEnvVar ?? 'HTTPS_PROXY'}=${httpForm}${hasCredentials ? ' (with your real credentials in place of ***)' : ''}`,
          ],
          details: {...baseDetails, phase: 'tls', proxyScheme: 'https'},
          cause,
        },
      )
    }
  }

  if (DNS_CODES.has(code)) {
    // DNS resolves names, not ports: name the host alone.
    const host = proxy ? hostnameOf(ctx.proxyUrl ?? '') : hostnameOf(ctx.url)
    const what = proxy ? `the proxy host "${host}" (proxy ${proxy}${ctx.proxyEnvVar ? ` from ${ctx.proxyEnvVar}` : ''})` : `the host "${host}"`
    const temporary = code === 'EAI_AGAIN'
    return new ApikeyError(`Could not reach ${target}: DNS lookup of ${what} failed (${code}${temporary ? ', temporary failure' : ''}).`, {
      code: 'network',
      suggestions: proxy
        ? [`Check the proxy host name in ${ctx.proxyEnvVar ?? 'HTTPS_PROXY'}`, 'Check your network or VPN connection']
        : [`Check the server URL (--server ${target.replace(/^(https?:\/\/[^/]+).*$/, '$1')})`, 'Check your network, VPN or DNS settings'],
      details: {...baseDetails, phase: 'dns', host},
      cause,
    })
  }

  if (CERT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code === 'EPROTO') {
    const suggestions: string[] = []
    let why: string
    if (UNTRUSTED_CA_CODES.has(code)) {
      why = 'its certificate is not issued by a certificate authority this machine trusts'
      suggestions.push(
        'If the server (or a TLS-inspecting proxy) uses a private/corporate CA, point NODE_EXTRA_CA_CERTS at that CA certificate (PEM): export NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
      )
    } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
      why = `its certificate is not valid for the host name "${hostOf(ctx.url).replace(/:\d+$/, '')}"`
      suggestions.push('Use the host name the certificate was issued for in --server')
    } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
      why = code === 'CERT_HAS_EXPIRED' ? 'its certificate has expired' : 'its certificate is not valid yet'
      suggestions.push("Tell the service's operators; also check this machine's clock")
    } else if (/wrong version number|packet length too long/i.test(f.message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
      why = 'it does not speak TLS on this port'
      suggestions.push(`If the service is plain HTTP, use --server ${target.replace(/^https:/i, 'http:').replace(/^(https?:\/\/[^/]+).*$/, '$1')}`)
    } else {
      why = 'the TLS handshake failed'
      suggestions.push('If a private/corporate CA is involved, set NODE_EXTRA_CA_CERTS to its certificate (PEM)')
    }
    return new ApikeyError(`TLS connection to ${target}${via} failed: ${why} (${code}).`, {
      code: 'network',
      suggestions: [...suggestions, ...proxySuggestions(ctx)],
      details: {...baseDetails, phase: 'tls'},
      cause,
    })
  }

  if (CONNECT_CODES.has(code)) {
    const reason =
      {
        ECONNREFUSED: 'connection refused',
        EHOSTUNREACH: 'host unreachable',
        ENETUNREACH: 'network unreachable',
        ETIMEDOUT: 'connection timed out',
        EADDRNOTAVAIL: 'address not available',
        ENETDOWN: 'network is down',
        EHOSTDOWN: 'host is down',
      }[code] ?? code
    const message = proxy
      ? `Could not connect to the proxy ${proxy}${ctx.proxyEnvVar ? ` (from ${ctx.proxyEnvVar})` : ''} to reach ${target}: ${reason} (${code}).`
      : `Could not connect to ${target}: ${reason} (${code}).`
    return new ApikeyError(message, {
      code: 'network',
      suggestions: proxy
        ? [`Check that the proxy is running and the address in ${ctx.proxyEnvVar ?? 'HTTPS_PROXY'} is right`]
        : [`Check that the service is running at ${target.replace(/^(https?:\/\/[^/]+).*$/, '$1')} and that --server is right`, 'Behind a corporate proxy? Set HTTPS_PROXY=http://proxy-host:port'],
      details: {...baseDetails, phase: 'connect'},
      cause,
    })
  }

  const connected = f.timings?.['connect'] !== undefined
  const phase: FailurePhase = connected ? 'http' : 'connect'
  const reason = code === 'ECONNRESET' ? 'the connection was reset' : code === 'EPIPE' ? 'the connection was closed while sending' : scrubText(f.message, secrets) || 'unknown error'
  return new ApikeyError(`Request to ${target}${via} failed ${connected ? 'during the HTTP exchange' : 'while connecting'}: ${reason}${code ? ` (${code})` : ''}.`, {
    code: 'network',
    suggestions: [`Check that ${target.replace(/^(https?:\/\/[^/]+).*$/, '$1')} is the apikey service (--server)`, ...proxySuggestions(ctx)],
    details: {...baseDetails, phase},
    cause,
  })
}

/**
 * The error for a deadline that ran out before a request could start.
 *
 * @param url - the request URL (redacted before use).
 * @param timeoutMs - the overall budget in ms.
 */
export function deadlineExceededError(url: string, timeoutMs: number): ApikeyError {
  return new ApikeyError(`The ${timeoutMs} ms deadline of this command ran out before the request to ${redactUrl(url)} could start.`, {
    code: 'timeout',
    suggestions: [`Allow more time with --timeout (seconds; now ${Math.ceil(timeoutMs / 1000)})`],
    details: {url: redactUrl(url), timeoutMs, phase: 'connect'},
  })
}

/** Every {@link ErrorCode}, at run time (kept complete by the type checker). */
const KNOWN_CODES: Record<ErrorCode, true> = {
  usage: true,
  cancelled: true,
  not_signed_in: true,
  invalid_credentials: true,
  unauthenticated: true,
  forbidden: true,
  not_found: true,
  conflict: true,
  validation: true,
  rate_limited: true,
  unsafe: true,
  malformed_key: true,
  key_not_found: true,
  key_revoked: true,
  key_expired: true,
  network: true,
  timeout: true,
  server_error: true,
  keychain_unavailable: true,
  keychain_error: true,
  project_file: true,
  io: true,
  internal: true,
}

/** Is `value` one of our {@link ErrorCode}s? */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(KNOWN_CODES, value)
}

/**
 * Does `value` look like a problem details object (RFC 9457 §3) from our
 * service? Requires a numeric `status` and a string `title` or `code`.
 */
export function isProblemDetails(value: unknown): value is ProblemDetails {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  return typeof v['status'] === 'number' && (typeof v['title'] === 'string' || typeof v['code'] === 'string')
}

/** The default error code for an HTTP status when the problem has no known code. */
function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return 'validation'
  if (status === 401) return 'unauthenticated'
  if (status === 403) return 'forbidden'
  if (status === 404) return 'not_found'
  if (status === 409) return 'conflict'
  if (status === 429) return 'rate_limited'
  return 'server_error'
}

/** Who authenticated the failed request: decides the 401 suggestion. */
export type AuthKind = 'none' | 'session' | 'key'

/** Context for {@link problemToError}. */
export interface ProblemContext {
  /** HTTP method of the request. */
  method: string
  /** Request URL (redacted before use). */
  url: string
  /** Base URL of the service, for `apikey login --server <url>`. */
  baseUrl: string
  /** How the request was authenticated. */
  auth: AuthKind
  /** `Retry-After` header value (RFC 9110 §10.2.3), if any. */
  retryAfter?: string
  /** Secrets to scrub from server-provided text. */
  secrets?: readonly (string | undefined)[]
}

const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'suggestions'])

/** Seconds from a `Retry-After` value (delay-seconds or HTTP-date), or undefined. */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - nowMs) / 1000))
}

/**
 * Maps a problem details response (RFC 9457) of the key service to an
 * {@link ApikeyError}.
 *
 * Code: the problem's `code` when it is one of ours (e.g. `invalid_credentials`,
 * `key_revoked`), else by status — 400/422 `validation` (exit 2), 401
 * `unauthenticated` (exit 4), 403 `forbidden`, 404 `not_found`, 409 `conflict`,
 * 429 `rate_limited`; any 5xx is always `server_error`.
 *
 * Message: the problem's `detail`, else its `title`. Suggestions: the
 * problem's, else for 401 `apikey login --server <url>` (session calls) and for
 * 429 when to retry. `details` = `{status, url, method, type, title, detail?,
 * instance?, retryAfterSeconds?, extensions}` where `extensions` holds every
 * non-standard member (RFC 9457 §3.2).
 */
export function problemToError(problem: ProblemDetails, status: number, ctx: ProblemContext): ApikeyError {
  const secrets = ctx.secrets ?? []
  const clean = (s: string): string => scrubText(s, secrets)
  let code: ErrorCode = isErrorCode(problem.code) ? problem.code : codeForStatus(status)
  if (status >= 500) code = 'server_error'
  if (status === 401 && code !== 'invalid_credentials' && code !== 'unauthenticated' && code !== 'not_signed_in' && !code.startsWith('key_') && code !== 'malformed_key') code = 'unauthenticated'
  const url = redactUrl(ctx.url)
  const server = redactUrl(ctx.baseUrl).replace(/\/$/, '')
  const text = clean(typeof problem.detail === 'string' && problem.detail ? problem.detail : typeof problem.title === 'string' ? problem.title : `HTTP ${status}`)
  let message = status >= 500 ? `The apikey service at ${server} failed (HTTP ${status}): ${text}` : text

  // The service's words may name raw API routes; a CLI user is told the command instead.
  message = cliWords(message)
  const serverSuggestions = Array.isArray(problem.suggestions) ? problem.suggestions.filter((s): s is string => typeof s === 'string').map(clean).map(cliSuggestion) : []
  const suggestions = [...serverSuggestions]
  const extensions: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(problem)) {
    if (!STANDARD_MEMBERS.has(name)) extensions[name] = redactJson(value, secrets)
  }
  const details: Record<string, unknown> = {status, url, method: ctx.method, type: problem.type, title: typeof problem.title === 'string' ? clean(problem.title) : undefined}
  if (typeof problem.detail === 'string') details['detail'] = clean(problem.detail)
  if (typeof problem.instance === 'string') details['instance'] = problem.instance
  details['extensions'] = extensions

  if (status === 401 && suggestions.length === 0) {
    if (ctx.auth === 'key') suggestions.push('Check the API key: run `apikey whoami` to see which key is used and where it comes from')
    else suggestions.push(`apikey login --server ${server}`)
  }
  if (status === 429) {
    const seconds = parseRetryAfter(ctx.retryAfter)
    if (seconds !== undefined) {
      details['retryAfterSeconds'] = seconds
      if (!/\b(retry|try again)\b/i.test(message)) message += ` Retry after ${seconds} s.`
      if (suggestions.length === 0) suggestions.push(`Wait ${seconds} s and run the command again`)
    } else if (suggestions.length === 0) {
      suggestions.push('Wait a little and run the command again')
    }
  }
  if (status >= 500 && suggestions.length === 0) suggestions.push("Try again later; if it persists, tell the service's operators")
  return new ApikeyError(message, {code, suggestions, details})
}

/** Rewrites mentions of raw API routes in a service message into CLI commands. */
export function cliWords(text: string): string {
  return text
    .replace(/inspect a key with POST \/v1\/keys\/whoami \(apikey whoami\)/g, 'inspect a key with apikey whoami KEY (it shows the key id)')
    .replace(/POST \/v1\/keys\/whoami(?: \(apikey whoami\))?/g, 'apikey whoami KEY')
    .replace(/\(POST \/v1\/tokens\)/g, '(apikey tokens create --app APP --scope ci)')
}

/** Rewrites one service suggestion that names a raw API route (or a bare `apikey whoami` for a key id) into the command to run. */
export function cliSuggestion(text: string): string {
  if (text === 'apikey whoami') return 'apikey whoami KEY   (shows the id of a key you have)'
  if (/POST \/v1\/tokens\b/.test(text)) return "ask a member of the app's team for a new provisioning token: apikey tokens create --app APP --scope ci"
  return cliWords(text)
}

/**
 * The error for an answer that is not from an apikey service: not JSON, not
 * problem details, a redirect, or a proxy's / gateway's own page.
 *
 * @param info - status, content type and (for redirects) location of the response.
 * @returns code `server_error` (exit 1), `details.reason = 'not_apikey_service'`.
 */
export function notApikeyServiceError(info: {
  method: string
  url: string
  baseUrl: string
  status: number
  contentType: string | undefined
  location?: string
  proxyUrl?: string
  proxyEnvVar?: string
  why: string
}): ApikeyError {
  const url = redactUrl(info.url)
  const server = redactUrl(info.baseUrl).replace(/\/$/, '')
  const proxy = info.proxyUrl ? showProxy(info.proxyUrl) : undefined
  const via = proxy ? ` through proxy ${proxy}${info.proxyEnvVar ? ` (from ${info.proxyEnvVar})` : ''}` : ''
  const ct = info.contentType ? info.contentType.split(';')[0] : 'no content type'
  const suggestions: string[] = []
  let message = `${url}${via} answered HTTP ${info.status} (${ct}), ${info.why}: it does not look like an apikey service.`
  if (info.location) {
    const location = redactUrl(new URL(info.location, info.url).href)
    message = `${url}${via} redirected (HTTP ${info.status}) to ${location}; the apikey client does not follow redirects.`
    suggestions.push(`Use the final address as the server: --server ${location.replace(/^(https?:\/\/[^/]+).*$/, '$1')}`)
  } else if (info.status === 404 && info.why === 'not found') {
    message = `${server}${via} is not an apikey key service: GET ${url} answered HTTP 404 (not found), and every apikey service answers it.`
    suggestions.push('Use the address of the key service itself (without /v1 or another API path), e.g. --server https://keys.example.com')
  } else if (proxy && info.status === 407) {
    message = `The proxy ${proxy}${info.proxyEnvVar ? ` (from ${info.proxyEnvVar})` : ''} requires authentication (HTTP 407) for ${url}.`
    suggestions.push(`Put the proxy credentials in the URL: ${info.proxyEnvVar ?? 'HTTPS_PROXY'}=http://USER:PASSWORD@host:port`)
  } else if (proxy && (info.status === 502 || info.status === 503 || info.status === 504 || info.status === 403)) {
    message = `${url}${via} answered HTTP ${info.status} (${ct}) that is not from the apikey service: the proxy could not (or would not) reach ${server}.`
    suggestions.push(`Check that ${server} is reachable through the proxy, or exempt it with NO_PROXY=${hostOf(server).replace(/:\d+$/, '')}`)
  }
  suggestions.push(`Check the server URL (--server ${server}); apikey services answer GET ${server}/v1/meta with JSON`)
  return new ApikeyError(message, {
    code: 'server_error',
    suggestions,
    details: {reason: 'not_apikey_service', status: info.status, url, method: info.method, contentType: info.contentType ?? null, ...(proxy ? {proxy} : {})},
  })
}
