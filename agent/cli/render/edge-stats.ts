// Per-edge request rate, error rate and latency over a sliding window, from
// the flow stream (flowscope top). A call seen from both of its ends on one
// host counts once: the server-side copy is skipped when the client is local
// (its pid is known), since the client-side copy is in the stream too. Memory
// is bounded: per-second buckets over the window, a cap on latency samples per
// bucket and on edges.
import type { Flow } from '../../schema/flow.js';
import { formatDurationNs } from '../../filter/units.js';
import { endpointName, isError } from './record-text.js';
import { alignRows, fit, type Style } from './style.js';

/** One second of one edge: counts, and latencies up to a cap (the percentiles' sample). */
interface Bucket {
  second: number;
  requests: number;
  errors: number;
  tls: number;
  latenciesNs: number[];
}

interface Edge {
  source: string;
  destination: string;
  protocol: string;
  buckets: Bucket[];
}

export interface EdgeRow {
  source: string;
  destination: string;
  protocol: string;
  rps: number;
  errorRate: number;
  p50Ns: number;
  p99Ns: number;
  tlsShare: number;
  requests: number;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export class EdgeStats {
  readonly #edges = new Map<string, Edge>();
  #overflow = 0;
  /** Rates over the time actually watched until a whole window has passed. */
  readonly #startMs: number;

  constructor(
    readonly windowMs: number,
    readonly maxLatencySamplesPerSecond = 5_000,
    readonly maxEdges = 5_000,
    nowMs = Date.now(),
  ) {
    this.#startMs = nowMs;
  }

  /** Latencies left out of the percentiles because an edge had more than the cap in one second (counts stay exact). */
  get overflow(): number {
    return this.#overflow;
  }

  add(flow: Flow, nowMs = Date.now()): void {
    if (flow.observedAt === 'SERVER' && flow.source.pid) return;
    if (flow.grpc?.inProgress) return;
    const source = endpointName(flow.source) || flow.source.ip;
    const destination = `${endpointName(flow.destination) || flow.destination.ip}:${flow.destination.port}`;
    const key = `${source}\u0000${destination}\u0000${flow.protocol}`;
    let edge = this.#edges.get(key);
    if (!edge) {
      if (this.#edges.size >= this.maxEdges) return;
      edge = { source, destination, protocol: flow.protocol, buckets: [] };
      this.#edges.set(key, edge);
    }
    const second = Math.floor(nowMs / 1000);
    let bucket = edge.buckets.at(-1);
    if (!bucket || bucket.second !== second) {
      bucket = { second, requests: 0, errors: 0, tls: 0, latenciesNs: [] };
      edge.buckets.push(bucket);
    }
    bucket.requests++;
    if (isError(flow)) bucket.errors++;
    if (flow.tls) bucket.tls++;
    if (bucket.latenciesNs.length < this.maxLatencySamplesPerSecond) bucket.latenciesNs.push(Number(flow.durationNs));
    else this.#overflow++;
  }

  /** Rows for the window ending now, busiest first; edges idle for a whole window are forgotten. */
  rows(nowMs = Date.now()): EdgeRow[] {
    const oldestSecond = Math.floor((nowMs - this.windowMs) / 1000);
    const seconds = Math.max(1000, Math.min(this.windowMs, nowMs - this.#startMs)) / 1000;
    const rows: EdgeRow[] = [];
    for (const [key, edge] of this.#edges) {
      let start = 0;
      while (start < edge.buckets.length && edge.buckets[start]!.second <= oldestSecond) start++;
      if (start > 0) edge.buckets.splice(0, start);
      if (edge.buckets.length === 0) {
        this.#edges.delete(key);
        continue;
      }
      let requests = 0;
      let errors = 0;
      let tls = 0;
      const latencies: number[] = [];
      for (const b of edge.buckets) {
        requests += b.requests;
        errors += b.errors;
        tls += b.tls;
        for (const l of b.latenciesNs) latencies.push(l);
      }
      latencies.sort((a, b) => a - b);
      rows.push({
        source: edge.source, destination: edge.destination, protocol: edge.protocol, requests,
        rps: requests / seconds, errorRate: errors / requests, p50Ns: percentile(latencies, 0.5), p99Ns: percentile(latencies, 0.99), tlsShare: tls / requests,
      });
    }
    return rows.sort((a, b) => b.rps - a.rps || a.source.localeCompare(b.source));
  }
}

export function renderEdgeTable(rows: EdgeRow[], style: Style, maxRows: number): string[] {
  const header = ['SOURCE', 'DESTINATION', 'PROTOCOL', 'RPS', 'ERRORS', 'P50', 'P99', 'TLS'];
  const body = rows.slice(0, maxRows).map((r) => [
    fit(r.source, 40), fit(r.destination, 40), r.protocol, r.rps.toFixed(1), `${(r.errorRate * 100).toFixed(1)}%`,
    formatDurationNs(r.p50Ns), formatDurationNs(r.p99Ns), r.tlsShare === 1 ? 'yes' : r.tlsShare === 0 ? 'no' : `${Math.round(r.tlsShare * 100)}%`,
  ].map((c) => c.trimEnd()));
  const lines = alignRows([header, ...body]);
  // Colour after alignment so escape codes do not skew the columns.
  return lines.map((line, i) => {
    if (i === 0) return style.bold(line);
    const row = rows[i - 1]!;
    return row.errorRate > 0.05 ? style.red(line) : row.errorRate > 0 ? style.yellow(line) : line;
  });
}
