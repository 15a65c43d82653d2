// The anomaly engine: builds an Observation from each (flow, exchange), runs
// the baseline-comparing detectors (before the flow enters the baseline), records
// the flow into the baseline, runs the other detectors, and turns findings into
// Anomaly records: one open anomaly per (kind, edge, subject), updated with
// counts and the latest evidence, re-emitted at most every updateIntervalMs,
// closed (and emitted CLOSED) after quietMs without a finding.
import { createHash } from 'node:crypto';
import { Baseline, type AnomalySource, type BaselineLookup, type EdgeStats } from '../baseline/baseline.js';
import type { AnomalyRow } from '../baseline/baseline-db.js';
import { nodeOf } from '../baseline/graph-node.js';
import type { RequestSample } from '../baseline/traffic-stats.js';
import { compileRoute } from '../baseline/path-template.js';
import type { Exchange } from '../flows/exchange.js';
import type { Anomaly, AnomalyKind, AnomalyState, Flow, Severity } from '../schema/flow.js';
import type { ActiveKey, BaselineDetector } from './baseline-detector.js';
import { resolveDetectorConfig, type DetectorConfig, type DetectorConfigInput } from './detector-config.js';
import { EndpointNames } from './endpoint-names.js';
import type { Detector, Finding, Observation } from './finding.js';
import { flowTimeMs } from './flow-time.js';
import { GraphChangeDetector } from './graph-change-detector.js';
import { LargeTransferDetector } from './large-transfer-detector.js';
import { SpikeDetector } from './spike-detector.js';

export type AnomalyListener = (anomaly: Anomaly) => void;

export interface AnomalyQuery {
  state?: AnomalyState;
  kind?: AnomalyKind;
  severity?: Severity;
  /** Only anomalies seen at or after this time (ms). */
  sinceMs?: number;
  limit?: number;
}

export interface EngineCounters {
  observations: number;
  findings: number;
  emitted: number;
  /** Open anomalies closed early because the open cap was reached. */
  openEvictions: number;
  /** Detectors that threw (counted, the flow carries on). */
  detectorErrors: number;
  /** Flows that could not be observed (malformed), skipped. */
  badFlows: number;
  /**
   * Client-side flows of calls whose server end is decoded on this host too:
   * the server's flow is observed, so the call counts once.
   */
  clientViews: number;
  /** Stored anomalies that could not be read back at start, skipped. */
  restoreErrors: number;
}

/** The part of an anomaly the engine keeps beside its public record. */
interface OpenAnomaly {
  record: Anomaly;
  edgeKey: string;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  lastEmittedMs: number;
  /** Changed since it was last emitted. */
  pending: boolean;
  /** record.count and record.lastSeen lag count and lastSeenMs: written when the record is read, not per finding. */
  stale?: boolean;
}

export interface EngineOptions {
  baseline: Baseline;
  config?: DetectorConfigInput;
  /** Detectors that need no baseline (content, per-source). */
  detectors?: Detector[];
  now?: () => number;
}

/** Stable anomaly id: the same kind, edge and subject always give the same id. */
export function anomalyId(kind: AnomalyKind, edge: string, subject: string): string {
  return createHash('sha256').update(`${kind}\u001f${edge}\u001f${subject}`).digest('hex').slice(0, 20);
}

/** The baseline-comparing detectors the config enables. */
export function createBaselineDetectors(config: DetectorConfig): BaselineDetector[] {
  const detectors: BaselineDetector[] = [];
  const g = config.graph;
  if (g.newEdge || g.newEndpoint || g.newProtocol || g.plaintext || g.plaintextInternalHttp) detectors.push(new GraphChangeDetector(g));
  if (config.rateSpike.enabled) detectors.push(new SpikeDetector('RATE_SPIKE', config.rateSpike));
  if (config.errorSpike.enabled) detectors.push(new SpikeDetector('ERROR_SPIKE', config.errorSpike));
  if (config.latencySpike.enabled) detectors.push(new SpikeDetector('LATENCY_SPIKE', config.latencySpike));
  if (config.largeTransfer.enabled) detectors.push(new LargeTransferDetector(config.largeTransfer));
  return detectors;
}

export class AnomalyEngine {
  readonly baseline: Baseline;
  readonly config: DetectorConfig;
  readonly counters: EngineCounters = {
    observations: 0, findings: 0, emitted: 0, openEvictions: 0, detectorErrors: 0, badFlows: 0, clientViews: 0, restoreErrors: 0,
  };
  readonly #baselineDetectors: BaselineDetector[];
  readonly #detectors: Detector[];
  readonly #endpoints: EndpointNames;
  /** scope → kind → subject → anomalyId: the same anomaly is found again on every flow while it lasts. */
  #ids = new Map<string, Map<AnomalyKind, Map<string, string>>>();
  #idCount = 0;
  readonly #listeners: AnomalyListener[] = [];
  readonly #open = new Map<string, OpenAnomaly>();
  readonly #closed: OpenAnomaly[] = [];
  /** Ids changed since the last checkpoint, and ids dropped from the closed list. */
  readonly #dirty = new Set<string>();
  readonly #dropped = new Set<string>();
  /** Edges and endpoints that carried traffic since the last tick. */
  #active = new Map<object, ActiveKey>();
  /** Reused for every flow: the baseline copies what it keeps. */
  readonly #sample: RequestSample = { nowMs: 0, latencyMs: 0, responseBytes: 0, error: false };
  readonly #now: () => number;

  constructor(options: EngineOptions) {
    this.baseline = options.baseline;
    this.config = resolveDetectorConfig(options.config);
    this.#now = options.now ?? Date.now;
    const disabled = new Set(this.config.engine.disabled);
    this.#baselineDetectors = createBaselineDetectors(this.config).filter((d) => !disabled.has(d.name));
    this.#detectors = (options.detectors ?? []).filter((d) => !disabled.has(d.name));
    this.#endpoints = new EndpointNames(this.config.engine.routes.map(compileRoute));
    this.#restore();
    this.baseline.persistAnomalies(() => this.#changes());
  }

  /** Takes back the anomalies of the last run: open ones stay open (and close when quiet), closed ones stay acceptable. */
  #restore(): void {
    const restored: OpenAnomaly[] = [];
    for (const row of this.baseline.storedAnomalies.splice(0)) {
      try {
        const stored = JSON.parse(row.data) as { record: Anomaly; count: number; firstSeenMs: number; lastSeenMs: number };
        if (stored.record?.id !== row.id || !Number.isFinite(stored.lastSeenMs)) throw new TypeError('anomaly row malformed');
        restored.push({
          record: stored.record, edgeKey: row.edgeKey, count: Number(stored.count) || 1,
          firstSeenMs: stored.firstSeenMs, lastSeenMs: stored.lastSeenMs, lastEmittedMs: stored.lastSeenMs, pending: false,
        });
      } catch {
        this.counters.restoreErrors++;
      }
    }
    restored.sort((a, b) => a.lastSeenMs - b.lastSeenMs);
    for (const anomaly of restored) {
      if (anomaly.record.state === 'OPEN' && this.#open.size < this.config.engine.maxOpen) this.#open.set(anomaly.record.id, anomaly);
      else {
        anomaly.record.state = 'CLOSED';
        this.#closed.push(anomaly);
      }
    }
    while (this.#closed.length > this.config.engine.maxClosedKept) this.#dropped.add(this.#closed.shift()!.record.id);
  }

  #changes(): ReturnType<AnomalySource> {
    const closed = new Map(this.#closed.map((a) => [a.record.id, a]));
    const rows: AnomalyRow[] = [];
    for (const id of this.#dirty) {
      const a = this.#open.get(id) ?? closed.get(id);
      if (!a) continue;
      const data = JSON.stringify({ record: this.#current(a), count: a.count, firstSeenMs: a.firstSeenMs, lastSeenMs: a.lastSeenMs });
      rows.push({ id, edgeKey: a.edgeKey, data });
    }
    const deleted = [...this.#dropped];
    return {
      rows,
      deleted,
      written: () => {
        for (const row of rows) this.#dirty.delete(row.id);
        for (const id of deleted) this.#dropped.delete(id);
      },
    };
  }

  onAnomaly(listener: AnomalyListener): void {
    this.#listeners.push(listener);
  }

  /** The Observation detectors see for a flow. */
  observationOf(flow: Flow, exchange: Exchange, learning: boolean): Observation {
    const nowMs = flowTimeMs(flow.time);
    if (flow.grpc) return { flow, exchange, endpoint: `${flow.grpc.service}/${flow.grpc.method}`, pathParams: [], nowMs, learning };
    const endpoint = this.#endpoints.of(flow.http.method || 'UNKNOWN', flow.http.path || '/');
    return { flow, exchange, endpoint: endpoint.name, pathParams: endpoint.params, nowMs, learning };
  }

  /**
   * Feed for pipeline.onFlow: every flow with its exchange. The client's view
   * of a call the server's end also reports (`serverAlsoReports`) is left out,
   * so a call between two processes on this host is learnt and judged once.
   */
  observe(flow: Flow, exchange: Exchange, serverAlsoReports = false): void {
    if (serverAlsoReports) {
      this.counters.clientViews++;
      return;
    }
    let obs: Observation;
    let lookup: BaselineLookup;
    try {
      obs = this.observationOf(flow, exchange, false);
      if (!Number.isFinite(obs.nowMs)) throw new RangeError('flow time unreadable');
      lookup = this.baseline.lookup(flow, obs.endpoint, obs.nowMs);
      obs.learning = lookup.learning;
    } catch {
      this.counters.badFlows++;
      return;
    }
    this.counters.observations++;
    // gRPC progress records describe a call still running: the baseline waits for its end.
    const complete = !flow.grpc?.inProgress;
    // Detectors run inline, not through #take: no closure per detector per flow.
    if (complete) {
      let largeTransfer = false;
      for (const detector of this.#baselineDetectors) {
        if (!detector.observe) continue;
        let findings: Finding[] | undefined;
        try {
          findings = detector.observe(obs, lookup, this.baseline);
          if (findings?.some(isLargeTransfer)) largeTransfer = true;
        } catch {
          this.counters.detectorErrors++;
          continue;
        }
        if (findings) this.#applyAll(findings, lookup, undefined);
      }
      const sample = Baseline.sampleOf(flow, exchange, obs.nowMs, this.#sample);
      // An exfiltration-sized response must not raise the size baseline it is judged against.
      if (largeTransfer) sample.responseBytes = NaN;
      this.baseline.record(lookup, sample);
      if (lookup.edge) {
        // Keys already active this interval only take the latest flow: no new object per flow.
        const edgeActive = this.#active.get(lookup.edge);
        if (edgeActive && edgeActive.endpoint === undefined) edgeActive.flow = flow;
        else this.#active.set(lookup.edge, { edge: lookup.edge, flow });
        if (lookup.endpoint) {
          const endpointActive = this.#active.get(lookup.endpoint);
          if (endpointActive && endpointActive.edge === lookup.edge) endpointActive.flow = flow;
          else this.#active.set(lookup.endpoint, { edge: lookup.edge, endpoint: lookup.endpoint, flow });
        }
      }
    }
    for (const detector of this.#detectors) {
      let findings: Finding[] | undefined;
      try {
        findings = detector.observe(obs);
      } catch {
        this.counters.detectorErrors++;
        continue;
      }
      if (findings) this.#applyAll(findings, lookup, undefined);
    }
  }

  /** About once a second: window-based detectors, pending updates, closing quiet anomalies. */
  tick(nowMs = this.#now()): void {
    const active = [...this.#active.values()];
    this.#active = new Map();
    for (const detector of this.#baselineDetectors) {
      if (!detector.tick) continue;
      this.#take(undefined, () => detector.tick!(nowMs, active, this.baseline), nowMs);
    }
    for (const detector of this.#detectors) {
      if (detector.tick) this.#take(undefined, () => detector.tick!(nowMs), nowMs);
    }
    const { updateIntervalMs, quietMs } = this.config.engine;
    for (const open of [...this.#open.values()]) {
      if (nowMs - open.lastSeenMs >= quietMs) this.#close(open);
      else if (open.pending && nowMs - open.lastEmittedMs >= updateIntervalMs) this.#emit(open, nowMs);
    }
  }

  #take(lookup: BaselineLookup | undefined, run: () => Finding[] | undefined, nowMs?: number): void {
    let findings: Finding[] | undefined;
    try {
      findings = run();
    } catch {
      this.counters.detectorErrors++;
      return;
    }
    if (findings) this.#applyAll(findings, lookup, nowMs);
  }

  #applyAll(findings: Finding[], lookup: BaselineLookup | undefined, tickMs: number | undefined): void {
    for (const finding of findings) this.#apply(finding, lookup, tickMs);
  }

  #apply(finding: Finding, lookup: BaselineLookup | undefined, tickMs: number | undefined): void {
    this.counters.findings++;
    const flow = finding.flow;
    const seenMs = tickMs ?? (flowTimeMs(flow.time) || this.#now());
    const edgeKey = lookup?.edgeKey ?? this.#edgeKeyOfFlow(flow);
    // Baseline findings are per edge; others per pair of nodes, so a scan across ports is one anomaly.
    const scope = finding.kind === 'SCAN' || finding.kind === 'AUTH_FAILURE_BURST' || finding.kind === 'ENUMERATION' ||
      finding.kind === 'INJECTION' || finding.kind === 'SENSITIVE_DATA' || finding.kind === 'JWT_WEAKNESS'
      ? `${nodeOf(flow.source).id}\u001f${nodeOf(flow.destination).id}`
      : edgeKey;
    const id = this.#idOf(finding.kind, scope, finding.subject);
    let open = this.#open.get(id);
    if (!open) {
      if (this.#open.size >= this.config.engine.maxOpen) this.#evictOpen();
      const record: Anomaly = {
        id,
        kind: finding.kind,
        severity: finding.severity,
        state: 'OPEN',
        source: flow.source,
        destination: flow.destination,
        ...(finding.endpoint !== undefined ? { endpoint: finding.endpoint } : {}),
        summary: finding.summary,
        evidence: [flow],
        count: '1',
        firstSeen: new Date(seenMs).toISOString(),
        lastSeen: new Date(seenMs).toISOString(),
        ...(finding.mitreTechnique ? { mitreTechnique: finding.mitreTechnique } : {}),
        details: finding.details,
        protocol: flow.protocol,
        destinationPort: flow.destination.port,
      };
      open = { record, edgeKey, count: 1, firstSeenMs: seenMs, lastSeenMs: seenMs, lastEmittedMs: 0, pending: true };
      this.#open.set(id, open);
      this.#emit(open, seenMs);
      return;
    }
    open.count++;
    open.lastSeenMs = Math.max(open.lastSeenMs, seenMs);
    open.stale = true;
    const record = open.record;
    record.summary = finding.summary;
    record.details = finding.details;
    if (severityRank[finding.severity] > severityRank[record.severity]) record.severity = finding.severity;
    const evidence = record.evidence ?? (record.evidence = []);
    if (evidence[evidence.length - 1] !== flow) {
      evidence.push(flow);
      if (evidence.length > this.config.engine.maxEvidence) evidence.shift();
    }
    open.pending = true;
    this.#dirty.add(id);
    if (seenMs - open.lastEmittedMs >= this.config.engine.updateIntervalMs) this.#emit(open, seenMs);
  }

  /**
   * anomalyId, remembered: hashing is most of the cost of a repeated finding.
   * Nested maps keyed by the parts, not one joined key: the parts are mostly
   * strings that already exist (edge keys, kinds, subjects), whose hashes V8 keeps.
   */
  #idOf(kind: AnomalyKind, scope: string, subject: string): string {
    let byKind = this.#ids.get(scope);
    let bySubject = byKind?.get(kind);
    let id = bySubject?.get(subject);
    if (id !== undefined) return id;
    id = anomalyId(kind, scope, subject);
    if (this.#idCount >= MAX_REMEMBERED_IDS) {
      this.#ids = new Map();
      this.#idCount = 0;
      byKind = undefined;
      bySubject = undefined;
    }
    if (!byKind) this.#ids.set(scope, (byKind = new Map()));
    if (!bySubject) byKind.set(kind, (bySubject = new Map()));
    bySubject.set(subject, id);
    this.#idCount++;
    return id;
  }

  #edgeKeyOfFlow(flow: Flow): string {
    return this.baseline.lookup(flow, '', flowTimeMs(flow.time) || 0).edgeKey;
  }

  /** The record as readers see it: count and lastSeen brought up to date. */
  #current(open: OpenAnomaly): Anomaly {
    if (open.stale) {
      open.stale = false;
      open.record.count = String(open.count);
      open.record.lastSeen = new Date(open.lastSeenMs).toISOString();
    }
    return open.record;
  }

  #emit(open: OpenAnomaly, nowMs: number): void {
    open.lastEmittedMs = nowMs;
    open.pending = false;
    this.#dirty.add(open.record.id);
    this.counters.emitted++;
    const snapshot = structuredClone(this.#current(open));
    for (const listener of this.#listeners) listener(snapshot);
  }

  #close(open: OpenAnomaly): void {
    this.#open.delete(open.record.id);
    open.record.state = 'CLOSED';
    this.#emit(open, open.lastSeenMs);
    this.#closed.push(open);
    this.#dirty.add(open.record.id);
    if (this.#closed.length > this.config.engine.maxClosedKept) {
      const dropped = this.#closed.shift()!.record.id;
      // The same id may be open again: only a closed copy goes from disk.
      if (!this.#open.has(dropped)) {
        this.#dropped.add(dropped);
        this.#dirty.delete(dropped);
      }
    }
  }

  #evictOpen(): void {
    let oldest: OpenAnomaly | undefined;
    for (const open of this.#open.values()) if (!oldest || open.lastSeenMs < oldest.lastSeenMs) oldest = open;
    if (oldest) {
      this.#close(oldest);
      this.counters.openEvictions++;
    }
  }

  /** Open anomalies first, then closed ones, each newest first. */
  anomalies(query: AnomalyQuery = {}): Anomaly[] {
    const match = (a: OpenAnomaly): boolean =>
      (query.state === undefined || a.record.state === query.state) &&
      (query.kind === undefined || a.record.kind === query.kind) &&
      (query.severity === undefined || a.record.severity === query.severity) &&
      (query.sinceMs === undefined || a.lastSeenMs >= query.sinceMs);
    const newestFirst = (a: OpenAnomaly, b: OpenAnomaly): number => b.lastSeenMs - a.lastSeenMs;
    const open = [...this.#open.values()].filter(match).sort(newestFirst);
    const closed = this.#closed.filter(match).sort(newestFirst);
    return [...open, ...closed].slice(0, query.limit ?? Infinity).map((a) => structuredClone(this.#current(a)));
  }

  /**
   * "This is expected": puts the anomaly's edge (and endpoint) into the
   * baseline and closes the anomaly. For NEW_EDGE, NEW_PROTOCOL and PLAINTEXT
   * the whole edge with the endpoints seen on it is accepted; for the others,
   * the endpoint. Returns the closed anomaly, or undefined for an unknown id.
   */
  accept(id: string): Anomaly | undefined {
    const open = this.#open.get(id) ?? this.#closed.find((a) => a.record.id === id);
    if (!open) return undefined;
    const edge = this.baseline.edge(open.edgeKey);
    if (edge) {
      const wholeEdge = open.record.kind === 'NEW_EDGE' || open.record.kind === 'NEW_PROTOCOL' || open.record.kind === 'PLAINTEXT';
      if (wholeEdge) acceptEdgeWithEndpoints(this.baseline, edge);
      else this.baseline.accept(edge.key, open.record.endpoint);
    }
    if (open.record.state === 'OPEN') this.#close(open);
    return structuredClone(this.#current(open));
  }

  /** Relearn one workload (node id or workload name); its open baseline anomalies close. */
  relearn(workload: string, nowMs = this.#now()): ReturnType<Baseline['relearn']> {
    const result = this.baseline.relearn(workload, nowMs);
    const nodes = new Set(result.nodes);
    for (const open of [...this.#open.values()]) {
      const source = nodeOf(open.record.source).id;
      const destination = nodeOf(open.record.destination).id;
      if (baselineKinds.has(open.record.kind) && (nodes.has(source) || nodes.has(destination))) this.#close(open);
    }
    return result;
  }

  /** Stops: the baseline's last checkpoint and database close. */
  close(): void {
    this.baseline.close();
  }
}

const baselineKinds = new Set<AnomalyKind>([
  'NEW_EDGE', 'NEW_ENDPOINT', 'NEW_PROTOCOL', 'PLAINTEXT', 'RATE_SPIKE', 'ERROR_SPIKE', 'LATENCY_SPIKE', 'LARGE_TRANSFER',
]);

const severityRank = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 } as const;

/** Distinct anomaly ids remembered before the memo starts over. */
const MAX_REMEMBERED_IDS = 4096;

function isLargeTransfer(finding: Finding): boolean {
  return finding.kind === 'LARGE_TRANSFER';
}

function acceptEdgeWithEndpoints(baseline: Baseline, edge: EdgeStats): void {
  baseline.accept(edge.key);
  for (const name of edge.endpoints.keys()) baseline.accept(edge.key, name);
}
