// Distinct values seen within a sliding window, bounded: each value remembers
// when it was last seen, entries stay ordered by that time, so expiring the
// window only ever looks at the front. Amortised O(1) per observation. Past
// `cap` values the least recently seen one is forgotten (and counted).
//
// A plain Map rather than BoundedMap: this runs several times per flow, and
// walking the front with one loop allocates nothing per call.

export class RecentSet {
  readonly #lastSeen = new Map<string, number>();
  readonly #windowMs: number;
  readonly #cap: number;
  /** The value set last: it is already the newest entry, so seeing it again moves nothing. */
  #newest: string | undefined;
  #evictions = 0;

  constructor(windowMs: number, cap: number) {
    this.#windowMs = windowMs;
    this.#cap = Math.max(1, Math.floor(cap));
  }

  /** Records `value` at `nowMs`; true when it was not already in the window. */
  add(value: string, nowMs: number): boolean {
    this.expire(nowMs);
    const lastSeen = this.#lastSeen;
    if (value === this.#newest && lastSeen.has(value)) {
      lastSeen.set(value, nowMs);
      return false;
    }
    const isNew = !lastSeen.delete(value);
    lastSeen.set(value, nowMs);
    this.#newest = value;
    if (lastSeen.size > this.#cap) {
      for (const oldest of lastSeen.keys()) {
        lastSeen.delete(oldest);
        break;
      }
      this.#evictions++;
    }
    return isNew;
  }

  /** Distinct values seen within the window ending at `nowMs`. */
  count(nowMs: number): number {
    this.expire(nowMs);
    return this.#lastSeen.size;
  }

  values(): IterableIterator<string> {
    return this.#lastSeen.keys();
  }

  get evictions(): number {
    return this.#evictions;
  }

  expire(nowMs: number): void {
    const horizon = nowMs - this.#windowMs;
    for (const [value, seenMs] of this.#lastSeen) {
      if (seenMs > horizon) return;
      this.#lastSeen.delete(value);
    }
  }
}
