// Distinct values seen within a sliding window, bounded: each value remembers
// when it was last seen, entries stay ordered by that time, so expiring the
// window only ever looks at the front. Amortised O(1) per observation.
import { BoundedMap } from '../../bounded-map.js';

export class RecentSet {
  readonly #lastSeen: BoundedMap<string, number>;
  readonly #windowMs: number;

  constructor(windowMs: number, cap: number) {
    this.#windowMs = windowMs;
    this.#lastSeen = new BoundedMap(cap);
  }

  /** Records `value` at `nowMs`; true when it was not already in the window. */
  add(value: string, nowMs: number): boolean {
    this.expire(nowMs);
    const isNew = !this.#lastSeen.has(value);
    this.#lastSeen.set(value, nowMs);
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
    return this.#lastSeen.evictions;
  }

  expire(nowMs: number): void {
    const horizon = nowMs - this.#windowMs;
    for (let oldest = this.#lastSeen.oldest(); oldest && oldest[1] <= horizon; oldest = this.#lastSeen.oldest()) {
      this.#lastSeen.delete(oldest[0]);
    }
  }
}
