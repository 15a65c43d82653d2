// DDSketch: a quantile sketch with relative-accuracy guarantees. Values fall
// into logarithmic buckets (bucket i holds (γ^(i-1), γ^i], γ = (1+α)/(1-α)), so
// any quantile is returned within α of the true value's magnitude. Sketches with
// the same α merge by adding bucket counts. When the bucket count passes the
// cap, the lowest buckets collapse into one: the high quantiles (p99, the ones
// detectors look at) keep their accuracy.

/** Values at or below this land in the zero bucket (latencies in ns, sizes in bytes: nothing smaller matters). */
const MIN_INDEXABLE = 1e-9;

export interface DDSketchOptions {
  /** Relative accuracy α, e.g. 0.01 for 1 %. */
  relativeAccuracy?: number;
  /** Most buckets kept before the lowest ones collapse. */
  maxBuckets?: number;
}

const EMPTY = new Uint32Array(0);

// The baseline adds each sample to an edge's and an endpoint's sketch, and
// response sizes repeat: the last logarithm is kept rather than taken again.
let lastLogValue = NaN;
let lastLog = NaN;

function logOf(value: number): number {
  if (value !== lastLogValue) {
    lastLogValue = value;
    lastLog = Math.log(value);
  }
  return lastLog;
}
const MAX_COUNT = 0xffffffff;

export class DDSketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly #gamma: number;
  readonly #logGamma: number;
  /**
   * counts[i] (i < #length) belongs to bucket index `#offset + i`. 32-bit
   * counts halve the memory of a hundred thousand sketches; a bucket saturates
   * at 2^32 - 1 rather than wrapping.
   */
  #counts = EMPTY;
  #length = 0;
  #offset = 0;
  #zeroCount = 0;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  /** Times the lowest buckets were collapsed to respect the cap. */
  collapses = 0;

  constructor(options: DDSketchOptions = {}) {
    this.relativeAccuracy = options.relativeAccuracy ?? 0.01;
    if (!(this.relativeAccuracy > 0 && this.relativeAccuracy < 1)) throw new RangeError('relativeAccuracy must be in (0, 1)');
    this.maxBuckets = Math.max(8, options.maxBuckets ?? 2048);
    this.#gamma = (1 + this.relativeAccuracy) / (1 - this.relativeAccuracy);
    this.#logGamma = Math.log(this.#gamma);
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  get min(): number {
    return this.#count === 0 ? NaN : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? NaN : this.#max;
  }

  /** Buckets currently held (memory is proportional to this). */
  get bucketCount(): number {
    return this.#length;
  }

  /** Adds a non-negative value (negative and NaN values are ignored: sizes and durations only). */
  add(value: number, weight = 1): void {
    if (!(value >= 0) || !(weight > 0)) return;
    this.#count += weight;
    this.#sum += value * weight;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (value <= MIN_INDEXABLE) {
      this.#zeroCount += weight;
      return;
    }
    this.#addToBucket(Math.ceil(logOf(value) / this.#logGamma), weight);
  }

  #addToBucket(index: number, weight: number): void {
    if (this.#length === 0) {
      this.#resize(0, 1);
      this.#offset = index;
      this.#bump(0, weight);
      return;
    }
    let at = index - this.#offset;
    if (at >= 0 && at < this.#length) {
      this.#bump(at, weight);
      return;
    }
    if (at < 0) {
      // Below the lowest bucket: a full sketch folds it straight into the lowest bucket.
      if (this.#length >= this.maxBuckets) {
        this.#bump(0, weight);
        this.collapses++;
        return;
      }
      this.#resize(-at, 0);
      this.#offset = index;
      at = 0;
    } else {
      this.#resize(0, at + 1 - this.#length);
    }
    this.#bump(at, weight);
    if (this.#length > this.maxBuckets) this.#collapseLowest(this.#length - this.maxBuckets);
  }

  #bump(at: number, weight: number): void {
    this.#counts[at] = Math.min(MAX_COUNT, this.#counts[at]! + Math.round(weight));
  }

  /** Makes room for `prepend` zero buckets below and `append` above. */
  #resize(prepend: number, append: number): void {
    const length = this.#length + prepend + append;
    if (prepend === 0 && length <= this.#counts.length) {
      this.#length = length;
      return;
    }
    const capacity = Math.max(length, Math.min(this.maxBuckets + 1, Math.ceil(this.#counts.length * 1.5)), 8);
    const grown = new Uint32Array(capacity);
    grown.set(this.#counts.subarray(0, this.#length), prepend);
    this.#counts = grown;
    this.#length = length;
  }

  /** Folds the `n` lowest buckets into the next one up. */
  #collapseLowest(n: number): void {
    const counts = this.#counts;
    let folded = 0;
    for (let i = 0; i < n; i++) folded += counts[i]!;
    counts.copyWithin(0, n, this.#length);
    this.#length -= n;
    counts.fill(0, this.#length);
    this.#bump(0, folded);
    this.#offset += n;
    this.collapses++;
  }

  /** The value at quantile q in [0, 1], within the relative accuracy; NaN when empty. */
  quantile(q: number): number {
    if (this.#count === 0 || !(q >= 0 && q <= 1)) return NaN;
    if (q === 0) return this.#min;
    if (q === 1) return this.#max;
    const rank = q * (this.#count - 1);
    let seen = this.#zeroCount;
    if (rank < seen) return 0;
    const counts = this.#counts;
    for (let i = 0; i < this.#length; i++) {
      seen += counts[i]!;
      if (seen > rank) {
        // The bucket's midpoint in relative terms: 2γ^i / (γ + 1).
        const estimate = (2 * Math.pow(this.#gamma, this.#offset + i)) / (this.#gamma + 1);
        return Math.min(Math.max(estimate, this.#min), this.#max);
      }
    }
    return this.#max;
  }

  /** Adds another sketch's counts into this one (same relative accuracy required). */
  merge(other: DDSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) throw new RangeError('cannot merge sketches of different accuracy');
    if (other.#count === 0) return;
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#zeroCount += other.#zeroCount;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    // Highest first so the array grows upwards once, then collapses at most once.
    for (let i = other.#length - 1; i >= 0; i--) {
      const c = other.#counts[i]!;
      if (c > 0) this.#addToBucket(other.#offset + i, c);
    }
  }

  clear(): void {
    this.#counts = EMPTY;
    this.#length = 0;
    this.#offset = 0;
    this.#zeroCount = 0;
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }

  /**
   * Compact bytes: a header of doubles (α, sum, min, max, zero count), then the
   * offset and bucket counts as zig-zag / unsigned varints. Counts are whole
   * numbers in practice (weights are 1); fractional weights are rounded.
   */
  toBytes(): Uint8Array {
    const out: number[] = [];
    const headerBytes = new Uint8Array(40);
    const view = new DataView(headerBytes.buffer);
    [this.relativeAccuracy, this.#sum, this.#min, this.#max, this.#zeroCount].forEach((v, i) => view.setFloat64(i * 8, v, true));
    writeVarint(out, this.maxBuckets);
    writeVarint(out, zigzag(this.#offset));
    writeVarint(out, this.#length);
    for (let i = 0; i < this.#length; i++) writeVarint(out, this.#counts[i]!);
    const bytes = new Uint8Array(headerBytes.length + out.length);
    bytes.set(headerBytes, 0);
    bytes.set(out, headerBytes.length);
    return bytes;
  }

  /** Reads `toBytes` output; throws a RangeError on malformed bytes. */
  static fromBytes(bytes: Uint8Array): DDSketch {
    if (bytes.length < 40) throw new RangeError('sketch bytes too short');
    // A DataView over the caller's bytes: a Buffer may be a view into a larger pool.
    const view = new DataView(bytes.buffer, bytes.byteOffset, 40);
    const header = [0, 8, 16, 24, 32].map((at) => view.getFloat64(at, true));
    const cursor = { bytes, at: 40 };
    const maxBuckets = readVarint(cursor);
    const sketch = new DDSketch({ relativeAccuracy: header[0]!, maxBuckets });
    sketch.#offset = unzigzag(readVarint(cursor));
    const length = readVarint(cursor);
    if (length > maxBuckets) throw new RangeError('sketch bucket count above its cap');
    let count = header[4]!;
    sketch.#counts = new Uint32Array(length);
    sketch.#length = length;
    for (let i = 0; i < length; i++) {
      const c = Math.min(MAX_COUNT, readVarint(cursor));
      sketch.#counts[i] = c;
      count += c;
    }
    sketch.#sum = header[1]!;
    sketch.#min = count === 0 ? Infinity : header[2]!;
    sketch.#max = count === 0 ? -Infinity : header[3]!;
    sketch.#zeroCount = header[4]!;
    sketch.#count = count;
    return sketch;
  }
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function writeVarint(out: number[], value: number): void {
  let v = Math.max(0, Math.floor(value));
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(cursor: { bytes: Uint8Array; at: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (cursor.at >= cursor.bytes.length) throw new RangeError('sketch bytes truncated');
    const b = cursor.bytes[cursor.at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 0x80;
  }
  throw new RangeError('sketch varint too long');
}
