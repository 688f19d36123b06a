import type {Kysely, Selectable} from 'kysely'
import type {Database, UsersTable} from '../db/schema.js'
import type {User} from '../model.js'

/** A user with the stored password hash (only the auth service sees it). */
export interface UserCredentials {
  user: User
  passwordHash: string
}

function toUser(row: Selectable<UsersTable>): User {
  return {id: row.id, username: row.username, isAdmin: row.is_admin === 1, createdAt: row.created_at, disabledAt: row.disabled_at}
}

/** SQL for `users`. */
export class UsersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The user with this id, or undefined. */
  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toUser(row)
  }

  /** The user and password hash for a username (exact match), or undefined. */
  async findCredentials(username: string): Promise<UserCredentials | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst()
    return row && {user: toUser(row), passwordHash: row.password_hash}
  }

  /** Whether a user of this name exists (exact match). */
  async exists(username: string): Promise<boolean> {
    return (await this.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) !== undefined
  }

  /** Inserts a user. @throws the SQLite unique violation when the username is taken. */
  async insert(input: {id: string; username: string; passwordHash: string; isAdmin: boolean; createdAt: number}): Promise<User> {
    await this.db
      .insertInto('users')
      .values({id: input.id, username: input.username, password_hash: input.passwordHash, is_admin: input.isAdmin ? 1 : 0, created_at: input.createdAt})
      .execute()
    return {id: input.id, username: input.username, isAdmin: input.isAdmin, createdAt: input.createdAt, disabledAt: null}
  }

  /** Sets the admin flag. */
  async setAdmin(id: string, isAdmin: boolean): Promise<void> {
    await this.db.updateTable('users').set({is_admin: isAdmin ? 1 : 0}).where('id', '=', id).execute()
  }
}
