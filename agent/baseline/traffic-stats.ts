// What the baseline keeps for one edge or one endpoint: counts, per-minute
// request buckets, latency and response-size sketches, the status-code mix,
// the authorization schemes seen, first/last seen, and the per-window series
// the spike detectors compare with.
import { DDSketch } from './ddsketch.js';
import { WindowSeries, type WindowSeriesOptions } from './robust-stats.js';

/** Per-minute request buckets kept (the last quarter hour). */
export const MINUTE_BUCKETS = 16;
const MAX_TOP_CODES = 8;
const MAX_AUTH_SCHEMES = 4;

export interface StatsOptions {
  series: WindowSeriesOptions;
  relativeAccuracy: number;
  maxSketchBuckets: number;
}

/** One request as the baseline records it. */
export interface RequestSample {
  nowMs: number;
  latencyMs: number;
  /** NaN leaves the size sketch untouched. */
  responseBytes: number;
  /** HTTP status, or undefined when none was seen. */
  status?: number | undefined;
  /** `200`, `404`, `grpc 14`: the key in the top-codes mix. */
  code?: string | undefined;
  error: boolean;
  authScheme?: string | undefined;
}

/** The JSON part of persisted stats (sketches and window history are stored as bytes beside it). */
export interface StatsJson {
  requests: number;
  errors: number;
  statusClasses: number[];
  topCodes: [string, number][];
  authSchemes: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  minuteStart: number;
  minutes: number[];
  baselined: boolean;
}

/**
 * (minute / 60 000) % MINUTE_BUCKETS, for every flow: the minute number is a
 * whole number, and in int32 range the remainder is taken on integers rather
 * than through a floating-point modulo (a C library call).
 */
function minuteSlot(minute: number): number {
  const index = minute / 60_000;
  return index >= 0 && index <= 0x7fffffff ? (index | 0) % MINUTE_BUCKETS : index % MINUTE_BUCKETS;
}

export class TrafficStats {
  requests = 0;
  errors = 0;
  /** Responses by status class: [none, 1xx, 2xx, 3xx, 4xx, 5xx]. */
  readonly statusClasses = [0, 0, 0, 0, 0, 0];
  /** The most frequent codes; codes past the cap count under 'other'. */
  readonly topCodes = new Map<string, number>();
  readonly authSchemes: string[] = [];
  firstSeenMs = 0;
  lastSeenMs = 0;
  readonly latencyMs: DDSketch;
  readonly responseBytes: DDSketch;
  /** Requests per minute: a ring indexed by minute number modulo MINUTE_BUCKETS. */
  // Plain arrays, not typed ones: a small typed array costs ~200 B of overhead, times 100,000 endpoints.
  readonly minutes: number[] = new Array<number>(MINUTE_BUCKETS).fill(0);
  /** The minute (ms) of the newest bucket. */
  minuteStart = 0;
  readonly series: WindowSeries;
  /** Part of the baseline: learnt during a learn window, or accepted. */
  baselined: boolean;
  /** Changed since the last checkpoint. */
  dirty = true;

  constructor(options: StatsOptions, baselined: boolean) {
    this.baselined = baselined;
    this.latencyMs = new DDSketch({ relativeAccuracy: options.relativeAccuracy, maxBuckets: options.maxSketchBuckets });
    this.responseBytes = new DDSketch({ relativeAccuracy: options.relativeAccuracy, maxBuckets: options.maxSketchBuckets });
    this.series = new WindowSeries(options.series);
  }

  record(sample: RequestSample): void {
    const now = sample.nowMs;
    if (this.requests === 0) this.firstSeenMs = now;
    if (now > this.lastSeenMs) this.lastSeenMs = now;
    this.requests++;
    if (sample.error) this.errors++;
    const statusClass = sample.status === undefined ? 0 : Math.floor(sample.status / 100);
    this.statusClasses[statusClass >= 1 && statusClass <= 5 ? statusClass : 0]!++;
    if (sample.code !== undefined) {
      const held = this.topCodes.get(sample.code);
      if (held !== undefined) this.topCodes.set(sample.code, held + 1);
      else if (this.topCodes.size < MAX_TOP_CODES) this.topCodes.set(sample.code, 1);
      else this.topCodes.set('other', (this.topCodes.get('other') ?? 0) + 1);
    }
    if (sample.authScheme !== undefined && !this.authSchemes.includes(sample.authScheme)) {
      if (this.authSchemes.length < MAX_AUTH_SCHEMES) this.authSchemes.push(sample.authScheme);
    }
    this.latencyMs.add(sample.latencyMs);
    this.responseBytes.add(sample.responseBytes);
    this.#countMinute(now);
    this.series.add(now, sample.error, sample.latencyMs);
    this.dirty = true;
  }

  #countMinute(nowMs: number): void {
    const minute = nowMs - (nowMs % 60_000);
    if (minute > this.minuteStart) {
      const steps = Math.min(MINUTE_BUCKETS, this.minuteStart === 0 ? MINUTE_BUCKETS : (minute - this.minuteStart) / 60_000);
      for (let i = 1; i <= steps; i++) this.minutes[((this.minuteStart / 60_000 + i) % MINUTE_BUCKETS) | 0] = 0;
      this.minuteStart = minute;
    }
    if (minute === this.minuteStart) this.minutes[minuteSlot(minute)]!++;
  }

  /** Requests per second over the last full minute and the current one, at `nowMs`. */
  ratePerSecond(nowMs: number): number {
    const minute = nowMs - (nowMs % 60_000);
    if (this.minuteStart === 0 || minute - this.minuteStart > 60_000) return 0;
    const current = minute === this.minuteStart ? this.minutes[(minute / 60_000) % MINUTE_BUCKETS]! : 0;
    const previousMinute = minute / 60_000 - 1;
    const previous = previousMinute * 60_000 <= this.minuteStart ? this.minutes[previousMinute % MINUTE_BUCKETS]! : 0;
    const seconds = 60 + (nowMs - minute) / 1000;
    return (current + previous) / seconds;
  }

  toJson(): StatsJson {
    return {
      requests: this.requests,
      errors: this.errors,
      statusClasses: [...this.statusClasses],
      topCodes: [...this.topCodes],
      authSchemes: [...this.authSchemes],
      firstSeenMs: this.firstSeenMs,
      lastSeenMs: this.lastSeenMs,
      minuteStart: this.minuteStart,
      minutes: [...this.minutes],
      baselined: this.baselined,
    };
  }

  /** Restores persisted figures; fields of the wrong type are left at their defaults. */
  load(json: Partial<StatsJson>, latency?: Uint8Array, size?: Uint8Array, history?: Uint8Array): void {
    if (typeof json.requests === 'number') this.requests = json.requests;
    if (typeof json.errors === 'number') this.errors = json.errors;
    if (Array.isArray(json.statusClasses)) json.statusClasses.slice(0, 6).forEach((n, i) => (this.statusClasses[i] = Number(n) || 0));
    if (Array.isArray(json.topCodes)) {
      for (const [code, n] of json.topCodes.slice(0, MAX_TOP_CODES + 1)) this.topCodes.set(String(code), Number(n) || 0);
    }
    if (Array.isArray(json.authSchemes)) this.authSchemes.push(...json.authSchemes.slice(0, MAX_AUTH_SCHEMES).map(String));
    if (typeof json.firstSeenMs === 'number') this.firstSeenMs = json.firstSeenMs;
    if (typeof json.lastSeenMs === 'number') this.lastSeenMs = json.lastSeenMs;
    if (typeof json.minuteStart === 'number') this.minuteStart = json.minuteStart;
    if (Array.isArray(json.minutes)) json.minutes.slice(0, MINUTE_BUCKETS).forEach((n, i) => (this.minutes[i] = Number(n) || 0));
    if (typeof json.baselined === 'boolean') this.baselined = json.baselined;
    // A sketch kept at another accuracy (the setting changed) starts afresh rather than losing the row.
    const restore = (into: DDSketch, bytes: Uint8Array | undefined): void => {
      const stored = bytes && DDSketch.fromBytes(bytes);
      if (stored && stored.relativeAccuracy === into.relativeAccuracy) into.merge(stored);
    };
    restore(this.latencyMs, latency);
    restore(this.responseBytes, size);
    if (history) this.series.loadHistory(history);
    this.dirty = false;
  }
}
