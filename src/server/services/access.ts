/**
 * Who may see or change what (every route checks team membership).
 * One wording for every 403 about an app: it names the owning team and the
 * point of contact, so the caller knows whom to ask.
 */
import {ApikeyError} from '../../core/errors.js'
import type {App, TeamRole} from '../model.js'
import type {Repositories} from '../repositories/index.js'
import type {Principal} from './auth.js'

/**
 * The 403 for a caller outside the app's owning team.
 * @param what what only members may do, e.g. `"list or issue its keys"`.
 */
export function notMemberError(app: App, what: string): ApikeyError {
  return new ApikeyError(
    `the app "${app.slug}" belongs to team ${app.team.name} (${app.team.slug}); only its members can ${what}. Its point of contact is ${app.contactEmail}. Keys are not shared between teams: ask them to add you to the team, or register your own app.`,
    {
      code: 'forbidden',
      suggestions: ['apikey init --app <another-slug>'],
      details: {
        owningTeam: app.team.slug,
        owningTeamName: app.team.name,
        contactEmail: app.contactEmail,
        ...(app.team.contactEmail === null ? {} : {teamContactEmail: app.team.contactEmail}),
        app: app.slug,
      },
    },
  )
}

/**
 * The caller's role in the app's owning team.
 * @throws ApikeyError `forbidden` ({@link notMemberError}) when not a member.
 */
export async function requireMember(repos: Repositories, principal: Principal, app: App, what: string): Promise<TeamRole> {
  const role = await repos.teams.roleOf(principal.user.id, app.team.id)
  if (role === undefined) throw notMemberError(app, what)
  return role
}
