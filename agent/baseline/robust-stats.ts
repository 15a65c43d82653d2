// Robust statistics for "is this window normal for this edge?": the median and
// the median absolute deviation (MAD) of past per-window values, which a few
// outliers in the history cannot drag around the way a mean and a standard
// deviation can. Windows are fixed-length (10 s by default) and their values
// are kept per season. Seasonality-ready: the season of a window is its hour of
// the week when `seasonality` is 'hour-of-week'; the default 'none' puts every
// window in season 0, because a learn window shorter than a week cannot fill
// 168 seasons. The model stores a history per season either way.

/** Scales the MAD to a standard deviation for normally distributed values. */
export const MAD_TO_SIGMA = 1.4826;

/** Median of the finite values in `values[0..length)`; NaN when there are none. `scratch` is reused. */
export function median(values: ArrayLike<number>, length = values.length, scratch: number[] = []): number {
  scratch.length = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) scratch.push(v);
  }
  if (scratch.length === 0) return NaN;
  scratch.sort((a, b) => a - b);
  const mid = scratch.length >> 1;
  return scratch.length % 2 === 1 ? scratch[mid]! : (scratch[mid - 1]! + scratch[mid]!) / 2;
}

export interface RobustSummary {
  median: number;
  /** Raw median absolute deviation (multiply by MAD_TO_SIGMA for a sigma). */
  mad: number;
  /** Finite values behind the figures. */
  samples: number;
}

/** Median and MAD of the finite values. */
export function robustSummary(values: ArrayLike<number>, length = values.length): RobustSummary {
  const scratch: number[] = [];
  const m = median(values, length, scratch);
  const samples = scratch.length;
  if (samples === 0) return { median: NaN, mad: NaN, samples: 0 };
  const deviations = scratch.map((v) => Math.abs(v - m));
  return { median: m, mad: median(deviations), samples };
}

/**
 * Upper bound of the normal range: median + k·σ (σ from the MAD), never below
 * median × minRatio nor median + minDelta, so a perfectly steady history
 * (MAD 0) does not turn the smallest wobble into an alarm.
 */
export function upperBound(summary: RobustSummary, k: number, minRatio: number, minDelta: number): number {
  const spread = k * MAD_TO_SIGMA * summary.mad;
  return Math.max(summary.median + spread, summary.median * minRatio, summary.median + minDelta);
}

export type Seasonality = 'none' | 'hour-of-week';

/** The season a window belongs to: 0..167 (hour of the week, UTC) or 0. */
export function seasonOf(startMs: number, seasonality: Seasonality): number {
  if (seasonality === 'none') return 0;
  // 1970-01-01 was a Thursday; shift so that Monday 00:00 UTC is hour 0.
  const hours = Math.floor(startMs / 3_600_000) + 72;
  return ((hours % 168) + 168) % 168;
}

/** Metrics kept per closed window. */
export const WINDOW_METRICS = 3;
export const WindowMetric = {
  Requests: 0,
  /** Errors / requests; NaN for a window without requests. */
  ErrorRatio: 1,
  /** Median latency of the window in ms; NaN without requests. */
  LatencyMs: 2,
} as const;
export type WindowMetric = (typeof WindowMetric)[keyof typeof WindowMetric];

/**
 * The history of one season: a ring of closed windows, three floats each. When
 * the ring is full, reservoir sampling keeps a uniform sample of every window
 * the season ever had, so a 24 h learn window is represented as a whole and
 * not only by its last minutes.
 */
export class SeasonHistory {
  /** Grows up to capacity × WINDOW_METRICS floats: most keys never fill a ring. */
  values: Float32Array;
  /** Windows held (≤ capacity). */
  length = 0;
  /** Windows ever offered. */
  seen = 0;
  /**
   * Most requests any window of the season had, sample or not: periodic bursts
   * (a batch job every five minutes) have a median of zero, and their peak is
   * what tells the next burst is normal.
   */
  peakRequests = 0;

  constructor(readonly capacity: number) {
    this.values = new Float32Array(Math.min(8, Math.max(1, capacity)) * WINDOW_METRICS);
  }

  add(requests: number, errorRatio: number, latencyMs: number, random: () => number = Math.random): void {
    this.seen++;
    if (requests > this.peakRequests) this.peakRequests = requests;
    let slot: number;
    if (this.length < this.capacity) {
      slot = this.length++;
      if (this.length * WINDOW_METRICS > this.values.length) this.#grow(this.length);
    } else {
      slot = Math.floor(random() * this.seen);
      if (slot >= this.capacity) return;
    }
    const at = slot * WINDOW_METRICS;
    this.values[at + WindowMetric.Requests] = requests;
    this.values[at + WindowMetric.ErrorRatio] = errorRatio;
    this.values[at + WindowMetric.LatencyMs] = latencyMs;
  }

  #grow(windows: number): void {
    const capacity = Math.min(this.capacity, Math.max(windows, (this.values.length / WINDOW_METRICS) * 2));
    const grown = new Float32Array(capacity * WINDOW_METRICS);
    grown.set(this.values);
    this.values = grown;
  }

  /** Restores `length` windows from floats in window order (persistence). */
  restore(seen: number, floats: Float32Array): void {
    const length = Math.min(this.capacity, Math.floor(floats.length / WINDOW_METRICS));
    this.values = new Float32Array(Math.max(length, 1) * WINDOW_METRICS);
    this.values.set(floats.subarray(0, length * WINDOW_METRICS));
    this.length = length;
    this.seen = Math.max(seen, length);
  }

  summary(metric: WindowMetric): RobustSummary {
    const column = new Float64Array(this.length);
    for (let i = 0; i < this.length; i++) column[i] = this.values[i * WINDOW_METRICS + metric]!;
    return robustSummary(column);
  }
}

/** Bytes before each season's floats: season, seen, length, peak requests. */
const HISTORY_HEADER = 16;

/** Latency samples kept per open window for its median. */
const WINDOW_LATENCY_SAMPLES = 16;

export interface WindowSeriesOptions {
  windowMs: number;
  historyCapacity: number;
  seasonality: Seasonality;
}

/**
 * Per-window counters of one edge or endpoint, and the history of closed
 * windows per season. The open window is what spike detectors compare with the
 * history.
 */
export class WindowSeries {
  /** Start of the open window (ms, a multiple of windowMs); 0 before the first value. */
  windowStart = 0;
  requests = 0;
  errors = 0;
  /** Requests of the window before the open one (0 when that window was empty). */
  previousRequests = 0;
  /** Latency ring of the open window (ms): the last samples, for its median. */
  readonly #latencies: number[] = [];
  #latencyCount = 0;
  /** A detector flagged the open window: it does not enter the history. */
  flagged = false;
  /** History per season, indexed by season (one slot without seasonality). */
  readonly seasons: (SeasonHistory | undefined)[] = [];

  constructor(readonly options: WindowSeriesOptions) {}

  /** Records one request; rolls the window first when `nowMs` is past it. */
  add(nowMs: number, error: boolean, latencyMs: number): void {
    this.roll(nowMs);
    this.requests++;
    if (error) this.errors++;
    if (latencyMs >= 0) this.#latencies[this.#latencyCount++ % WINDOW_LATENCY_SAMPLES] = latencyMs;
  }

  /** Closes the open window (and the empty ones after it) when `nowMs` is past it. */
  roll(nowMs: number): void {
    const { windowMs } = this.options;
    const start = nowMs - (nowMs % windowMs);
    if (this.windowStart === 0) {
      this.windowStart = start;
      return;
    }
    if (start <= this.windowStart) return;
    if (!this.flagged) this.#history(this.windowStart).add(this.requests, this.errorRatio(), this.latencyMedianMs());
    // Windows without traffic count as zero requests (bounded: at most a ring's worth).
    const empty = Math.min((start - this.windowStart) / windowMs - 1, this.options.historyCapacity);
    for (let i = 1; i <= empty; i++) this.#history(this.windowStart + i * windowMs).add(0, NaN, NaN);
    this.previousRequests = empty === 0 ? this.requests : 0;
    this.windowStart = start;
    this.requests = 0;
    this.errors = 0;
    this.#latencyCount = 0;
    this.flagged = false;
  }

  errorRatio(): number {
    return this.requests === 0 ? NaN : this.errors / this.requests;
  }

  latencyMedianMs(): number {
    return median(this.#latencies, Math.min(this.#latencyCount, WINDOW_LATENCY_SAMPLES));
  }

  /** Fraction of the open window elapsed at `nowMs` (0..1). */
  elapsed(nowMs: number): number {
    return Math.min(1, Math.max(0, (nowMs - this.windowStart) / this.options.windowMs));
  }

  /**
   * Requests over the last window length, sliding: the open window plus the
   * share of the previous one still inside it, so a sustained burst does not
   * drop to nothing each time a window closes.
   */
  slidingRequests(nowMs: number): number {
    return this.requests + this.previousRequests * (1 - this.elapsed(nowMs));
  }

  /** The history the window starting at `startMs` compares with. */
  historyFor(startMs: number): SeasonHistory | undefined {
    return this.seasons[seasonOf(startMs, this.options.seasonality)];
  }

  #history(startMs: number): SeasonHistory {
    const season = seasonOf(startMs, this.options.seasonality);
    return (this.seasons[season] ??= new SeasonHistory(this.options.historyCapacity));
  }

  /** History as bytes: per season, its index, seen, length, peak and the floats. */
  historyBytes(): Uint8Array {
    let size = 0;
    for (const h of this.seasons) if (h) size += HISTORY_HEADER + h.length * WINDOW_METRICS * 4;
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    let at = 0;
    for (let season = 0; season < this.seasons.length; season++) {
      const h = this.seasons[season];
      if (!h) continue;
      view.setUint32(at, season, true);
      view.setUint32(at + 4, Math.min(h.seen, 0xffffffff), true);
      view.setUint32(at + 8, h.length, true);
      view.setFloat32(at + 12, h.peakRequests, true);
      at += HISTORY_HEADER;
      const floats = h.length * WINDOW_METRICS;
      for (let i = 0; i < floats; i++, at += 4) view.setFloat32(at, h.values[i]!, true);
    }
    return bytes;
  }

  /** Restores `historyBytes` output; malformed bytes restore nothing. */
  loadHistory(bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const restored = new Map<number, SeasonHistory>();
    let at = 0;
    while (at + HISTORY_HEADER <= bytes.length) {
      const season = view.getUint32(at, true);
      const seen = view.getUint32(at + 4, true);
      const length = view.getUint32(at + 8, true);
      const peak = view.getFloat32(at + 12, true);
      at += HISTORY_HEADER;
      if (season > 167 || length > this.options.historyCapacity || at + length * WINDOW_METRICS * 4 > bytes.length) return;
      const floats = new Float32Array(length * WINDOW_METRICS);
      for (let i = 0; i < floats.length; i++, at += 4) floats[i] = view.getFloat32(at, true);
      const h = new SeasonHistory(this.options.historyCapacity);
      h.restore(seen, floats);
      h.peakRequests = Number.isFinite(peak) && peak > 0 ? peak : 0;
      restored.set(season, h);
    }
    for (const [season, h] of restored) this.seasons[season] = h;
  }
}
