// Event counts over a sliding window kept in fixed time buckets: constant
// memory per key, and the window total is a sum over a few numbers.

export class RingCounter {
  readonly #bucketMs: number;
  readonly #counts: Float64Array;
  /** Bucket index (time / bucketMs) each slot currently holds. */
  readonly #slotOf: Float64Array;

  constructor(windowMs: number, buckets: number) {
    const n = Math.max(1, Math.floor(buckets));
    this.#bucketMs = Math.max(1, windowMs / n);
    this.#counts = new Float64Array(n);
    this.#slotOf = new Float64Array(n).fill(-1);
  }

  add(nowMs: number, amount = 1): void {
    const bucket = Math.floor(nowMs / this.#bucketMs);
    const slot = bucket % this.#counts.length;
    if (this.#slotOf[slot] !== bucket) {
      this.#slotOf[slot] = bucket;
      this.#counts[slot] = 0;
    }
    this.#counts[slot]! += amount;
  }

  /** The total over the window ending at `nowMs`. */
  total(nowMs: number): number {
    const current = Math.floor(nowMs / this.#bucketMs);
    const oldest = current - this.#counts.length + 1;
    let sum = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      const bucket = this.#slotOf[i]!;
      if (bucket >= oldest && bucket <= current) sum += this.#counts[i]!;
    }
    return sum;
  }
}
