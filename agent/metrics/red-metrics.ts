// RED metrics per edge (rate, errors, duration) for Prometheus, fed one flow at
// a time. Labels stay at workload level so cardinality is bounded by the number
// of services, not by paths, pods or client ports; a hard cap on label sets
// folds anything beyond it into one `_other` series and counts what was folded.
//
// What counts as an error (as in the OpenTelemetry HTTP/RPC conventions for the
// server side): HTTP status ≥ 500, a gRPC status other than OK (0), or no
// response at all. 4xx is the client's mistake, not a failure of the edge, so it
// is a request but not an error; `flowscope_requests_total` carries no status,
// and 4xx bursts are the detectors' business (AUTH_FAILURE_BURST, ENUMERATION).
//
// A call between two processes on this host is seen from both ends. Like
// Istio's and Hubble's `reporter` label, each series says which end reported it
// (`client` or `server`): sum one reporter, never both, to count calls once.
import client from 'prom-client';
import { templatePath } from '../baseline/path-template.js';
import type { Endpoint, Flow } from '../schema/flow.js';

export interface RedMetricsOptions {
  /**
   * Adds `endpoint` (method and templated path, or gRPC service/method) and
   * `source_pod` / `destination_pod` labels. Off by default: these multiply
   * series by the number of routes and pods.
   */
  endpointLabels?: boolean;
  /** Label `destination_port` (the server's port: bounded by the services it exposes). */
  destinationPort?: boolean;
  /** Distinct label sets kept before new ones fold into the `_other` series. */
  maxSeries?: number;
  /** Histogram buckets in seconds. */
  buckets?: number[];
}

export const OVERFLOW_LABEL = '_other';

// Loopback calls take tens of microseconds; remote ones milliseconds to seconds.
const DEFAULT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const BASE_LABELS = [
  'source_workload', 'source_namespace', 'destination_workload', 'destination_namespace', 'protocol', 'tls', 'reporter',
] as const;

/** One label set's figures, kept as plain numbers: a flow costs a key and a few additions. */
interface Series {
  labels: Record<string, string>;
  requests: number;
  errors: number;
  durationSum: number;
  /** Requests per bucket (not cumulative); the last slot is above every bound (+Inf). */
  buckets: number[];
}

/** What a label key is made of (endpoint labels aside), and the series it names. */
interface RecentLabelSet {
  sourceWorkload: string;
  sourceNamespace: string;
  destinationWorkload: string;
  destinationNamespace: string;
  protocol: string;
  tls: boolean;
  observedAt: string;
  port: number;
  series: Series;
}

/** Label sets remembered beside the map: the few busiest edges take most flows. */
const RECENT_LABEL_SETS = 4;

export class RedMetrics {
  readonly #options: Required<Omit<RedMetricsOptions, 'buckets'>>;
  readonly #labelNames: string[];
  readonly #bounds: number[];
  readonly #skipped: client.Counter<string>;
  readonly #series = new Map<string, Series>();
  #overflowSeries: Series | undefined;
  #overflowCount = 0;
  /** The last label sets resolved, compared field by field before any key string is built. */
  readonly #recent: RecentLabelSet[] = [];
  #recentNext = 0;

  constructor(registry: client.Registry, options: RedMetricsOptions = {}) {
    this.#options = {
      endpointLabels: options.endpointLabels ?? false,
      destinationPort: options.destinationPort ?? true,
      maxSeries: options.maxSeries ?? 2000,
    };
    this.#bounds = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    this.#labelNames = [...BASE_LABELS];
    if (this.#options.destinationPort) this.#labelNames.push('destination_port');
    if (this.#options.endpointLabels) this.#labelNames.push('endpoint', 'source_pod', 'destination_pod');
    const registers = [registry];
    const labelNames = this.#labelNames;
    // prom-client hashes the label set on every inc/observe (microseconds a
    // flow); the series here are plain numbers copied out at scrape time.
    const all = (): Series[] => (this.#overflowSeries ? [...this.#series.values(), this.#overflowSeries] : [...this.#series.values()]);
    new client.Counter({
      name: 'flowscope_requests_total', help: 'Requests per edge (completed HTTP exchanges and gRPC calls).', labelNames, registers,
      collect() {
        this.reset();
        for (const series of all()) this.inc(series.labels, series.requests);
      },
    });
    new client.Counter({
      name: 'flowscope_request_errors_total',
      help: 'Failed requests per edge: HTTP status >= 500, gRPC status not OK, or no response (4xx is not an error).',
      labelNames, registers,
      collect() {
        this.reset();
        for (const series of all()) this.inc(series.labels, series.errors);
      },
    });
    registry.registerMetric(new EdgeHistogram(
      'flowscope_request_duration_seconds', 'Request duration per edge, first request byte to last response byte.', this.#bounds, all,
    ) as unknown as client.Metric);
    const overflowCount = (): number => this.#overflowCount;
    new client.Counter({
      name: 'flowscope_red_series_overflow_total',
      help: `Requests counted in the ${OVERFLOW_LABEL} series because the label-set cap was reached.`, registers,
      collect() { this.reset(); this.inc(overflowCount()); },
    });
    this.#skipped = new client.Counter({
      name: 'flowscope_red_flows_skipped_total', help: 'Flows not counted as requests, by reason.', labelNames: ['reason'], registers,
    });
  }

  /** Label sets in use (the overflow series excluded). */
  get seriesCount(): number {
    return this.#series.size;
  }

  observe(flow: Flow): void {
    // A progress record of an open gRPC stream: the call is counted when it ends.
    if (flow.grpc?.inProgress) {
      this.#skipped.inc({ reason: 'in_progress' });
      return;
    }
    const seconds = Number(flow.durationNs) / 1e9;
    if (!Number.isFinite(seconds) || seconds < 0) {
      this.#skipped.inc({ reason: 'bad_duration' });
      return;
    }
    const series = this.#seriesFor(flow);
    series.requests++;
    if (isError(flow)) series.errors++;
    series.durationSum += seconds;
    const bounds = this.#bounds;
    let b = 0;
    while (b < bounds.length && seconds > bounds[b]!) b++;
    series.buckets[b]!++;
  }

  #seriesFor(flow: Flow): Series {
    // Equal parts make an equal key, and series are never dropped, so a remembered one is the one the map holds.
    const recent = this.#options.endpointLabels ? undefined : this.#recentSeries(flow);
    if (recent) return recent;
    const key = this.#labelKey(flow);
    const known = this.#series.get(key);
    if (known) return this.#remember(flow, known);
    if (this.#series.size >= this.#options.maxSeries) {
      this.#overflowCount++;
      this.#overflowSeries ??= this.#newSeries(this.#labelNames.map(() => OVERFLOW_LABEL));
      return this.#overflowSeries;
    }
    const created = this.#newSeries(this.#labelValues(flow));
    this.#series.set(key, created);
    return this.#remember(flow, created);
  }

  #recentSeries(flow: Flow): Series | undefined {
    const s = flow.source;
    const d = flow.destination;
    for (const r of this.#recent) {
      if (
        r.port === d.port && r.observedAt === flow.observedAt && r.protocol === flow.protocol && r.tls === flow.tls &&
        r.sourceWorkload === workloadOf(s) && r.destinationWorkload === workloadOf(d) &&
        r.sourceNamespace === (s.namespace ?? '') && r.destinationNamespace === (d.namespace ?? '')
      ) return r.series;
    }
    return undefined;
  }

  #remember(flow: Flow, series: Series): Series {
    if (this.#options.endpointLabels) return series;
    const s = flow.source;
    const d = flow.destination;
    this.#recent[this.#recentNext] = {
      sourceWorkload: workloadOf(s), sourceNamespace: s.namespace ?? '', destinationWorkload: workloadOf(d),
      destinationNamespace: d.namespace ?? '', protocol: flow.protocol, tls: flow.tls, observedAt: flow.observedAt, port: d.port, series,
    };
    this.#recentNext = (this.#recentNext + 1) % RECENT_LABEL_SETS;
    return series;
  }

  /** A string naming the label set, built without the intermediate arrays (the hot path). */
  #labelKey(flow: Flow): string {
    const s = flow.source;
    const d = flow.destination;
    let key = `${workloadOf(s)}\u0000${s.namespace ?? ''}\u0000${workloadOf(d)}\u0000${d.namespace ?? ''}\u0000${flow.protocol}\u0000${flow.tls}\u0000${flow.observedAt}`;
    if (this.#options.destinationPort) key += `\u0000${d.port}`;
    if (this.#options.endpointLabels) key += `\u0000${endpointOf(flow)}\u0000${s.pod ?? ''}\u0000${d.pod ?? ''}`;
    return key;
  }

  #newSeries(values: string[]): Series {
    const labels = Object.fromEntries(this.#labelNames.map((name, i) => [name, values[i]!]));
    return { labels, requests: 0, errors: 0, durationSum: 0, buckets: new Array<number>(this.#bounds.length + 1).fill(0) };
  }

  /** Label values in the order of #labelNames. */
  #labelValues(flow: Flow): string[] {
    const values = [
      workloadOf(flow.source),
      flow.source.namespace ?? '',
      workloadOf(flow.destination),
      flow.destination.namespace ?? '',
      flow.protocol,
      flow.tls ? 'true' : 'false',
      flow.observedAt === 'SERVER' ? 'server' : 'client',
    ];
    if (this.#options.destinationPort) values.push(String(flow.destination.port));
    if (this.#options.endpointLabels) values.push(endpointOf(flow), flow.source.pod ?? '', flow.destination.pod ?? '');
    return values;
  }
}

/**
 * The duration histogram as prom-client's registry reads a metric: name,
 * help, type and sample values (`_bucket` cumulative with `le`, `_sum`,
 * `_count`), built from the series at scrape time.
 */
class EdgeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: number[],
    readonly series: () => Series[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.requests, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.durationSum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.requests, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics(): the figures belong to RedMetrics, which is never reset. */
  reset(): void {}
}

/** The workload of an end, else its process name; an end with neither is `external`. */
export function workloadOf(end: Endpoint): string {
  return end.workload || end.process || 'external';
}

export function isError(flow: Flow): boolean {
  if (flow.issues?.includes('NO_RESPONSE')) return true;
  if (flow.protocol === 'GRPC' && flow.grpc?.status !== undefined) return flow.grpc.status !== 0;
  return (flow.http.status ?? 0) >= 500;
}

function endpointOf(flow: Flow): string {
  if (flow.grpc) return `${flow.grpc.service}/${flow.grpc.method}`;
  if (flow.http.headersTrusted === false) return '';
  return `${flow.http.method} ${templatePath(flow.http.path).template}`;
}
