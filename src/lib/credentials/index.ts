/**
 * The developer session token store: `APIKEY_TOKEN` → OS keychain → 0600
 * `credentials.json`.
 */
export {
  createCredentialStore,
  TOKEN_ENV_VAR,
  type ClearResult,
  type CredentialStore,
  type CredentialStoreOptions,
  type ResolvedToken,
  type SaveOptions,
  type SaveResult,
  type TokenLocation,
  type TokenLocations,
  type TokenSource,
} from './store.js'
export {
  CREDENTIALS_FILE_NAME,
  credentialsPath,
  parseCredentialsFile,
  readCredentialsFile,
  updateCredentialsFile,
  type CredentialsFileContents,
  type CredentialsFileRead,
  type FileTokenEntry,
} from './file.js'
