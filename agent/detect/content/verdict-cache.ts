// What a rule set found in a field value, remembered: the same paths, header
// values and (static) bodies come back on flow after flow, and matching them
// again would find the same thing. A verdict depends on the text alone, so a
// remembered one is exactly what matching would return. Bounded: each cache
// starts over when full, and long values are matched every time, never kept.
import { Buffer } from 'node:buffer';

/** Verdicts keyed by short strings (a path, a query, a header value). */
export class TextVerdicts<V> {
  #verdicts = new Map<string, V>();

  constructor(
    readonly maxEntries = 2048,
    /** Longer texts are not kept: hashing them costs about what matching saves. */
    readonly maxLength = 512,
  ) {}

  get(text: string): V | undefined {
    return text.length <= this.maxLength ? this.#verdicts.get(text) : undefined;
  }

  set(text: string, verdict: V): void {
    if (text.length > this.maxLength) return;
    if (this.#verdicts.size >= this.maxEntries) this.#verdicts = new Map();
    this.#verdicts.set(text, verdict);
  }
}

interface BodyEntry<V> {
  bytes: Buffer;
  verdict: V;
}

/**
 * Verdicts keyed by body bytes. A string key would cost a hash over the whole
 * body on every lookup; here the length picks a few candidates and a native
 * byte comparison confirms one, before the body is even turned into text.
 */
export class BodyVerdicts<V> {
  #byLength = new Map<number, BodyEntry<V>[]>();
  #entries = 0;

  constructor(
    readonly maxEntries = 64,
    readonly perLength = 4,
  ) {}

  get(bytes: Uint8Array): V | undefined {
    const candidates = this.#byLength.get(bytes.length);
    if (!candidates) return undefined;
    for (const entry of candidates) if (Buffer.compare(entry.bytes, bytes) === 0) return entry.verdict;
    return undefined;
  }

  /** Keeps a copy of `bytes`: the caller's buffer may be reused. */
  set(bytes: Uint8Array, verdict: V): void {
    if (this.#entries >= this.maxEntries) {
      this.#byLength = new Map();
      this.#entries = 0;
    }
    let candidates = this.#byLength.get(bytes.length);
    if (!candidates) this.#byLength.set(bytes.length, (candidates = []));
    if (candidates.length >= this.perLength) {
      candidates.shift();
      this.#entries--;
    }
    candidates.push({ bytes: Buffer.from(bytes), verdict });
    this.#entries++;
  }
}
