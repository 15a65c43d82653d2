// A Map with a size cap that forgets the least recently touched key first, and
// counts what it forgot: caches and per-source detector state must stay
// bounded however many processes or sources turn up.

export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #cap: number;
  /** Keys forgotten to stay under the cap. */
  evictions = 0;

  constructor(
    cap: number,
    readonly onEvict?: () => void,
  ) {
    this.#cap = Math.max(1, Math.floor(cap));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, marking the key as recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Stores the value as the most recent entry, evicting the oldest past the cap. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#cap) {
      const oldest = this.#entries.keys().next().value as K;
      this.#entries.delete(oldest);
      this.evictions++;
      this.onEvict?.();
    }
  }

  /** The existing value, or a new one made by `create` and stored. */
  getOrCreate(key: K, create: () => V): V {
    const found = this.get(key);
    if (found !== undefined) return found;
    const made = create();
    this.set(key, made);
    return made;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** The least recently touched entry. */
  oldest(): [K, V] | undefined {
    return this.#entries.entries().next().value as [K, V] | undefined;
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }

  values(): IterableIterator<V> {
    return this.#entries.values();
  }
}
