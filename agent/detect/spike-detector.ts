// RATE_SPIKE, ERROR_SPIKE and LATENCY_SPIKE: an edge or endpoint departs from
// its own history. The open window's value (requests over a sliding window,
// error ratio, median latency) is compared, once a second, with the median and
// MAD of the learnt windows of the same season. Guards against false alarms:
// a minimum volume in the window, a minimum learnt history, a floor of
// minRatio × median and median + minDelta, and hysteresis (once firing, the
// value must fall below rearmFraction × threshold to stop).
import type { Baseline } from '../baseline/baseline.js';
import { upperBound, WindowMetric, type RobustSummary, type SeasonHistory, type WindowSeries } from '../baseline/robust-stats.js';
import type { TrafficStats } from '../baseline/traffic-stats.js';
import type { AnomalyKind, Severity } from '../schema/flow.js';
import type { Finding } from './finding.js';
import { describeEdge, type ActiveKey, type BaselineDetector } from './baseline-detector.js';
import type { SpikeConfig } from './detector-config.js';

export type SpikeKind = Extract<AnomalyKind, 'RATE_SPIKE' | 'ERROR_SPIKE' | 'LATENCY_SPIKE'>;

interface SpikeMeasure {
  name: string;
  metric: WindowMetric;
  /** The open window's value, or undefined when it cannot be judged yet. */
  value(series: WindowSeries, nowMs: number, config: SpikeConfig): number | undefined;
  describe(value: number, summary: RobustSummary, threshold: number): string;
  format(value: number): string;
  mitre?: string;
}

const measures: Record<SpikeKind, SpikeMeasure> = {
  RATE_SPIKE: {
    name: 'rate-spike',
    metric: WindowMetric.Requests,
    value: (series, nowMs, config) => {
      const requests = series.slidingRequests(nowMs);
      return requests >= config.minRequests ? requests : undefined;
    },
    describe: (v, s, t) => `${Math.round(v)} requests in the last window, usually ${round(s.median)} (threshold ${round(t)})`,
    format: (v) => String(Math.round(v)),
  },
  ERROR_SPIKE: {
    name: 'error-spike',
    metric: WindowMetric.ErrorRatio,
    value: (series, _nowMs, config) => (series.requests >= config.minRequests && series.errors > 0 ? series.errorRatio() : undefined),
    describe: (v, s, t) => `${pct(v)} of requests failing, usually ${pct(s.median)} (threshold ${pct(t)})`,
    format: (v) => pct(v),
  },
  LATENCY_SPIKE: {
    name: 'latency-spike',
    metric: WindowMetric.LatencyMs,
    value: (series, _nowMs, config) => (series.requests >= config.minRequests ? series.latencyMedianMs() : undefined),
    describe: (v, s, t) => `median latency ${round(v)} ms, usually ${round(s.median)} ms (threshold ${round(t)} ms)`,
    format: (v) => `${round(v)} ms`,
  },
};

/** Summaries are recomputed once per closed window, not once per tick. */
const summaryCache = new WeakMap<SeasonHistory, { seen: number; summaries: (RobustSummary | undefined)[] }>();

function cachedSummary(history: SeasonHistory, metric: WindowMetric): RobustSummary {
  let entry = summaryCache.get(history);
  if (!entry || entry.seen !== history.seen) {
    entry = { seen: history.seen, summaries: [] };
    summaryCache.set(history, entry);
  }
  return (entry.summaries[metric] ??= history.summary(metric));
}

export class SpikeDetector implements BaselineDetector {
  readonly name: string;
  readonly #measure: SpikeMeasure;
  readonly #firing = new Map<TrafficStats, ActiveKey>();

  constructor(readonly kind: SpikeKind, readonly config: SpikeConfig) {
    this.#measure = measures[kind];
    this.name = this.#measure.name;
  }

  tick(nowMs: number, active: readonly ActiveKey[], baseline: Baseline): Finding[] | undefined {
    const findings: Finding[] = [];
    const keys = new Map<TrafficStats, ActiveKey>(this.#firing);
    for (const key of active) keys.set(key.endpoint ?? key.edge, key);
    for (const [stats, key] of keys) {
      const finding = this.#judge(stats, key, nowMs, baseline);
      if (finding) findings.push(finding);
    }
    return findings.length > 0 ? findings : undefined;
  }

  #judge(stats: TrafficStats, key: ActiveKey, nowMs: number, baseline: Baseline): Finding | undefined {
    const { edge } = key;
    if (!edge.baselined || !stats.baselined || baseline.edge(edge.key) !== edge) {
      this.#firing.delete(stats);
      return undefined;
    }
    if (baseline.isLearning(edge.source.id, edge.destination.id, nowMs)) return undefined;
    const series = stats.series;
    // A window that ended less than a window ago is still the freshest full
    // view of the key: judge it. Older ones roll, so a key gone quiet stops firing.
    if (nowMs >= series.windowStart + 2 * series.options.windowMs) series.roll(nowMs);
    const history = series.historyFor(series.windowStart);
    if (!history || history.length < this.config.minHistoryWindows) return undefined;
    const value = this.#measure.value(series, nowMs, this.config);
    if (value === undefined || !Number.isFinite(value)) return undefined;
    const summary = cachedSummary(history, this.#measure.metric);
    if (summary.samples < this.config.minHistoryWindows) return undefined;
    const peakFloor = this.#measure.metric === WindowMetric.Requests ? history.peakRequests * this.config.peakRatio : 0;
    const threshold = Math.max(upperBound(summary, this.config.k, this.config.minRatio, this.config.minDelta), peakFloor);
    const firing = this.#firing.has(stats);
    if (value <= (firing ? threshold * this.config.rearmFraction : threshold)) {
      this.#firing.delete(stats);
      return undefined;
    }
    this.#firing.set(stats, key);
    // The window is not normal: keep it out of the history it is judged against.
    series.flagged = true;
    const where = key.endpoint ? `${key.endpoint.name} on ${describeEdge(edge)}` : describeEdge(edge);
    const severity: Severity = value > threshold * 3 ? 'HIGH' : 'MEDIUM';
    return {
      kind: this.kind,
      severity,
      subject: key.endpoint ? `endpoint ${key.endpoint.name}` : 'edge',
      ...(key.endpoint ? { endpoint: key.endpoint.name } : {}),
      summary: `${where}: ${this.#measure.describe(value, summary, threshold)}`,
      details: {
        observed: this.#measure.format(value),
        baselineMedian: this.#measure.format(summary.median),
        baselineMad: String(round(summary.mad)),
        threshold: this.#measure.format(threshold),
        windowRequests: String(series.requests),
        learntWindows: String(summary.samples),
      },
      flow: key.flow,
    };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function pct(n: number): string {
  return `${round(n * 100)}%`;
}
