// Detection as one unit for the agent: the persisted baseline, the anomaly
// engine and its detectors, fed from the pipeline, with what the HTTP API and
// the CLI serve (service map, anomalies, status) and change (accept, relearn).
import { Baseline, type BaselineMode, type BaselineOptions, type BaselineCounters } from '../baseline/baseline.js';
import { serviceMap, type ServiceMap } from '../baseline/service-map.js';
import type { Exchange } from '../flows/exchange.js';
import type { Anomaly, Flow, Severity } from '../schema/flow.js';
import type { DetectorConfigInput } from './detector-config.js';
import { AnomalyEngine, type AnomalyListener, type AnomalyQuery, type EngineCounters } from './engine.js';
import type { Detector } from './finding.js';

export interface DetectionOptions {
  baseline?: BaselineOptions;
  config?: DetectorConfigInput;
  /** Detectors that need no baseline (content, per-source), already configured. */
  detectors?: Detector[];
  /** How often the engine ticks (window-based detectors, closing anomalies); default 1 s. */
  tickIntervalMs?: number;
  now?: () => number;
}

export interface DetectionStatus {
  mode: BaselineMode;
  learnUntil: string;
  relearning: Record<string, string>;
  edges: number;
  endpoints: number;
  openAnomalies: number;
  baseline: BaselineCounters;
  engine: EngineCounters;
}

export class Detection {
  readonly baseline: Baseline;
  readonly engine: AnomalyEngine;
  readonly #tickIntervalMs: number;
  readonly #now: () => number;
  #lastTickMs = 0;

  constructor(options: DetectionOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.baseline = new Baseline({ now: this.#now, ...options.baseline });
    this.engine = new AnomalyEngine({
      baseline: this.baseline, now: this.#now,
      ...(options.config ? { config: options.config } : {}),
      ...(options.detectors ? { detectors: options.detectors } : {}),
    });
    this.#tickIntervalMs = options.tickIntervalMs ?? 1000;
  }

  /** For pipeline.onFlow (see FlowListener for `serverAlsoReports`). */
  readonly onFlow = (flow: Flow, exchange: Exchange, serverAlsoReports = false): void => {
    this.engine.observe(flow, exchange, serverAlsoReports);
  };

  /** For pipeline.onTick (called every batch): ticks the engine once per interval. */
  readonly onTick = (): void => {
    const now = this.#now();
    if (now - this.#lastTickMs < this.#tickIntervalMs) return;
    this.#lastTickMs = now;
    this.engine.tick(now);
  };

  onAnomaly(listener: AnomalyListener): void {
    this.engine.onAnomaly(listener);
  }

  /** GET /v1/map. */
  map(): ServiceMap {
    return serviceMap(this.baseline, this.#now());
  }

  /** GET /v1/anomalies. */
  anomalies(query: AnomalyQuery = {}): Anomaly[] {
    return this.engine.anomalies(query);
  }

  /** POST accept: undefined when the id is unknown (404). */
  accept(id: string): Anomaly | undefined {
    const accepted = this.engine.accept(id);
    if (accepted) this.baseline.checkpoint();
    return accepted;
  }

  /** POST relearn of one workload (node id such as `shop/orders`, or a workload name). */
  relearn(workload: string): { nodes: string[]; droppedEdges: number; learnUntil: string } {
    const result = this.engine.relearn(workload, this.#now());
    this.baseline.checkpoint();
    return { nodes: result.nodes, droppedEdges: result.droppedEdges, learnUntil: new Date(result.learnUntilMs).toISOString() };
  }

  /** For status / doctor / metrics. */
  status(): DetectionStatus {
    const mode = this.baseline.mode(this.#now());
    return {
      mode: mode.mode,
      learnUntil: new Date(mode.learnUntilMs).toISOString(),
      relearning: Object.fromEntries(Object.entries(mode.relearning).map(([node, until]) => [node, new Date(until).toISOString()])),
      edges: this.baseline.edgeCount,
      endpoints: this.baseline.endpointCount,
      openAnomalies: this.engine.anomalies({ state: 'OPEN' }).length,
      baseline: { ...this.baseline.counters },
      engine: { ...this.engine.counters },
    };
  }

  /**
   * The shape agent/server/http-server.ts ServerProviders asks for: lower-case
   * states ('all' for both), accept as a boolean, relearn as the number of
   * baseline edges reset.
   */
  serverProviders(): {
    map(): ServiceMap;
    anomalies(query: { state: 'open' | 'closed' | 'all'; severity?: Severity }): Anomaly[];
    accept(id: string): boolean;
    relearn(workload: string): number;
  } {
    return {
      map: () => this.map(),
      anomalies: (query) => this.anomalies({
        ...(query.state === 'all' ? {} : { state: query.state === 'open' ? 'OPEN' : 'CLOSED' }),
        ...(query.severity ? { severity: query.severity } : {}),
      }),
      accept: (id) => this.accept(id) !== undefined,
      relearn: (workload) => this.relearn(workload).droppedEdges,
    };
  }

  /** On agent stop: last checkpoint, database closed. */
  close(): void {
    this.engine.close();
  }
}
