/**
 * Shared per-test setup for verifier tests against the local wire-contract
 * stand-in: a fresh injected clock and stand-in per test, and verifiers made
 * with `make()` closed after it. Call {@link useStandinVerifiers} once at the
 * top of a test file; `clock` and `standin` are live bindings, reassigned per test.
 */
import {afterEach, beforeEach} from 'vitest'
import {createVerifier, type Verifier, type VerifierOptions} from '../../src/verify/index.js'
import {FakeClock, startStandin, TOKEN, type Standin} from './helpers.js'

export let clock: FakeClock
export let standin: Standin
const verifiers: Verifier[] = []

/** A verifier against the stand-in with the test clock (usage reporting off unless overridden). */
export function make(options: Partial<VerifierOptions> = {}): Verifier {
  const v = createVerifier({serviceUrl: standin.url, verifierToken: TOKEN, clock, usage: {enabled: false}, ...options})
  verifiers.push(v)
  return v
}

/** Registers the beforeEach/afterEach hooks of the file that calls it. */
export function useStandinVerifiers(): void {
  beforeEach(async () => {
    clock = new FakeClock()
    standin = await startStandin(clock)
  })
  afterEach(async () => {
    for (const v of verifiers.splice(0)) await v.close({deadlineMs: 1})
    await standin.close()
  })
}
