import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'
import type {App} from '../model.js'
import {toTeam} from './teams.js'

/** SQL for `apps`. */
export class AppsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  private base() {
    return this.db
      .selectFrom('apps')
      .innerJoin('teams', 'teams.id', 'apps.team_id')
      .innerJoin('users', 'users.id', 'apps.created_by')
      .select([
        'apps.id as id',
        'apps.slug as slug',
        'apps.name as name',
        'apps.contact_email as contact_email',
        'apps.description as description',
        'apps.created_at as created_at',
        'users.username as created_by_username',
        'teams.id as team_id',
        'teams.slug as team_slug',
        'teams.name as team_name',
        'teams.contact_email as team_contact_email',
        'teams.created_at as team_created_at',
      ])
  }

  private static toApp(row: {
    id: string
    slug: string
    name: string
    contact_email: string
    description: string | null
    created_at: number
    created_by_username: string
    team_id: string
    team_slug: string
    team_name: string
    team_contact_email: string | null
    team_created_at: number
  }): App {
    return {
      id: row.id,
      slug: row.slug,
      name: row.name,
      team: toTeam({id: row.team_id, slug: row.team_slug, name: row.team_name, contact_email: row.team_contact_email, created_at: row.team_created_at}),
      contactEmail: row.contact_email,
      description: row.description,
      createdBy: row.created_by_username,
      createdAt: row.created_at,
    }
  }

  /** The app with this slug, or undefined. */
  async findBySlug(slug: string): Promise<App | undefined> {
    const row = await this.base().where('apps.slug', '=', slug).executeTakeFirst()
    return row && AppsRepository.toApp(row)
  }

  /** The app with this id, or undefined. */
  async findById(id: string): Promise<App | undefined> {
    const row = await this.base().where('apps.id', '=', id).executeTakeFirst()
    return row && AppsRepository.toApp(row)
  }

  /** Apps owned by any of the teams of `userId`, by slug. */
  async listForUser(userId: string): Promise<App[]> {
    const rows = await this.base()
      .where('apps.team_id', 'in', (eb) => eb.selectFrom('memberships').select('team_id').where('user_id', '=', userId))
      .orderBy('apps.slug')
      .execute()
    return rows.map((row) => AppsRepository.toApp(row))
  }

  /** Every app, by slug. */
  async listAll(): Promise<App[]> {
    const rows = await this.base().orderBy('apps.slug').execute()
    return rows.map((row) => AppsRepository.toApp(row))
  }

  /** Inserts an app. @throws the SQLite unique violation when the slug is taken. */
  async insert(input: {id: string; slug: string; name: string; teamId: string; contactEmail: string; description: string | null; createdBy: string; createdAt: number}): Promise<void> {
    await this.db
      .insertInto('apps')
      .values({
        id: input.id,
        slug: input.slug,
        name: input.name,
        team_id: input.teamId,
        contact_email: input.contactEmail,
        description: input.description,
        created_by: input.createdBy,
        created_at: input.createdAt,
      })
      .execute()
  }

  /** Moves an app to another owning team and sets its point of contact. */
  async transfer(id: string, teamId: string, contactEmail: string): Promise<void> {
    await this.db.updateTable('apps').set({team_id: teamId, contact_email: contactEmail}).where('id', '=', id).execute()
  }

  /** Ids of the apps owned by teams in which `userId` has role `owner`. */
  async idsOwnedBy(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('apps')
      .select('apps.id')
      .where('apps.team_id', 'in', (eb) => eb.selectFrom('memberships').select('team_id').where('user_id', '=', userId).where('role', '=', 'owner'))
      .execute()
    return rows.map((row) => row.id)
  }
}
