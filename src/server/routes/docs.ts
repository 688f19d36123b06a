/**
 * `GET /docs`: the page every refusal links to (`docsUrl` in `GET /v1/meta`, in verification
 * verdicts and in problem details). It tells a caller of a protected API how to get a key of their
 * own: the organisation's install command and the command that issues a key (both from the
 * service's settings), where the key goes, the key format, and every verification code with what
 * to do about it. HTML for browsers; Markdown (`Accept: text/markdown`) for terminals and tools.
 *
 * The page is built only from settings, never from request data, so nothing a caller sends is
 * echoed in it.
 */
import type {FastifyInstance, FastifyRequest} from 'fastify'
import {KEY_PROBLEMS, type KeyProblemCode} from '../../core/problem-types.js'
import type {VerifyCode} from '../../core/wire.js'
import {getKeyCommandOf, installCommandOf, type ServerSettings} from '../settings.js'
import type {RouteDeps} from './context.js'

/** Path of the docs page on this service. */
export const DOCS_PATH = '/docs'

/** A host as it may appear in a URL we build: DNS name or IPv4 (optionally with port), or a bracketed IPv6 address. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/

/**
 * This service's public base URL: `settings.publicUrl`, else the request's scheme and `Host`
 * (`X-Forwarded-Proto`/`-Host` only when `trustProxy` is set). A `Host` that is not a plain host
 * name or address gives `''` (a relative URL) rather than echoing it.
 */
export function publicUrlOf(settings: ServerSettings, request: FastifyRequest): string {
  if (settings.publicUrl !== null) return settings.publicUrl
  const host = request.host
  return typeof host === 'string' && HOST.test(host) ? `${request.protocol}://${host}` : ''
}

/** The docs link of answers to this request: `settings.docsUrl`, else this service's own {@link DOCS_PATH} page. */
export function docsUrlOf(settings: ServerSettings, request: FastifyRequest): string {
  return settings.docsUrl ?? `${publicUrlOf(settings, request)}${DOCS_PATH}`
}

/**
 * What each refusal means to a caller and what to do about it, in the order a caller meets them:
 * the problem `code` (and its title, see `KEY_PROBLEMS`) and the verification verdict behind it.
 */
export function verifyCodeAdvice(
  getKeyCommand: string,
): ReadonlyArray<{code: KeyProblemCode; verdict: VerifyCode | 'UNAVAILABLE'; status: string; meaning: string; action: string}> {
  return [
    {code: 'missing_key', verdict: 'MALFORMED', status: '401', meaning: 'the request carried no API key', action: `get a key of your own with \`${getKeyCommand}\` and send it in the X-API-Key header (or Authorization: Bearer)`},
    {code: 'malformed_key', verdict: 'MALFORMED', status: '401', meaning: 'the value is not a key of this organisation: mistyped, truncated, edited, or with whitespace around it', action: `copy the key again exactly as stored (keys are never trimmed), or get one with \`${getKeyCommand}\``},
    {code: 'key_not_found', verdict: 'NOT_FOUND', status: '401', meaning: 'a well-formed key this service never issued', action: `get a key of your own with \`${getKeyCommand}\``},
    {code: 'key_expired', verdict: 'EXPIRED', status: '401', meaning: 'the key passed its expiry, or the grace period after its rotation ended', action: `switch to the replacement if it was rotated, else get a new key: \`${getKeyCommand} --new-key\` for a personal dev key, \`apikey keys create --app APP --env ENV\` for a service key, \`apikey ci key\` for a CI key (the answer names the exact command)`},
    {code: 'key_revoked', verdict: 'REVOKED', status: '401', meaning: 'the key was revoked by its team or an administrator', action: `get a new key (\`${getKeyCommand} --new-key\` for a personal dev key, \`apikey keys create --app APP --env ENV\` for a service key; the answer names the exact command); ask the owning team why it was revoked`},
    {code: 'key_not_allowed', verdict: 'FORBIDDEN', status: '403', meaning: 'a genuine key of an environment this API does not accept (e.g. a dev key sent to a production API)', action: 'issue a key of an accepted environment: `apikey keys create --app APP --env ENV` (the answer names the exact command)'},
    {code: 'rate_limited', verdict: 'RATE_LIMITED', status: '429', meaning: "the key made more requests than its rate limit allows; limits are per key", action: 'wait the Retry-After seconds; every app should use its own key'},
    {code: 'verification_unavailable', verdict: 'UNAVAILABLE', status: '503', meaning: 'keys cannot be checked right now (the key service is unreachable)', action: 'retry after the Retry-After seconds; not a problem with your key'},
  ]
}

/** Facts the docs page is built from. */
export interface DocsFacts {
  docsUrl: string
  getKeyCommand: string
  installCommand: string | null
  keyPrefix: string
  keyEnvVar: string
}

/** The facts of {@link renderDocsMarkdown} for a request. */
export function docsFacts(settings: ServerSettings, request: FastifyRequest): DocsFacts {
  return {
    docsUrl: docsUrlOf(settings, request),
    getKeyCommand: getKeyCommandOf(settings),
    installCommand: installCommandOf(settings),
    keyPrefix: settings.keyPrefix,
    keyEnvVar: settings.keyEnvVar,
  }
}

/** The docs page as Markdown (CommonMark). */
export function renderDocsMarkdown(facts: DocsFacts): string {
  const install =
    facts.installCommand === null
      ? [
          'Install the apikey CLI the way your organisation distributes it (ask the platform team that runs',
          'this key service for the package name on your internal registry), so that `apikey` is on your PATH',
          '(or run it with `npx` from the project that has it as a devDependency).',
        ]
      : ['Add the apikey CLI to your project (from your organisation\'s registry):', '', '```sh', facts.installCommand, '```']
  const lines = [
    '# Getting an API key',
    '',
    'Every app that calls this organisation\'s APIs uses an API key of its own: it says which app and team',
    'is calling, so usage, errors and limits are attributed to you. Never borrow a colleague\'s key.',
    '',
    '## 1. Install the CLI',
    '',
    ...install,
    '',
    '## 2. Get a key',
    '',
    'In your app\'s project directory:',
    '',
    '```sh',
    facts.getKeyCommand,
    '```',
    '',
    'It signs you in, registers or finds your app, issues a key for you and stores it safely: in the',
    `project's gitignored \`.env\` as \`${facts.keyEnvVar}\`, or in your OS keychain. The key is shown only once.`,
    '',
    '## 3. Send it',
    '',
    'Send the key in the `X-API-Key` header (or `Authorization: Bearer <key>`). Never put it in a URL:',
    'URLs end up in logs.',
    '',
    '## Key format',
    '',
    `\`${facts.keyPrefix}_<app>_<env>_<30 characters><6-character checksum>\`, for example`,
    `\`${facts.keyPrefix}_weather-app_dev_…\`: the app's name is readable in the key, and a checksum makes an edited key invalid.`,
    'Environments: `dev`, `test`, `stage`, `prod`, `ci`.',
    '',
    '## Error codes',
    '',
    'A refused request answers problem details (RFC 9457, `application/problem+json`) whose `code` is one of',
    '(the verdict is what the key service decided, e.g. in the X-Apikey-Code header of a gateway):',
    '',
    '| code | title | status | verdict | meaning | what to do |',
    '|---|---|---|---|---|---|',
    ...verifyCodeAdvice(facts.getKeyCommand).map(
      (row) => `| ${row.code} | ${KEY_PROBLEMS[row.code].title} | ${row.status} | ${row.verdict} | ${row.meaning} | ${row.action.replaceAll('|', '\\|')} |`,
    ),
    '',
  ]
  return lines.join('\n')
}

const HTML_ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

/** Inline Markdown of the page (backticks only) as HTML. */
function inline(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>')
}

/** The docs page as a self-contained HTML document (no scripts, no external resources). */
export function renderDocsHtml(facts: DocsFacts): string {
  const out: string[] = ['<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', '<title>Getting an API key</title>', '<meta name="viewport" content="width=device-width, initial-scale=1">', '</head>', '<body>']
  const lines = renderDocsMarkdown(facts).split('\n')
  let paragraph: string[] = []
  const flush = (): void => {
    if (paragraph.length > 0) out.push(`<p>${inline(paragraph.join(' '))}</p>`)
    paragraph = []
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.startsWith('```')) {
      flush()
      const code: string[] = []
      for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) code.push(lines[i] ?? '')
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`)
    } else if (line.startsWith('#')) {
      flush()
      const level = line.indexOf(' ')
      out.push(`<h${level}>${inline(line.slice(level + 1))}</h${level}>`)
    } else if (line.startsWith('|')) {
      flush()
      const rows: string[][] = []
      for (; i < lines.length && (lines[i] ?? '').startsWith('|'); i++) {
        const cells = (lines[i] ?? '').slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'))
        if (!cells.every((cell) => /^-+$/.test(cell))) rows.push(cells)
      }
      i--
      const [head, ...body] = rows
      out.push('<table>', `<tr>${(head ?? []).map((cell) => `<th>${inline(cell)}</th>`).join('')}</tr>`)
      for (const row of body) out.push(`<tr>${row.map((cell) => `<td>${inline(cell)}</td>`).join('')}</tr>`)
      out.push('</table>')
    } else if (line === '') {
      flush()
    } else {
      paragraph.push(line)
    }
  }
  flush()
  out.push('</body>', '</html>', '')
  return out.join('\n')
}

/** True when an `Accept` header asks for Markdown rather than HTML (names text/markdown and not text/html); `*\/*` gets HTML. */
export function prefersMarkdown(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/markdown\b/i.test(accept) && !/\btext\/html\b/i.test(accept)
}

/** Registers `GET /docs` (public). */
export async function docsRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    DOCS_PATH,
    {
      config: {auth: 'public'},
      schema: {
        summary: 'How to get an API key: install command, the command that issues a key, key format, verification codes (HTML; Markdown with Accept: text/markdown)',
        tags: ['meta'],
        response: {
          200: {
            description: 'the docs page',
            content: {'text/html': {schema: {type: 'string'}}, 'text/markdown': {schema: {type: 'string'}}},
          },
        },
      },
    },
    async (request, reply) => {
      const facts = docsFacts(deps.settings, request)
      const markdown = prefersMarkdown(request.headers.accept)
      reply.header('vary', 'accept').header('cache-control', 'public, max-age=300')
      if (markdown) return reply.type('text/markdown; charset=utf-8').send(renderDocsMarkdown(facts))
      return reply.type('text/html; charset=utf-8').send(renderDocsHtml(facts))
    },
  )
}
