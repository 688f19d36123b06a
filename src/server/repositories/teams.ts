import type {Kysely, Selectable} from 'kysely'
import type {Database, TeamsTable} from '../db/schema.js'
import type {Membership, Team, TeamRole} from '../model.js'

/** Maps a `teams` row to a {@link Team}. */
export function toTeam(row: Pick<Selectable<TeamsTable>, 'id' | 'slug' | 'name' | 'contact_email' | 'created_at'>): Team {
  return {id: row.id, slug: row.slug, name: row.name, contactEmail: row.contact_email, createdAt: row.created_at}
}

/** SQL for `teams` and `memberships`. */
export class TeamsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The team with this slug, or undefined. */
  async findBySlug(slug: string): Promise<Team | undefined> {
    const row = await this.db.selectFrom('teams').selectAll().where('slug', '=', slug).executeTakeFirst()
    return row && toTeam(row)
  }

  /** Inserts a team. @throws the SQLite unique violation when the slug is taken. */
  async insert(team: Team): Promise<Team> {
    await this.db
      .insertInto('teams')
      .values({id: team.id, slug: team.slug, name: team.name, contact_email: team.contactEmail, created_at: team.createdAt})
      .execute()
    return team
  }

  /** Teams of a user with roles, ordered by team slug. */
  async membershipsOf(userId: string): Promise<Membership[]> {
    const rows = await this.db
      .selectFrom('memberships')
      .innerJoin('teams', 'teams.id', 'memberships.team_id')
      .select(['teams.id', 'teams.slug', 'teams.name', 'teams.contact_email', 'teams.created_at', 'memberships.role'])
      .where('memberships.user_id', '=', userId)
      .orderBy('teams.slug')
      .execute()
    return rows.map((row) => ({team: toTeam(row), role: row.role}))
  }

  /** The user's role in the team, or undefined when not a member. */
  async roleOf(userId: string, teamId: string): Promise<TeamRole | undefined> {
    const row = await this.db
      .selectFrom('memberships')
      .select('role')
      .where('user_id', '=', userId)
      .where('team_id', '=', teamId)
      .executeTakeFirst()
    return row?.role
  }

  /** Adds a membership. @throws the SQLite primary-key violation when it exists. */
  async addMember(input: {userId: string; teamId: string; role: TeamRole; createdAt: number}): Promise<void> {
    await this.db.insertInto('memberships').values({user_id: input.userId, team_id: input.teamId, role: input.role, created_at: input.createdAt}).execute()
  }
}
