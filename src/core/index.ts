/**
 * Public, dependency-free part of apikey: the key format, shared error types
 * and wire schemas. Import as `apikey/core`.
 */
export * from './key-format.js'
export * from './errors.js'
export * from './wire.js'
export * from './validation.js'
export * from './secrets.js'
export * from './problem-types.js'
export * from './replacement-command.js'
