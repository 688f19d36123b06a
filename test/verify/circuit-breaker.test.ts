/** The verifier's circuit breaker (src/verify/circuit-breaker.ts). */
import {describe, expect, it} from 'vitest'
import {CircuitBreaker} from '../../src/verify/circuit-breaker.js'

describe('circuit breaker', () => {
  it('opens after N consecutive failures for openMs, then lets calls through again', () => {
    const circuit = new CircuitBreaker(3, 1000)
    circuit.failure(0)
    circuit.failure(0)
    expect(circuit.isOpen(0)).toBe(false)
    circuit.failure(100)
    expect(circuit.isOpen(100)).toBe(true)
    expect(circuit.isOpen(1099)).toBe(true)
    expect(circuit.isOpen(1100)).toBe(false)
  })

  it('a success in between resets the count and closes an open circuit', () => {
    const circuit = new CircuitBreaker(2, 1000)
    circuit.failure(0)
    circuit.success()
    circuit.failure(0)
    expect(circuit.isOpen(0)).toBe(false)
    circuit.failure(0)
    expect(circuit.isOpen(0)).toBe(true)
    circuit.success()
    expect(circuit.isOpen(0)).toBe(false)
  })

  it('with 0 failures configured it never opens', () => {
    const circuit = new CircuitBreaker(0, 1000)
    for (let i = 0; i < 10; i++) circuit.failure(0)
    expect(circuit.isOpen(0)).toBe(false)
  })
})
