// The live baseline: a graph of workloads whose edges are (source, destination,
// destination port, protocol, tls), each edge holding its endpoints, and both
// keeping traffic statistics. It learns for a window, then detectors compare
// against it. Bounded: edges, endpoints in total and endpoints per edge have
// caps; evictions and overflow are counted. Persisted to SQLite when a path is
// given (see baseline-db.ts).
import { headerValue } from '../../decoders/message.js';
import type { Exchange } from '../flows/exchange.js';
import type { Flow, Protocol } from '../schema/flow.js';
import { BaselineDb, type AnomalyRow, type EdgeRow, type EndpointRow } from './baseline-db.js';
import { NodeInterner, type GraphNode } from './graph-node.js';
import type { Seasonality } from './robust-stats.js';
import { TrafficStats, type RequestSample, type StatsOptions } from './traffic-stats.js';

export interface BaselineOptions {
  /** How long the baseline learns before detection starts (default 24 h). */
  learnWindowMs?: number;
  /** How long a relearnt workload learns again (default: learnWindowMs). */
  relearnWindowMs?: number;
  /** Length of the windows spike statistics are computed over (default: defaultWindowMs; kept across restarts). */
  windowMs?: number;
  /** Closed windows kept per season for an edge (default 64) and an endpoint (default 32). */
  edgeHistory?: number;
  endpointHistory?: number;
  seasonality?: Seasonality;
  maxEdges?: number;
  maxEndpoints?: number;
  maxEndpointsPerEdge?: number;
  /** DDSketch relative accuracy and bucket cap for edges (default 1 %, 512)… */
  sketchAccuracy?: number;
  maxSketchBuckets?: number;
  /** …and for endpoints, a hundred thousand of them at the cap (default 2 %, 128). */
  endpointSketchAccuracy?: number;
  endpointMaxSketchBuckets?: number;
  /** SQLite file; absent keeps the baseline in memory only. */
  dbPath?: string;
  /** Checkpoint period for dirty edges and endpoints (default 2 s). */
  checkpointIntervalMs?: number;
  /** Wall clock (ms); tests pass their own. */
  now?: () => number;
}

/** What changed among the anomalies since the last checkpoint; `written` runs once it is on disk. */
export type AnomalySource = () => { rows: AnomalyRow[]; deleted: string[]; written(): void };

/** Endpoints past the per-edge cap are counted here. */
export const OVERFLOW_ENDPOINT = '{other}';

export class EndpointStats extends TrafficStats {
  constructor(readonly edge: EdgeStats, readonly name: string, options: StatsOptions, baselined: boolean) {
    super(options, baselined);
  }
}

export class EdgeStats extends TrafficStats {
  readonly endpoints = new Map<string, EndpointStats>();
  /** Requests whose endpoint fell past the per-edge cap (counted under OVERFLOW_ENDPOINT). */
  endpointOverflow = 0;

  constructor(
    readonly key: string,
    readonly source: GraphNode,
    readonly destination: GraphNode,
    readonly port: number,
    readonly protocol: Protocol,
    readonly tls: boolean,
    options: StatsOptions,
    baselined: boolean,
  ) {
    super(options, baselined);
  }
}

/** Where one flow lands in the graph, resolved before it is recorded. */
export interface BaselineLookup {
  source: GraphNode;
  destination: GraphNode;
  port: number;
  protocol: Protocol;
  tls: boolean;
  edgeKey: string;
  edge?: EdgeStats | undefined;
  /** The endpoint name after the per-edge cap (OVERFLOW_ENDPOINT past it). */
  endpointName: string;
  endpoint?: EndpointStats | undefined;
  /** Either end is still learning (global learn window or a relearn). */
  learning: boolean;
}

export interface BaselineCounters {
  edgeEvictions: number;
  endpointEvictions: number;
  endpointOverflow: number;
  /** Persisted rows that could not be read back (skipped). */
  loadErrors: number;
  checkpoints: number;
  checkpointErrors: number;
}

export type BaselineMode = 'learn' | 'detect';

export function edgeKey(source: string, destination: string, port: number, protocol: Protocol, tls: boolean): string {
  return `${source}\u001f${destination}\u001f${port}\u001f${protocol}\u001f${tls ? 1 : 0}`;
}

const PROTOCOL_SLOTS: Record<string, number> = { HTTP1: 0, HTTP2: 1, GRPC: 2 };

/** (port, protocol, tls) as one number: the innermost key of the edge index. */
function slotOf(port: number, protocol: Protocol, tls: boolean): number {
  return port * 8 + (PROTOCOL_SLOTS[protocol] ?? 3) * 2 + (tls ? 1 : 0);
}

// Code names made once: the hot path does not build a string per flow.
const HTTP_CODE_NAMES = Array.from({ length: 600 }, (_, i) => String(i));
const GRPC_CODE_NAMES = Array.from({ length: 17 }, (_, i) => `grpc ${i}`);

function codeName(names: string[], code: number, prefix: string): string {
  return names[code] ?? `${prefix}${code}`;
}

const GRPC_SERVER_ERRORS = new Set([2, 4, 8, 13, 14, 15]);

/** A server-side failure: HTTP 5xx, or a gRPC status that means the server failed. */
export function isErrorFlow(flow: Flow): boolean {
  if (flow.grpc?.status !== undefined) return GRPC_SERVER_ERRORS.has(flow.grpc.status);
  return (flow.http.status ?? 0) >= 500;
}

/** Registered and common Authorization schemes, by lower-case name. Anything else is 'other'. */
const AUTH_SCHEMES = new Map(
  ['Basic', 'Bearer', 'Digest', 'Negotiate', 'NTLM', 'AWS4-HMAC-SHA256', 'HOBA', 'Mutual', 'VAPID', 'SCRAM-SHA-1', 'SCRAM-SHA-256',
    'DPoP', 'GNAP', 'PrivateToken', 'Token', 'ApiKey', 'OAuth', 'Hawk', 'Signature'].map((s) => [s.toLowerCase(), s]),
);

/**
 * `Bearer`, `Basic`, …: the scheme of the Authorization header, never its
 * value. Only known names are kept: a header holding a bare token must not
 * leave that token behind as a "scheme".
 */
export function authSchemeOf(exchange: Exchange): string | undefined {
  const value = headerValue(exchange.request.headers, 'authorization');
  if (value === undefined) return undefined;
  // The two schemes nearly all traffic uses, without building strings.
  if (value.startsWith('Bearer ')) return 'Bearer';
  if (value.startsWith('Basic ')) return 'Basic';
  const scheme = value.trimStart().split(/\s/, 1)[0] ?? '';
  return AUTH_SCHEMES.get(scheme.toLowerCase()) ?? 'other';
}

/**
 * Spike statistics need enough learnt windows: windows of 10 s, shortened (to
 * no less than 1 s) so that a short learn window still holds about 30 of them.
 */
export function defaultWindowMs(learnWindowMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.floor(learnWindowMs / 30 / 1000) * 1000));
}

export class Baseline {
  readonly counters: BaselineCounters = {
    edgeEvictions: 0, endpointEvictions: 0, endpointOverflow: 0, loadErrors: 0, checkpoints: 0, checkpointErrors: 0,
  };
  readonly #edges = new Map<string, EdgeStats>();
  /** source node → destination node → slotOf(port, protocol, tls) → edge: no string building per flow. */
  readonly #index = new Map<GraphNode, Map<GraphNode, Map<number, EdgeStats>>>();
  readonly #nodes = new NodeInterner();
  #endpointCount = 0;
  /** Node id → end of its relearn window. */
  readonly #relearn = new Map<string, number>();
  #learnUntilMs: number;
  readonly #options: Required<Omit<BaselineOptions, 'dbPath' | 'now'>>;
  readonly #edgeStatsOptions: StatsOptions;
  readonly #endpointStatsOptions: StatsOptions;
  readonly #now: () => number;
  readonly #db: BaselineDb | undefined;
  readonly #deletedEdges = new Set<string>();
  readonly #deletedEndpoints: [string, string][] = [];
  #metaDirty = false;
  #timer: NodeJS.Timeout | undefined;
  #anomalySource: AnomalySource | undefined;
  /** Anomalies the database held at start, for the engine to take back. */
  readonly storedAnomalies: AnomalyRow[] = [];

  constructor(options: BaselineOptions = {}) {
    this.#now = options.now ?? Date.now;
    const learnWindowMs = options.learnWindowMs ?? 86_400_000;
    this.#db = options.dbPath ? new BaselineDb(options.dbPath) : undefined;
    const meta = this.#db?.readMeta() ?? new Map<string, string>();
    // Histories hold per-window counts: a restart keeps the window length they were made with.
    const storedWindowMs = Number(meta.get('window_ms'));
    this.#options = {
      learnWindowMs,
      relearnWindowMs: options.relearnWindowMs ?? learnWindowMs,
      windowMs: storedWindowMs > 0 ? storedWindowMs : options.windowMs ?? defaultWindowMs(learnWindowMs),
      edgeHistory: options.edgeHistory ?? 64,
      endpointHistory: options.endpointHistory ?? 32,
      seasonality: options.seasonality ?? 'none',
      maxEdges: options.maxEdges ?? 10_000,
      maxEndpoints: options.maxEndpoints ?? 100_000,
      maxEndpointsPerEdge: options.maxEndpointsPerEdge ?? 256,
      sketchAccuracy: options.sketchAccuracy ?? 0.01,
      maxSketchBuckets: options.maxSketchBuckets ?? 512,
      endpointSketchAccuracy: options.endpointSketchAccuracy ?? 0.02,
      endpointMaxSketchBuckets: options.endpointMaxSketchBuckets ?? 128,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 2000,
    };
    const o = this.#options;
    const statsOptions = (historyCapacity: number, relativeAccuracy: number, maxSketchBuckets: number): StatsOptions => ({
      series: { windowMs: o.windowMs, historyCapacity, seasonality: o.seasonality },
      relativeAccuracy,
      maxSketchBuckets,
    });
    this.#edgeStatsOptions = statsOptions(o.edgeHistory, o.sketchAccuracy, o.maxSketchBuckets);
    this.#endpointStatsOptions = statsOptions(o.endpointHistory, o.endpointSketchAccuracy, o.endpointMaxSketchBuckets);
    this.#learnUntilMs = this.#now() + learnWindowMs;
    this.#metaDirty = true;
    if (this.#db) {
      this.#load(this.#db, meta);
      this.storedAnomalies.push(...this.#db.readAnomalies());
      this.#timer = setInterval(() => this.checkpoint(), this.#options.checkpointIntervalMs);
      this.#timer.unref();
    }
  }

  get windowMs(): number {
    return this.#options.windowMs;
  }

  get edgeCount(): number {
    return this.#edges.size;
  }

  get endpointCount(): number {
    return this.#endpointCount;
  }

  /** The global mode and the end of the learn window (kept across restarts). */
  mode(nowMs = this.#now()): { mode: BaselineMode; learnUntilMs: number; relearning: Record<string, number> } {
    const relearning: Record<string, number> = {};
    for (const [node, until] of this.#relearn) if (until > nowMs) relearning[node] = until;
    return { mode: nowMs < this.#learnUntilMs ? 'learn' : 'detect', learnUntilMs: this.#learnUntilMs, relearning };
  }

  /** True while the global window or a relearn of either node is open. */
  isLearning(sourceId: string, destinationId: string, nowMs: number): boolean {
    if (nowMs < this.#learnUntilMs) return true;
    if (this.#relearn.size === 0) return false;
    return (this.#relearn.get(sourceId) ?? 0) > nowMs || (this.#relearn.get(destinationId) ?? 0) > nowMs;
  }

  /** Resolves a flow to its edge and endpoint as they are now (nothing is created). */
  lookup(flow: Flow, endpoint: string, nowMs: number): BaselineLookup {
    const source = this.#nodes.nodeFor(flow.source);
    const destination = this.#nodes.nodeFor(flow.destination);
    const port = flow.destination.port;
    const edge = this.#index.get(source)?.get(destination)?.get(slotOf(port, flow.protocol, flow.tls));
    const key = edge ? edge.key : edgeKey(source.id, destination.id, port, flow.protocol, flow.tls);
    let endpointName = endpoint;
    let endpointStats = edge?.endpoints.get(endpoint);
    if (edge && !endpointStats && edge.endpoints.size >= this.#options.maxEndpointsPerEdge) {
      endpointName = OVERFLOW_ENDPOINT;
      endpointStats = edge.endpoints.get(OVERFLOW_ENDPOINT);
    }
    // No object spread here: this runs for every flow.
    return {
      source, destination, port, protocol: flow.protocol, tls: flow.tls, edgeKey: key, edge, endpointName,
      endpoint: endpointStats, learning: this.isLearning(source.id, destination.id, nowMs),
    };
  }

  /** Edges on the same (source, destination, port) as the lookup, whatever their protocol/TLS. */
  routeEdges(lookup: BaselineLookup): readonly EdgeStats[] {
    const edges = this.#index.get(lookup.source)?.get(lookup.destination);
    if (!edges) return [];
    const onRoute: EdgeStats[] = [];
    for (const edge of edges.values()) if (edge.port === lookup.port) onRoute.push(edge);
    return onRoute;
  }

  /** Records one request on its edge and endpoint, creating them (within the caps) when new. */
  record(lookup: BaselineLookup, sample: RequestSample): void {
    let edge = lookup.edge ?? this.#edges.get(lookup.edgeKey);
    if (!edge) {
      edge = this.#createEdge(lookup);
      if (!edge) return;
      lookup.edge = edge;
    }
    edge.record(sample);
    let endpoint = lookup.endpoint ?? edge.endpoints.get(lookup.endpointName);
    if (!endpoint) {
      endpoint = this.#createEndpoint(edge, lookup.endpointName, lookup.learning);
      lookup.endpoint = endpoint;
    }
    if (endpoint.name === OVERFLOW_ENDPOINT) {
      edge.endpointOverflow++;
      this.counters.endpointOverflow++;
    }
    endpoint.record(sample);
  }

  /** Builds the sample the baseline records for a flow. */
  /**
   * Builds the sample the baseline records for a flow. `into` is filled and
   * returned when given: the hot path reuses one object instead of making
   * garbage per flow (record() keeps nothing of it).
   */
  static sampleOf(flow: Flow, exchange: Exchange, nowMs: number, into?: RequestSample): RequestSample {
    const sample = into ?? { nowMs: 0, latencyMs: 0, responseBytes: 0, error: false };
    const grpcStatus = flow.grpc?.status;
    const status = flow.http.status;
    sample.nowMs = nowMs;
    sample.latencyMs = Number(flow.durationNs) / 1e6;
    sample.responseBytes = Number(flow.http.responseBytes) || 0;
    sample.status = status;
    sample.code = grpcStatus !== undefined ? codeName(GRPC_CODE_NAMES, grpcStatus, 'grpc ') : status !== undefined ? codeName(HTTP_CODE_NAMES, status, '') : undefined;
    sample.error = isErrorFlow(flow);
    sample.authScheme = authSchemeOf(exchange);
    return sample;
  }

  #createEdge(lookup: BaselineLookup): EdgeStats | undefined {
    if (this.#edges.size >= this.#options.maxEdges) this.#evictEdges();
    if (this.#edges.size >= this.#options.maxEdges) return undefined;
    if (this.#nodes.full) this.#nodes.prune(this.#liveNodes());
    const edge = new EdgeStats(
      lookup.edgeKey, lookup.source, lookup.destination, lookup.port, lookup.protocol, lookup.tls,
      this.#edgeStatsOptions, lookup.learning,
    );
    this.#addEdge(edge);
    return edge;
  }

  #addEdge(edge: EdgeStats): void {
    this.#edges.set(edge.key, edge);
    let byDestination = this.#index.get(edge.source);
    if (!byDestination) this.#index.set(edge.source, (byDestination = new Map()));
    let slots = byDestination.get(edge.destination);
    if (!slots) byDestination.set(edge.destination, (slots = new Map()));
    slots.set(slotOf(edge.port, edge.protocol, edge.tls), edge);
  }

  #createEndpoint(edge: EdgeStats, name: string, learning: boolean): EndpointStats {
    if (this.#endpointCount >= this.#options.maxEndpoints) this.#evictEndpoints(edge);
    const endpoint = new EndpointStats(edge, name, this.#endpointStatsOptions, learning);
    edge.endpoints.set(name, endpoint);
    this.#endpointCount++;
    return endpoint;
  }

  /**
   * Drops the least recently seen 1 % of edges, edges outside the baseline
   * first: evicting a learnt edge would make its next call look new.
   */
  #evictEdges(): void {
    const victims = [...this.#edges.values()]
      .sort((a, b) => Number(a.baselined) - Number(b.baselined) || a.lastSeenMs - b.lastSeenMs)
      .slice(0, Math.max(1, Math.ceil(this.#edges.size / 100)));
    for (const edge of victims) {
      this.#removeEdge(edge);
      this.counters.edgeEvictions++;
    }
  }

  #evictEndpoints(keep: EdgeStats): void {
    const all: EndpointStats[] = [];
    for (const edge of this.#edges.values()) for (const e of edge.endpoints.values()) all.push(e);
    const victims = all
      .filter((e) => e.edge !== keep || e.name !== OVERFLOW_ENDPOINT)
      .sort((a, b) => Number(a.baselined) - Number(b.baselined) || a.lastSeenMs - b.lastSeenMs)
      .slice(0, Math.max(1, Math.ceil(all.length / 100)));
    for (const endpoint of victims) {
      endpoint.edge.endpoints.delete(endpoint.name);
      this.#endpointCount--;
      this.#deletedEndpoints.push([endpoint.edge.key, endpoint.name]);
      this.counters.endpointEvictions++;
    }
  }

  #removeEdge(edge: EdgeStats): void {
    this.#edges.delete(edge.key);
    this.#endpointCount -= edge.endpoints.size;
    const byDestination = this.#index.get(edge.source);
    const slots = byDestination?.get(edge.destination);
    slots?.delete(slotOf(edge.port, edge.protocol, edge.tls));
    if (slots?.size === 0) byDestination!.delete(edge.destination);
    if (byDestination?.size === 0) this.#index.delete(edge.source);
    this.#deletedEdges.add(edge.key);
  }

  *#liveNodes(): Generator<GraphNode> {
    for (const edge of this.#edges.values()) {
      yield edge.source;
      yield edge.destination;
    }
  }

  /**
   * Drops every edge touching the workload (node id, or workload name) and lets
   * its edges learn again for the relearn window. Returns the edges dropped.
   */
  relearn(workload: string, nowMs = this.#now()): { nodes: string[]; droppedEdges: number; learnUntilMs: number } {
    const nodes = new Set<string>();
    for (const edge of this.#edges.values()) {
      for (const node of [edge.source, edge.destination]) if (node.id === workload || node.workload === workload) nodes.add(node.id);
    }
    if (nodes.size === 0) nodes.add(workload);
    let droppedEdges = 0;
    for (const edge of [...this.#edges.values()]) {
      if (nodes.has(edge.source.id) || nodes.has(edge.destination.id)) {
        this.#removeEdge(edge);
        droppedEdges++;
      }
    }
    const learnUntilMs = nowMs + this.#options.relearnWindowMs;
    for (const node of nodes) this.#relearn.set(node, learnUntilMs);
    this.#metaDirty = true;
    return { nodes: [...nodes], droppedEdges, learnUntilMs };
  }

  /** Puts an edge (and an endpoint on it) into the baseline. False when the edge is not known. */
  accept(key: string, endpoint?: string): boolean {
    const edge = this.#edges.get(key);
    if (!edge) return false;
    edge.baselined = true;
    edge.dirty = true;
    const stats = endpoint === undefined ? undefined : edge.endpoints.get(endpoint);
    if (stats) {
      stats.baselined = true;
      stats.dirty = true;
    }
    return true;
  }

  edge(key: string): EdgeStats | undefined {
    return this.#edges.get(key);
  }

  edges(): IterableIterator<EdgeStats> {
    return this.#edges.values();
  }

  #load(db: BaselineDb, meta: Map<string, string>): void {
    const learnUntil = Number(meta.get('learn_until_ms'));
    if (Number.isFinite(learnUntil) && learnUntil > 0) {
      this.#learnUntilMs = learnUntil;
      this.#metaDirty = false;
    }
    try {
      const relearn = JSON.parse(meta.get('relearn') ?? '{}') as Record<string, unknown>;
      for (const [node, until] of Object.entries(relearn)) if (typeof until === 'number') this.#relearn.set(node, until);
    } catch {
      this.counters.loadErrors++;
    }
    for (const row of db.readEdges()) {
      try {
        const data = JSON.parse(row.data) as EdgeRow['json'];
        if (this.#edges.size >= this.#options.maxEdges) break;
        if (typeof data.source?.id !== 'string' || typeof data.destination?.id !== 'string') throw new TypeError('edge row without nodes');
        const source = this.#nodes.intern(data.source);
        const destination = this.#nodes.intern(data.destination);
        const edge = new EdgeStats(row.key, source, destination, data.port, data.protocol, data.tls, this.#edgeStatsOptions, false);
        edge.load(data, row.latency, row.size, row.history);
        edge.endpointOverflow = Number(data.endpointOverflow) || 0;
        this.#addEdge(edge);
      } catch {
        this.counters.loadErrors++;
      }
    }
    for (const row of db.readEndpoints()) {
      const edge = this.#edges.get(row.edgeKey);
      if (!edge || this.#endpointCount >= this.#options.maxEndpoints) continue;
      try {
        const endpoint = new EndpointStats(edge, row.endpoint, this.#endpointStatsOptions, false);
        endpoint.load(JSON.parse(row.data), row.latency, row.size, row.history);
        edge.endpoints.set(row.endpoint, endpoint);
        this.#endpointCount++;
      } catch {
        this.counters.loadErrors++;
      }
    }
  }

  /** Writes dirty edges and endpoints (and deletions) in one transaction. */
  checkpoint(): void {
    const db = this.#db;
    if (!db) return;
    const edges: EdgeRow[] = [];
    const endpoints: EndpointRow[] = [];
    for (const edge of this.#edges.values()) {
      if (edge.dirty) {
        edges.push({
          key: edge.key,
          json: {
            ...edge.toJson(), source: edge.source, destination: edge.destination, port: edge.port,
            protocol: edge.protocol, tls: edge.tls, endpointOverflow: edge.endpointOverflow,
          },
          latency: edge.latencyMs.toBytes(), size: edge.responseBytes.toBytes(), history: edge.series.historyBytes(),
        });
      }
      for (const endpoint of edge.endpoints.values()) {
        if (!endpoint.dirty) continue;
        endpoints.push({
          edgeKey: edge.key, endpoint: endpoint.name, json: endpoint.toJson(),
          latency: endpoint.latencyMs.toBytes(), size: endpoint.responseBytes.toBytes(), history: endpoint.series.historyBytes(),
        });
      }
    }
    const meta = this.#metaDirty
      ? new Map([
        ['learn_until_ms', String(this.#learnUntilMs)],
        ['relearn', JSON.stringify(Object.fromEntries(this.#relearn))],
        ['window_ms', String(this.#options.windowMs)],
      ])
      : undefined;
    const anomalies = this.#anomalySource?.();
    const anomalyChanges = (anomalies?.rows.length ?? 0) + (anomalies?.deleted.length ?? 0);
    if (edges.length === 0 && endpoints.length === 0 && this.#deletedEdges.size === 0 && this.#deletedEndpoints.length === 0 && !meta && anomalyChanges === 0) return;
    try {
      db.write({
        edges, endpoints, deletedEdges: [...this.#deletedEdges], deletedEndpoints: this.#deletedEndpoints, meta,
        anomalies: anomalies?.rows ?? [], deletedAnomalies: anomalies?.deleted ?? [],
      });
    } catch {
      // Disk full or the file went away: keep everything dirty and try again next time.
      this.counters.checkpointErrors++;
      return;
    }
    for (const row of edges) this.#edges.get(row.key)!.dirty = false;
    for (const row of endpoints) {
      const endpoint = this.#edges.get(row.edgeKey)?.endpoints.get(row.endpoint);
      if (endpoint) endpoint.dirty = false;
    }
    this.#deletedEdges.clear();
    this.#deletedEndpoints.length = 0;
    this.#metaDirty = false;
    anomalies?.written();
    this.counters.checkpoints++;
  }

  /** Anomalies to write with each checkpoint (the engine's open and recently closed ones). */
  persistAnomalies(source: AnomalySource): void {
    this.#anomalySource = source;
  }

  /** Final checkpoint, then the database is closed. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.checkpoint();
    this.#db?.close();
  }
}
