/**
 * A bounded map with least-recently-used eviction. A `Map` keeps insertion
 * order, so recency is kept by re-inserting an entry at the end. To keep cache
 * hits cheap, a hit re-inserts only entries that have fallen into the older
 * three quarters of the order (by an insertion sequence number): entries used
 * recently are not moved again. Eviction is exact LRU up to that granularity.
 */
export class Lru<K, V extends {seq: number}> {
  readonly #map = new Map<K, V>()
  readonly #capacity: number
  readonly #quarter: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined
  #seq = 0

  /**
   * @param capacity most entries (≥ 1).
   * @param onEvict called for each entry pushed out by capacity (not for delete/clear).
   * @throws RangeError when capacity is not a positive integer.
   */
  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`cacheSize must be a positive integer, got ${capacity}`)
    this.#capacity = capacity
    this.#quarter = capacity / 4
    this.#onEvict = onEvict
  }

  /** The value without touching recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)
  }

  /** Marks `key` (holding `value`) recently used. */
  touch(key: K, value: V): void {
    if (this.#seq - value.seq <= this.#quarter) return
    value.seq = ++this.#seq
    this.#map.delete(key)
    this.#map.set(key, value)
  }

  /** Inserts or replaces, evicting the least recently used entries over capacity. */
  set(key: K, value: V): void {
    value.seq = ++this.#seq
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
