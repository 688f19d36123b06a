/**
 * Bootstrapping local accounts (`apikey server users add`). Works directly on
 * the database file, so it runs with or without the service running (WAL and
 * the busy timeout let both write).
 */
import {ApikeyError} from '../../core/errors.js'
import {isValidSlug, SLUG_RULE} from '../../core/key-format.js'
import {isValidEmail, MIN_PASSWORD_LENGTH, USERNAME_PATTERN, USERNAME_RULE} from '../../core/validation.js'
import type {TeamView, UserView} from '../../core/wire.js'
import {systemClock, type Clock} from '../clock.js'
import {openAdminDatabase} from './admin-db.js'
import type {TeamRole} from '../model.js'
import {validationError} from '../problems.js'
import {inTransaction, isUniqueViolation, repositories} from '../repositories/index.js'
import {DEFAULT_SCRYPT_COST, resolveServerPaths, type ScryptCost} from '../settings.js'
import {defaultRandom, hashPassword, newId, type RandomBase62} from './crypto.js'
import {teamView, userView} from './views.js'

/** Path helpers the CLI needs next to {@link addUser} (XDG data dir; env passed in). */
export {defaultDataDir, defaultDbPath, resolveServerPaths} from '../settings.js'

/** Input of {@link addUser}. */
export interface AddUserOptions {
  /** SQLite file; default {@link resolveServerPaths}`({env}).dbPath`. */
  dbPath?: string
  /** Environment for the default path (only `XDG_DATA_HOME` is read). */
  env?: Record<string, string | undefined>
  /** Home directory for the default path; default `os.homedir()`. */
  homedir?: string
  /** Username ({@link USERNAME_RULE}). */
  username: string
  /**
   * Password of a new user (at least {@link MIN_PASSWORD_LENGTH} characters).
   * Ignored when the user exists: adding an existing user to a team keeps their password.
   */
  password: string
  /** Team slug ({@link SLUG_RULE}); created when missing. */
  team: string
  /** Display name of a new team; default the slug. Ignored for an existing team. */
  teamName?: string
  /** Contact email of a new team. Ignored for an existing team. */
  teamContactEmail?: string
  /** Make the user a service admin (also promotes an existing user). */
  admin: boolean
  /** Role in the team; default `owner` for the first user of a new team, else `member`. */
  role?: TeamRole
  /** Clock for timestamps; default the wall clock. */
  clock?: Clock
  /** scrypt cost for the password hash; default {@link DEFAULT_SCRYPT_COST}. */
  scryptCost?: ScryptCost
  /** Randomness for ids; default the OS CSPRNG. */
  random?: RandomBase62
}

/** Result of {@link addUser}; the stable `--json` shape of `apikey server users add`. */
export interface AddUserResult {
  user: UserView
  team: TeamView
  createdTeam: boolean
  createdUser: boolean
  role: TeamRole
  /** The database file written. */
  dbPath: string
}

/**
 * Whether a user of this name exists on the existing database file (see
 * {@link openAdminDatabase}: never created, pepper checked before migrations), so a
 * command can skip asking for a password that {@link addUser} would ignore.
 * @throws Error when the database cannot be opened.
 */
export async function userExists(options: Pick<AddUserOptions, 'dbPath' | 'env' | 'homedir' | 'username'>): Promise<boolean> {
  const dbPath = options.dbPath ?? resolveServerPaths({...(options.env === undefined ? {} : {env: options.env}), ...(options.homedir === undefined ? {} : {homedir: options.homedir})}).dbPath
  const handle = await openAdminDatabase(dbPath, options.env)
  try {
    return await repositories(handle.db).users.exists(options.username)
  } finally {
    await handle.close()
  }
}

/**
 * Opens the existing database (see {@link openAdminDatabase}: never created here, the pepper
 * checked before migrations are applied), creates the team if missing,
 * creates the user if missing (an existing user keeps their password and is
 * promoted when `admin`), and adds the membership — in one transaction, with
 * audit events `team.create`, `user.create`, `membership.add`.
 * @throws ApikeyError `validation` for a bad username, team slug, contact
 *   email or short password (of a new user); `conflict` when the user is
 *   already a member of the team; `not_found` when there is no database at the path;
 *   `validation` for a pepper that is not the database's; errors from opening the database.
 */
export async function addUser(options: AddUserOptions): Promise<AddUserResult> {
  if (!USERNAME_PATTERN.test(options.username)) throw validationError('username', USERNAME_RULE)
  if (!isValidSlug(options.team)) throw validationError('team', SLUG_RULE)
  if (options.teamContactEmail !== undefined && !isValidEmail(options.teamContactEmail)) throw validationError('teamContactEmail', 'a valid email address')
  if (options.teamName !== undefined && (options.teamName.trim() === '' || options.teamName.length > 100)) throw validationError('teamName', '1–100 characters, not blank')
  const dbPath = options.dbPath ?? resolveServerPaths({...(options.env === undefined ? {} : {env: options.env}), ...(options.homedir === undefined ? {} : {homedir: options.homedir})}).dbPath
  const clock = options.clock ?? systemClock
  const random = options.random ?? defaultRandom
  const handle = await openAdminDatabase(dbPath, options.env)
  try {
    // Hash outside the transaction (slow by design); only used for a new user.
    let passwordHash: string | undefined
    if (!(await repositories(handle.db).users.exists(options.username))) {
      if (options.password.length < MIN_PASSWORD_LENGTH) throw validationError('password', `at least ${MIN_PASSWORD_LENGTH} characters`)
      passwordHash = await hashPassword(options.password, options.scryptCost ?? DEFAULT_SCRYPT_COST)
    }
    return await inTransaction(handle.db, async (repos) => {
      const now = clock.now()
      let team = await repos.teams.findBySlug(options.team)
      const createdTeam = team === undefined
      if (team === undefined) {
        team = await repos.teams.insert({
          id: newId('team', random),
          slug: options.team,
          name: options.teamName ?? options.team,
          contactEmail: options.teamContactEmail ?? null,
          createdAt: now,
        })
        await repos.audit.append({at: now, actorUserId: null, action: 'team.create', targetType: 'team', targetId: team.id, details: {slug: team.slug, via: 'cli'}})
      }
      const credentials = await repos.users.findCredentials(options.username)
      let user = credentials?.user
      const createdUser = user === undefined
      if (user === undefined) {
        const hash = passwordHash ?? (await hashPassword(options.password, options.scryptCost ?? DEFAULT_SCRYPT_COST))
        user = await repos.users.insert({id: newId('usr', random), username: options.username, passwordHash: hash, isAdmin: options.admin, createdAt: now})
        await repos.audit.append({at: now, actorUserId: null, action: 'user.create', targetType: 'user', targetId: user.id, details: {username: user.username, admin: user.isAdmin, via: 'cli'}})
      } else if (options.admin && !user.isAdmin) {
        await repos.users.setAdmin(user.id, true)
        user = {...user, isAdmin: true}
        await repos.audit.append({at: now, actorUserId: null, action: 'user.promote', targetType: 'user', targetId: user.id, details: {via: 'cli'}})
      }
      const role: TeamRole = options.role ?? (createdTeam ? 'owner' : 'member')
      const current = await repos.teams.roleOf(user.id, team.id)
      if (current !== undefined) {
        throw new ApikeyError(`user ${user.username} is already ${current === "owner" ? "an" : "a"} ${current} of team ${team.slug}`, {code: 'conflict', details: {username: user.username, team: team.slug, role: current}})
      }
      try {
        await repos.teams.addMember({userId: user.id, teamId: team.id, role, createdAt: now})
      } catch (error) {
        if (isUniqueViolation(error)) throw new ApikeyError(`user ${user.username} is already a member of team ${team.slug}`, {code: 'conflict'})
        throw error
      }
      await repos.audit.append({at: now, actorUserId: null, action: 'membership.add', targetType: 'team', targetId: team.id, details: {user: user.id, role, via: 'cli'}})
      return {user: userView(user), team: teamView(team), createdTeam, createdUser, role, dbPath}
    })
  } finally {
    await handle.close()
  }
}
