/**
 * Secrets and identifiers of the key service: public ids, session tokens,
 * password hashes (scrypt, RFC 7914) and key lookup hashes (HMAC-SHA256,
 * RFC 2104). Randomness comes from an injectable source (default: the OS
 * CSPRNG through core `randomBase62`).
 */
import {createHash, createHmac, randomBytes, scrypt, timingSafeEqual} from 'node:crypto'
import {randomBase62} from '../../core/key-format.js'
import {TOKEN_RANDOM_LENGTH} from '../../core/secrets.js'
import {PROVISIONING_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, VERIFIER_TOKEN_PREFIX} from '../../core/wire.js'
import type {ScryptCost} from '../settings.js'

/** Source of random base62 strings of a given length (characters). */
export type RandomBase62 = (length: number) => string

/** The anchored shape of a bearer token: `prefix` (core's, e.g. `aks_`) + `length` base62 characters. */
function tokenPattern(prefix: string, length: number): RegExp {
  return new RegExp(`^${prefix}[0-9A-Za-z]{${length}}$`)
}

/** Default randomness: the OS CSPRNG. */
export const defaultRandom: RandomBase62 = randomBase62

/** Length of the random part of public ids, in base62 characters (~119 bits). */
export const ID_LENGTH = 20
/** Length of the random part of session tokens, in base62 characters (~238 bits). */
export const SESSION_TOKEN_LENGTH = TOKEN_RANDOM_LENGTH
/** Shape of a session token: `aks_` + 40 base62. */
export const SESSION_TOKEN_PATTERN = tokenPattern(SESSION_TOKEN_PREFIX, SESSION_TOKEN_LENGTH)
/** Shape of a key id: `key_` + 20 base62. */
export const KEY_ID_PATTERN = /^key_[0-9A-Za-z]{20}$/
/** Shape of a provisioning token id: `tok_` + 20 base62. */
export const TOKEN_ID_PATTERN = /^tok_[0-9A-Za-z]{20}$/
/** Length of the random part of provisioning tokens, in base62 characters (~238 bits). */
export const PROVISIONING_TOKEN_LENGTH = TOKEN_RANDOM_LENGTH
/** Shape of a provisioning token: `akp_` + 40 base62. */
export const PROVISIONING_TOKEN_PATTERN = tokenPattern(PROVISIONING_TOKEN_PREFIX, PROVISIONING_TOKEN_LENGTH)

/** Length of the random part of verifier tokens, in base62 characters (~238 bits). */
export const VERIFIER_TOKEN_LENGTH = TOKEN_RANDOM_LENGTH
/** Shape of a verifier token: `akv_` + 40 base62. */
export const VERIFIER_TOKEN_PATTERN = tokenPattern(VERIFIER_TOKEN_PREFIX, VERIFIER_TOKEN_LENGTH)

/** A new verifier token: `akv_` + 40 base62 characters. Shown once; store only {@link sha256Hex} of it. */
export function newVerifierToken(random: RandomBase62 = defaultRandom): string {
  return VERIFIER_TOKEN_PREFIX + random(VERIFIER_TOKEN_LENGTH)
}

/** A public id: `<prefix>_` + 20 base62 characters, e.g. `key_3kTq…`. */
export function newId(prefix: 'usr' | 'team' | 'app' | 'key' | 'ses' | 'tok' | 'vrf', random: RandomBase62 = defaultRandom): string {
  return `${prefix}_${random(ID_LENGTH)}`
}

/** A new session token: `aks_` + 40 base62 characters. Shown once; store only {@link sha256Hex} of it. */
export function newSessionToken(random: RandomBase62 = defaultRandom): string {
  return SESSION_TOKEN_PREFIX + random(SESSION_TOKEN_LENGTH)
}

/** A new provisioning token: `akp_` + 40 base62 characters. Shown once; store only {@link sha256Hex} of it. */
export function newProvisioningToken(random: RandomBase62 = defaultRandom): string {
  return PROVISIONING_TOKEN_PREFIX + random(PROVISIONING_TOKEN_LENGTH)
}

/** Display start of a provisioning or verifier token: its 4-character prefix (`akp_`, `akv_`) + its first 4 random characters + `…`. */
export function tokenStart(token: string): string {
  return `${token.slice(0, PROVISIONING_TOKEN_PREFIX.length + 4)}…`
}

/**
 * Hex SHA-256 of a high-entropy token. A plain hash is enough for tokens with
 * ≥ 128 random bits: brute force is infeasible, so no salt or stretching is needed.
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex')
}

/** Hex HMAC-SHA256(pepper, key) (RFC 2104): the lookup hash of an API key. */
export function keyHash(pepper: Buffer, key: string): string {
  return createHmac('sha256', pepper).update(key, 'utf8').digest('hex')
}

/** Length of a scrypt salt, in bytes. */
export const SALT_BYTES = 16
/** Length of a scrypt output, in bytes. */
export const HASH_BYTES = 32

function scryptAsync(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must exceed 128 * N * r bytes; leave headroom.
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, {N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r}, (error, derived) => {
      if (error) reject(error)
      else resolve(derived)
    })
  })
}

/**
 * Hashes a password with scrypt (RFC 7914) and a fresh 16-byte salt.
 * Passwords are NFC-normalised first.
 * @returns `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>` (cost stored with the hash).
 */
export async function hashPassword(password: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const derived = await scryptAsync(password, salt, cost)
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), derived.toString('base64')].join('$')
}

/**
 * Checks a password against a stored {@link hashPassword} result in constant
 * time (`crypto.timingSafeEqual`). A malformed stored hash never matches.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false
  const salt = Buffer.from(parts[4] ?? '', 'base64')
  const expected = Buffer.from(parts[5] ?? '', 'base64')
  if (expected.length !== HASH_BYTES) return false
  const derived = await scryptAsync(password, salt, {N, r, p})
  return timingSafeEqual(derived, expected)
}
