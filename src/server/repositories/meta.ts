import type {Kysely} from 'kysely'
import type {Database} from '../db/schema.js'

/** SQL for `server_meta` (name/value facts about this database). */
export class MetaRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The value stored under `name`, or undefined. */
  async get(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('server_meta').select('value').where('name', '=', name).executeTakeFirst()
    return row?.value
  }

  /**
   * As {@link get}, on a database that may not be migrated yet: undefined when `server_meta`
   * does not exist (a database older than its first migration, or an empty file). Reads only.
   */
  async getBeforeMigrations(name: string): Promise<string | undefined> {
    const tables = await this.db.introspection.getTables()
    if (!tables.some((t) => t.name === 'server_meta')) return undefined
    return this.get(name)
  }

  /** Stores `value` under `name` unless a value exists; returns the value now stored. */
  async setIfAbsent(name: string, value: string): Promise<string> {
    await this.db.insertInto('server_meta').values({name, value}).onConflict((oc) => oc.column('name').doNothing()).execute()
    return (await this.get(name)) ?? value
  }
}
