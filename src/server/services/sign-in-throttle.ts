/**
 * Sign-in throttling that an attacker cannot turn against the account's owner.
 *
 * Three limits, checked before any password is hashed; an attempt that any of
 * them refuses changes none of them:
 *
 * 1. Per (username, client address): the first `freeFailures` failures are free;
 *    after that each attempt must wait `baseDelayMs · 2^(failures − freeFailures)`
 *    (at most `maxDelayMs`) after the previous one. A successful sign-in resets
 *    it; it is forgotten `forgetAfterMs` after the last attempt. Someone guessing
 *    from one address slows down only themselves.
 * 2. Per username, across the addresses it has never signed in from (a token
 *    bucket): caps guessing spread over many addresses. The owner's known
 *    networks do not count against it and are not stopped by it.
 * 3. Per client address, across usernames (a token bucket): caps one address
 *    trying many accounts.
 *
 * An attempt is counted against all three when it starts (so a burst of
 * concurrent attempts cannot slip past before the first one fails) and given
 * back by {@link SignInThrottle.succeeded} or {@link SignInThrottle.abandoned}.
 * Addresses are keyed by {@link clientAddressKey} (an IPv4 address, an IPv6 /64).
 * State is per process, bounded, and lost on restart.
 */
import type {Clock} from '../clock.js'
import type {RateLimitPolicy, SignInBackoffPolicy} from '../settings.js'
import {clientAddressKey, MAX_BUCKETS, TokenBucketLimiter} from './rate-limit.js'

/** The limits of {@link SignInThrottle}. */
export interface SignInThrottlePolicy {
  backoff: SignInBackoffPolicy
  /** Per username, attempts from networks it has never signed in from. */
  perUsername: RateLimitPolicy
  /** Per client address, attempts for any username. */
  perAddress: RateLimitPolicy
}

/** Which limit refused an attempt. */
export type SignInLimit = 'backoff' | 'username' | 'address'

/** Where a sign-in attempt comes from and whom it is for. */
export interface SignInAttemptSource {
  /** The username as typed (compared lower-cased). */
  username: string
  /** Client address (the socket peer unless a trusted proxy says otherwise). */
  address: string
  /** Whether the address's network signed in successfully as this user before. */
  knownNetwork: boolean
}

/** An attempt that passed: hand it back to {@link SignInThrottle.succeeded}, {@link SignInThrottle.failed} or {@link SignInThrottle.abandoned}. */
export interface SignInAttempt {
  readonly userKey: string
  readonly addressKey: string
  readonly pairKey: string
  readonly countedForUsername: boolean
}

/** Result of {@link SignInThrottle.begin}. */
export type SignInDecision =
  | {allowed: true; attempt: SignInAttempt}
  | {allowed: false; limit: SignInLimit; /** Whole seconds until a retry can pass, ≥ 1. */ retryAfterSeconds: number}

interface PairState {
  /** Failed (or still running) attempts since the last success. */
  failures: number
  /** When the last counted attempt started, ms. */
  lastAttemptAt: number
}

/** Sign-in limits per (username, address), per username and per address. */
export class SignInThrottle {
  private readonly pairs = new Map<string, PairState>()
  private readonly byUsername: TokenBucketLimiter
  private readonly byAddress: TokenBucketLimiter

  constructor(
    private readonly policy: SignInThrottlePolicy,
    private readonly clock: Clock,
  ) {
    this.byUsername = new TokenBucketLimiter(policy.perUsername, clock)
    this.byAddress = new TokenBucketLimiter(policy.perAddress, clock)
  }

  /**
   * Wait in ms before the next attempt of a pair with `failures` failures, the
   * last one started at `lastAttemptAt` (0 when it may go now).
   */
  private pairWaitMs(state: PairState | undefined, now: number): number {
    if (state === undefined) return 0
    const {freeFailures, baseDelayMs, maxDelayMs} = this.policy.backoff
    if (state.failures < freeFailures) return 0
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(state.failures - freeFailures, 40))
    return Math.max(0, state.lastAttemptAt + delay - now)
  }

  private livePair(key: string, now: number): PairState | undefined {
    const state = this.pairs.get(key)
    if (state !== undefined && now - state.lastAttemptAt >= this.policy.backoff.forgetAfterMs) {
      this.pairs.delete(key)
      return undefined
    }
    return state
  }

  /**
   * Checks every limit and, when all pass, counts the attempt against each.
   * The backoff is checked first, so an attempt it refuses never touches the
   * username's or the address's bucket.
   */
  begin(source: SignInAttemptSource): SignInDecision {
    const now = this.clock.now()
    const userKey = source.username.toLowerCase()
    const addressKey = clientAddressKey(source.address)
    const pairKey = `${userKey}\u0000${addressKey}`
    const pair = this.livePair(pairKey, now)
    const backoffMs = this.pairWaitMs(pair, now)
    if (backoffMs > 0) return refused('backoff', backoffMs)
    const countedForUsername = !source.knownNetwork
    const usernameMs = countedForUsername ? this.byUsername.waitMs(userKey) : 0
    const addressMs = this.byAddress.waitMs(addressKey)
    if (usernameMs > 0 || addressMs > 0) return refused(usernameMs >= addressMs ? 'username' : 'address', Math.max(usernameMs, addressMs))
    if (countedForUsername) this.byUsername.consume(userKey)
    this.byAddress.consume(addressKey)
    const state = pair ?? {failures: 0, lastAttemptAt: now}
    state.failures += 1
    state.lastAttemptAt = now
    // Re-inserted so the Map's order is least recently attempted first (eviction order).
    this.pairs.delete(pairKey)
    this.pairs.set(pairKey, state)
    if (this.pairs.size > MAX_BUCKETS) this.evict(now)
    return {allowed: true, attempt: {userKey, addressKey, pairKey, countedForUsername}}
  }

  /** The password was right: the pair starts afresh and the buckets get this attempt back. */
  succeeded(attempt: SignInAttempt): void {
    this.pairs.delete(attempt.pairKey)
    this.giveBack(attempt)
  }

  /** The password was wrong (or the account unknown or disabled): the attempt stays counted. */
  failed(_attempt: SignInAttempt): void {
    // Counted when it began; nothing to add.
  }

  /** No password was checked (e.g. the service was too busy): the attempt is not counted at all. */
  abandoned(attempt: SignInAttempt): void {
    const state = this.pairs.get(attempt.pairKey)
    if (state !== undefined) state.failures = Math.max(0, state.failures - 1)
    this.giveBack(attempt)
  }

  private giveBack(attempt: SignInAttempt): void {
    if (attempt.countedForUsername) this.byUsername.refund(attempt.userKey)
    this.byAddress.refund(attempt.addressKey)
  }

  private evict(now: number): void {
    for (const [key] of this.pairs) {
      if (this.livePair(key, now) !== undefined) break
    }
    for (const key of this.pairs.keys()) {
      if (this.pairs.size <= MAX_BUCKETS) break
      this.pairs.delete(key)
    }
  }
}

function refused(limit: SignInLimit, waitMs: number): SignInDecision {
  return {allowed: false, limit, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000))}
}
