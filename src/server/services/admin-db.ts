/**
 * The database as the `apikey server …` admin commands open it: it must exist (only
 * `server start` creates one), and when it keeps a pepper fingerprint, the pepper at hand
 * (`APIKEY_PEPPER`, else the pepper file beside the database) must match it before anything
 * is written, migrations included.
 */
import {openDatabase, type DatabaseHandle} from '../db/connection.js'
import {pepperPathFor, readPepper, refuseOtherPepper, storedPepperFingerprint} from './pepper.js'

/**
 * Opens an existing service database for an admin command. A pepper that cannot be found
 * (not in the environment, no file) is not checked: admin commands do not use it.
 * @param env where `APIKEY_PEPPER` is read from.
 * @throws ApikeyError `not_found` when there is no database at `dbPath` (nothing is created);
 *   `validation` when the pepper at hand is not the database's (nothing is written).
 */
export function openAdminDatabase(dbPath: string, env: Record<string, string | undefined> | undefined): Promise<DatabaseHandle> {
  const supplied = env?.APIKEY_PEPPER === undefined || env.APIKEY_PEPPER === '' ? undefined : env.APIKEY_PEPPER
  return openDatabase(dbPath, {
    mustExist: true,
    beforeMigrations: async (db) => {
      const stored = await storedPepperFingerprint(db)
      if (stored === undefined) return
      const pepper = await readPepper(pepperPathFor(dbPath), supplied)
      if (pepper !== undefined) refuseOtherPepper(stored, pepper)
    },
  })
}
