/**
 * The OS keychain adapter: a time-boxed {@link SecretStore} over
 * `@napi-rs/keyring`, entry naming and error classification.
 */
export {
  createKeychain,
  checkSecretSize,
  keychainName,
  DEFAULT_KEYCHAIN_TIMEOUT_MS,
  MAX_SECRET_BYTES,
  WINDOWS_MAX_SECRET_UTF16_UNITS,
  TIMEOUT_ENV_VAR,
  type KeychainOptions,
  type ProbeResult,
  type ProbeFailureReason,
  type SecretStore,
} from './keychain.js'
export {
  ABSENT_KEYCHAIN_REASONS,
  classifyKeychainError,
  isKeychainAbsent,
  isKeychainUnavailable,
  redactSecrets,
  unavailableError,
  unavailableReasonOf,
  type ClassifyContext,
  type RawKeychainFailure,
  type UnavailableReason,
} from './classify.js'
export {apiKeyAccount, keychainService, serverHost, SERVICE_PREFIX, SESSION_ACCOUNT} from './naming.js'
