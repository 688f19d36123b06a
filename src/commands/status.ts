import {ApikeyCommand, networkFlags} from '../lib/command.js'
import {renderRows} from '../lib/render.js'
import {status, type StatusResult} from '../services/status.js'

const SESSION_TEXT: Record<StatusResult['session']['state'], string> = {
  'signed-in': 'signed in',
  'not-signed-in': 'not signed in — run: apikey login',
  rejected: 'the stored session was rejected (expired or revoked) — run: apikey login',
  unknown: 'unknown: the service could not be asked',
}

export default class Status extends ApikeyCommand<StatusResult> {
  static override summary = 'Show the server, your session, the project, and where the key lives.'
  static override description = 'Lists every place a session token or the project key exists, which one is used, and conflicts between them. Works offline: an unreachable service is reported, not an error.'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']
  static override flags = {...networkFlags}

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(Status)
    const r = await status(this.deps, {...(flags.server === undefined ? {} : {server: flags.server}), timeoutMs: flags.timeout * 1000})
    for (const w of r.warnings) this.warnLine(w)
    if (!this.jsonEnabled()) {
      const tty = this.deps.stdout.isTTY
      const s = r.session
      const rows: Array<[string, string | undefined]> = [
        ['server', r.server ? `${r.server.url} (from ${r.server.source})` : 'none — run: apikey login --server URL'],
        ['session', s.state === 'signed-in' ? `signed in as ${s.user} (teams: ${s.teams.join(', ') || 'none'}), expires ${this.deps.time(s.expiresAt, 'stdout')}` : SESSION_TEXT[s.state] + (s.error ? ` — ${s.error}` : '')],
        ['token from', s.source ?? undefined],
        ['token in', s.locations.length > 0 ? s.locations.join(', ') : undefined],
        ['project', r.project ? `${r.project.path} (app ${r.project.app}, env ${r.project.env}, store ${r.project.store})` : 'no apikey.json here — run: apikey init'],
        ['key', r.key.source ? `${r.key.start ?? '(invalid key)'} from ${r.key.source}` : 'none found'],
      ]
      for (const src of r.key.sources) rows.push([`  ${src.source}`, `${src.state}${src.start ? ` ${src.start}` : ''} — ${src.location}${src.reason ? ` (${src.reason})` : ''}`])
      this.log(renderRows(rows, tty))
    }
    return r
  }
}
