// The last N published records of one kind, for subscribers asking for `last`.
// A fixed ring: publishing overwrites the oldest entry, never allocates more.

export interface StreamEntry {
  /** Publish order across all kinds. */
  readonly seq: number;
  readonly record: object;
  /** Encoded frames, filled on first use and shared by every subscriber (JSON as UTF-8 bytes: ws sends them as is). */
  json?: Buffer;
  protobuf?: Uint8Array;
}

export class RecordHistory {
  readonly #ring: (StreamEntry | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#ring = new Array<StreamEntry | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(entry: StreamEntry): void {
    if (this.capacity === 0) return;
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Up to `count` newest entries that `matches`, oldest first. */
  lastMatching(count: number, matches: (record: object) => boolean): StreamEntry[] {
    const found: StreamEntry[] = [];
    for (let i = 1; i <= this.#size && found.length < count; i++) {
      const entry = this.#ring[(this.#next - i + this.capacity) % this.capacity]!;
      if (matches(entry.record)) found.push(entry);
    }
    return found.reverse();
  }
}
