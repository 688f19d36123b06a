/**
 * A bounded map with least-recently-used eviction (a `Map` keeps insertion
 * order; a hit re-inserts the entry at the end).
 */
export class Lru<K, V> {
  readonly #map = new Map<K, V>()
  readonly #capacity: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined

  /**
   * @param capacity most entries (≥ 1).
   * @param onEvict called for each entry pushed out by capacity (not for delete/clear).
   */
  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`cacheSize must be a positive integer, got ${capacity}`)
    this.#capacity = capacity
    this.#onEvict = onEvict
  }

  /** The value without touching recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)
  }

  /** Marks `key` most recently used. */
  touch(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
  }

  /** Inserts or replaces, evicting the least recently used entries over capacity. */
  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    while (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next().value as K
      const evicted = this.#map.get(oldest) as V
      this.#map.delete(oldest)
      this.#onEvict?.(oldest, evicted)
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
  }

  get size(): number {
    return this.#map.size
  }
}
