// One direction of one connection, as a byte stream ordered by kernel position.
//
// Records normally arrive in order. A record ahead of the expected position is
// held (copied: batch buffers are reused) until the missing bytes arrive, the
// hold grows past its cap, or it has waited longer than the reorder window;
// then the missing range is declared a gap: counted, and passed on as skipped
// bytes so the decoder resynchronises. Nothing is papered over.

export interface StreamSink {
  data(bytes: Uint8Array, tsNs: number): void;
  /** `length` bytes exist here but their content is unknown (not captured or lost). */
  skip(length: number, tsNs: number): void;
}

export interface StreamCounters {
  gaps: number;
  gapBytes: number;
  /** Records wholly behind the expected position (retransmitted or duplicated). */
  duplicates: number;
  /** Held records dropped because the hold exceeded its byte cap. */
  holdOverflows: number;
  /** Bytes the kernel did not capture on purpose (caps, sendfile). */
  uncapturedBytes: number;
}

interface HeldRecord {
  pos: number;
  len: number;
  payload: Uint8Array;
  tsNs: number;
  heldAtMs: number;
}

export const MAX_HELD_BYTES = 1 << 20;

export class OrderedStream {
  #nextPos = 0;
  readonly #held: HeldRecord[] = [];
  #heldBytes = 0;

  constructor(
    readonly sink: StreamSink,
    readonly counters: StreamCounters,
  ) {}

  get nextPos(): number {
    return this.#nextPos;
  }

  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Records are waiting for earlier bytes. */
  get holding(): boolean {
    return this.#held.length > 0;
  }

  push(pos: number, len: number, payload: Uint8Array, tsNs: number, nowMs: number): void {
    if (pos === this.#nextPos) {
      this.#deliver(pos, len, payload, tsNs);
      if (this.#held.length > 0) this.#drainHeld();
      return;
    }
    if (pos < this.#nextPos) {
      if (pos + len <= this.#nextPos) {
        this.counters.duplicates++;
        return;
      }
      // Overlaps what was delivered: pass on only the new tail.
      const overlap = this.#nextPos - pos;
      const captured = payload.length > overlap ? payload.subarray(overlap) : payload.subarray(0, 0);
      this.#deliver(this.#nextPos, len - overlap, captured, tsNs);
      if (this.#held.length > 0) this.#drainHeld();
      return;
    }
    // A real copy: the batch buffer is reused, and Buffer#slice would be a view of it.
    this.#hold({ pos, len, payload: new Uint8Array(payload), tsNs, heldAtMs: nowMs });
    while (this.#heldBytes > MAX_HELD_BYTES && this.#held.length > 0) {
      this.counters.holdOverflows++;
      this.#gapToFirstHeld();
    }
  }

  /** Declares a gap for records held longer than `windowMs`. */
  expire(nowMs: number, windowMs: number): void {
    while (this.#held.length > 0 && nowMs - this.#held[0]!.heldAtMs >= windowMs) this.#gapToFirstHeld();
  }

  /** Delivers everything held, declaring the gaps between (connection end). */
  flush(): void {
    while (this.#held.length > 0) this.#gapToFirstHeld();
  }

  #deliver(pos: number, len: number, payload: Uint8Array, tsNs: number): void {
    if (payload.length > 0) this.sink.data(payload, tsNs);
    const uncaptured = len - payload.length;
    if (uncaptured > 0) {
      this.counters.uncapturedBytes += uncaptured;
      this.sink.skip(uncaptured, tsNs);
    }
    this.#nextPos = pos + len;
  }

  #hold(record: HeldRecord): void {
    // Keep sorted by position; records are nearly in order, so insert from the back.
    let i = this.#held.length;
    while (i > 0 && this.#held[i - 1]!.pos > record.pos) i--;
    this.#held.splice(i, 0, record);
    this.#heldBytes += record.payload.length;
  }

  #gapToFirstHeld(): void {
    const first = this.#held[0]!;
    if (first.pos > this.#nextPos) {
      const missing = first.pos - this.#nextPos;
      this.counters.gaps++;
      this.counters.gapBytes += missing;
      this.sink.skip(missing, first.tsNs);
      this.#nextPos = first.pos;
    }
    this.#drainHeld();
  }

  #drainHeld(): void {
    while (this.#held.length > 0) {
      const first = this.#held[0]!;
      if (first.pos > this.#nextPos) return;
      this.#held.shift();
      this.#heldBytes -= first.payload.length;
      if (first.pos + first.len <= this.#nextPos) {
        this.counters.duplicates++;
        continue;
      }
      const overlap = this.#nextPos - first.pos;
      this.#deliver(this.#nextPos, first.len - overlap, first.payload.subarray(Math.min(overlap, first.payload.length)), first.tsNs);
    }
  }
}
