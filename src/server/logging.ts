/**
 * Logging policy: pino through Fastify's logger. Never a key, session,
 * provisioning or verifier token, or password in a log line: request logs carry method, path (query string
 * dropped, key- and token-shaped text replaced) and status only; no headers,
 * no bodies; pino `redact` removes the Authorization header and credential
 * fields should any code log them anyway.
 *
 * One line per request ({@link AccessLogController}): `request completed` when the answer is sent,
 * at `info` (at `warn` for a refused credential, at `error` for a 5xx); `incoming request` only at
 * `debug` and below. The service's own destination buffers lines ({@link BufferedLogStream}) so
 * that a busy service does not pay one write per request.
 */
import {LogController, type FastifyReply, type FastifyRequest} from 'fastify'
import type {Logger} from 'pino'
import {KEY_ENVIRONMENTS, KEY_SCAN_PATTERN} from '../core/key-format.js'
import {findSecret} from '../core/secrets.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX} from '../core/wire.js'

/** Replacement text for redacted values. */
export const REDACTED = '[REDACTED]'

/** Session, provisioning and verifier tokens (prefixes from core), also truncated ones. */
const TOKEN_PATTERN = new RegExp(`(?:${[SESSION_TOKEN_PREFIX, PROVISIONING_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX].join('|')})[0-9A-Za-z]{8,}`, 'g')
const BEARER_PATTERN = /(Bearer\s+)\S+/gi

/** Replaces API keys, session tokens (`aks_`), provisioning tokens (`akp_`), verifier tokens (`akv_`) and bearer credentials in `text` with {@link REDACTED}. */
export function redactSecrets(text: string): string {
  return text.replace(KEY_SCAN_PATTERN, REDACTED).replace(TOKEN_PATTERN, REDACTED).replace(BEARER_PATTERN, `$1${REDACTED}`)
}

/**
 * Key-shaped text even when glued to other characters (a pasted key with a stray letter or escape in
 * front of it): prefix, app slug, environment and at least 20 characters of secret.
 */
const LOOSE_KEY_PATTERN = new RegExp(`[a-z]{2,8}_[a-z0-9-]{3,32}_(?:${KEY_ENVIRONMENTS.join('|')})_[0-9A-Za-z]{20,}`)

/**
 * The path of a URL without its query string, safe to log or answer with: each path segment that
 * holds something key- or token-shaped (raw or percent-decoded, even glued to other text, in another
 * case, or split by encoded whitespace — the free-text guard's findSecret) or that
 * cannot be percent-decoded at all is replaced by {@link REDACTED} as a whole.
 */
export function safePath(url: string): string {
  const path = url.split('?')[0] ?? ''
  return path
    .split('/')
    .map((segment) => {
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        return REDACTED
      }
      return [segment, decoded].some((text) => LOOSE_KEY_PATTERN.test(text) || redactSecrets(text) !== text || findSecret(text) !== undefined) ? REDACTED : segment
    })
    .join('/')
}

/** pino `redact` paths: credential-bearing fields wherever a careless log call might put them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'req.body',
  'res.body',
  'body',
  'password',
  'token',
  'key',
  '*.password',
  '*.token',
  '*.key',
  '*.authorization',
]

/** pino serializers for Fastify's request/response log lines (no headers, no bodies). */
export const serializers = {
  req(request: {method: string; url: string; ip: string; routeOptions?: {url?: string | undefined}}): {method: string; url: string; remoteAddress: string} {
    // A path that is exactly a route's template (e.g. `/v1/verify`) is this service's own text: no secret to look for.
    const url = request.url === request.routeOptions?.url ? request.url : safePath(request.url)
    return {method: request.method, url, remoteAddress: request.ip}
  },
  res(reply: {statusCode: number}): {statusCode: number} {
    return {statusCode: reply.statusCode}
  },
}

/** pino's level numbers. */
const LEVEL_ERROR = 50

/** Problem codes answered for a refused credential: their request line is a warning (security event). */
const REFUSED_CREDENTIAL_CODES: ReadonlySet<string> = new Set(['unauthenticated', 'forbidden'])

declare module 'fastify' {
  interface FastifyRequest {
    /** The problem code answered to this request (set by the error envelope), for its request line. */
    problemCode: string | null
  }
}

/**
 * Fastify's request logging reduced to one line per request, logged when the answer has been sent:
 * `{reqId, req: {method, url, remoteAddress}, res: {statusCode}, responseTime, code?, msg: "request completed"}`
 * (`url` through {@link safePath}; `code` is the problem code of an error answer). Its level: `error`
 * for a status of 500 or more (and for a response that failed), `warn` for a refused credential
 * (problem codes `unauthenticated` and `forbidden`: a security event, logged at the `warn` level
 * too), else `info`. The `incoming request` line is logged only when `debug` is enabled.
 */
export class AccessLogController extends LogController {
  /**
   * @param lines where the lines of answered requests go: a pino logger on the service's stream
   *   and level, without `redact` — the line is built here from fixed fields only (never headers,
   *   bodies or free text), and redaction is most of the cost of a log call. A request that failed
   *   while being answered is logged through its own (redacting) logger.
   */
  constructor(private readonly lines: Logger) {
    super({disableRequestLogging: false})
  }

  /** `incoming request` at `debug` (nothing at `info`: one line per request is enough there). */
  override incomingRequest(request: FastifyRequest): void {
    if ((request.log as Logger).isLevelEnabled('debug')) request.log.debug({req: request}, 'incoming request')
  }

  /** The request's one line (see the class comment). */
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      request.log.error({req: request, res: reply, err: error, responseTime: reply.elapsedTime, code: request.problemCode}, 'request errored')
      return
    }
    const status = reply.statusCode
    const code = request.problemCode
    const level = status >= 500 ? 'error' : code !== null && REFUSED_CREDENTIAL_CODES.has(code) ? 'warn' : 'info'
    if (!this.lines.isLevelEnabled(level)) return
    const line: Record<string, unknown> = {reqId: request.id, req: serializers.req(request), res: {statusCode: status}, responseTime: reply.elapsedTime}
    if (code !== null) line.code = code
    this.lines[level](line, 'request completed')
  }
}

/** Where {@link BufferedLogStream} writes: a stream or pino destination taking whole lines. */
export interface LogTarget {
  write(chunk: string): unknown
}

/** Options of {@link BufferedLogStream}. */
export interface BufferedLogOptions {
  /** Longest time a line waits in the buffer, ms (wall clock). Default 100. */
  maxDelayMs?: number
  /** Buffered characters at which the buffer is written at once. Default 16 384. */
  maxChars?: number
}

/**
 * A pino destination that writes lines in batches: at most `maxDelayMs` (100 ms) after the first
 * buffered line, when `maxChars` (16 KiB) are buffered, at {@link flush}, at process exit, and at
 * once for a line of level `error` or `fatal` (with every line before it, in order). Each batch is
 * one `write` of whole lines to the target. A service that is killed (SIGKILL) loses at most the
 * last `maxDelayMs` of `info`/`warn` lines; errors are never held back.
 */
export class BufferedLogStream {
  /** Level of the line being written (set by pino). */
  lastLevel = 0
  private buffer = ''
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly maxDelayMs: number
  private readonly maxChars: number
  private readonly onExit = (): void => this.flush()

  /** @param target where batches go (e.g. `pino.destination({dest: 2, sync: true})`, `process.stderr`). */
  constructor(
    private readonly target: LogTarget,
    options: BufferedLogOptions = {},
  ) {
    this.maxDelayMs = options.maxDelayMs ?? 100
    this.maxChars = options.maxChars ?? 16_384
    // Asks pino for each line's level in `lastLevel` before `write` (pino's metadata protocol).
    Object.defineProperty(this, Symbol.for('pino.metadata'), {value: true})
    process.once('exit', this.onExit)
  }

  /** Buffers one line (pino calls this); writes the buffer when due (see the class comment). */
  write(line: string): void {
    if (this.closed) {
      this.target.write(line)
      return
    }
    this.buffer += line
    if (this.lastLevel >= LEVEL_ERROR || this.buffer.length >= this.maxChars) this.flush()
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.onExit, this.maxDelayMs)
      this.timer.unref()
    }
  }

  /** Writes every buffered line now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.buffer === '') return
    const chunk = this.buffer
    this.buffer = ''
    this.target.write(chunk)
  }

  /** Writes what is buffered, and every later line at once; stops listening for process exit (when the service closes). */
  close(): void {
    this.flush()
    this.closed = true
    process.off('exit', this.onExit)
  }
}
