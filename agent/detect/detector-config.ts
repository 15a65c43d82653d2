// Settings of the anomaly engine and of the baseline-comparing detectors, with
// defaults chosen for zero false positives on normal traffic: every detector
// needs a minimum volume and a learnt history before it may fire.

export interface EngineConfig {
  /** An open anomaly is re-emitted (with new counts) at most this often. */
  updateIntervalMs: number;
  /** An anomaly with no finding for this long is closed. */
  quietMs: number;
  /** Evidence flows kept per anomaly (the latest). */
  maxEvidence: number;
  /** Open anomalies kept; past it the least recently seen is closed early (counted). */
  maxOpen: number;
  /** Closed anomalies kept for `anomalies()` queries. */
  maxClosedKept: number;
  /** Configured route patterns (`/api/orders/:id`) that win over path templating. */
  routes: string[];
  /** Detector names to switch off (any detector: 'new-edge', 'scan', 'injection', …). */
  disabled: string[];
}

export interface GraphChangeConfig {
  newEdge: boolean;
  newEndpoint: boolean;
  newProtocol: boolean;
  plaintext: boolean;
  /** Also flag any plaintext HTTP between two internal (non-external) nodes. */
  plaintextInternalHttp: boolean;
  /** NEW_ENDPOINT only for answered calls (HTTP < 400, gRPC OK): a shadow API answers; 404 walks are SCAN's. */
  newEndpointRequiresSuccess: boolean;
  /** New endpoints reported one by one per edge; past this they share one anomaly. */
  newEndpointsPerEdge: number;
}

export interface SpikeConfig {
  enabled: boolean;
  /** Fire above median + k·σ (σ from the MAD) of the learnt windows… */
  k: number;
  /** …and at least minRatio × the median… */
  minRatio: number;
  /** …and at least the median plus this (requests, error ratio or ms, by kind). */
  minDelta: number;
  /** Requests in the open window below this never fire (low traffic never alarms). */
  minRequests: number;
  /** Learnt windows needed before the key is judged at all. */
  minHistoryWindows: number;
  /** Once firing, keeps firing until the value falls below this fraction of the threshold. */
  rearmFraction: number;
  /** Rate only: never below this × the busiest learnt window (periodic bursts); 0 switches it off. */
  peakRatio: number;
}

export interface LargeTransferConfig {
  enabled: boolean;
  /** Baseline quantile of the endpoint's response size compared with. */
  quantile: number;
  /** Fire when the response is above factor × that quantile… */
  factor: number;
  /** …and above this many bytes. */
  minBytes: number;
  /** Responses the endpoint must have in its baseline first. */
  minSamples: number;
}

export interface DetectorConfig {
  engine: EngineConfig;
  graph: GraphChangeConfig;
  rateSpike: SpikeConfig;
  errorSpike: SpikeConfig;
  latencySpike: SpikeConfig;
  largeTransfer: LargeTransferConfig;
}

export const defaultDetectorConfig: DetectorConfig = {
  engine: { updateIntervalMs: 5000, quietMs: 60_000, maxEvidence: 5, maxOpen: 10_000, maxClosedKept: 1000, routes: [], disabled: [] },
  graph: {
    newEdge: true, newEndpoint: true, newProtocol: true, plaintext: true, plaintextInternalHttp: false,
    newEndpointRequiresSuccess: true, newEndpointsPerEdge: 20,
  },
  rateSpike: { enabled: true, k: 6, minRatio: 3, minDelta: 20, minRequests: 30, minHistoryWindows: 12, rearmFraction: 0.8, peakRatio: 1.5 },
  errorSpike: { enabled: true, k: 6, minRatio: 3, minDelta: 0.2, minRequests: 20, minHistoryWindows: 12, rearmFraction: 0.8, peakRatio: 0 },
  latencySpike: { enabled: true, k: 6, minRatio: 3, minDelta: 50, minRequests: 20, minHistoryWindows: 12, rearmFraction: 0.8, peakRatio: 0 },
  largeTransfer: { enabled: true, quantile: 0.99, factor: 10, minBytes: 1_048_576, minSamples: 50 },
};

export type DetectorConfigInput = { [K in keyof DetectorConfig]?: Partial<DetectorConfig[K]> };

/** Defaults overlaid with what the config file gave, section by section. */
export function resolveDetectorConfig(input: DetectorConfigInput = {}): DetectorConfig {
  return {
    engine: { ...defaultDetectorConfig.engine, ...input.engine },
    graph: { ...defaultDetectorConfig.graph, ...input.graph },
    rateSpike: { ...defaultDetectorConfig.rateSpike, ...input.rateSpike },
    errorSpike: { ...defaultDetectorConfig.errorSpike, ...input.errorSpike },
    latencySpike: { ...defaultDetectorConfig.latencySpike, ...input.latencySpike },
    largeTransfer: { ...defaultDetectorConfig.largeTransfer, ...input.largeTransfer },
  };
}
