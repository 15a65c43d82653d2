// What a detector reports about one observation. The anomaly engine turns
// findings into Anomaly records: one open anomaly per (kind, edge, subject),
// updated with counts and evidence, closed when findings stop.
import type { Exchange } from '../flows/exchange.js';
import type { AnomalyKind, Flow, Severity } from '../schema/flow.js';

export interface Finding {
  kind: AnomalyKind;
  severity: Severity;
  /** Separates open anomalies of one kind on one edge: the endpoint, the rule, the parameter. */
  subject: string;
  /** "GET /users/{id}" or "pkg.Service/Method"; absent for edge-level findings. */
  endpoint?: string;
  /** One human sentence: what happened and why it is unusual. */
  summary: string;
  mitreTechnique?: string;
  /** Figures behind the finding: observed vs baseline, thresholds, matched rule. */
  details: Record<string, string>;
  /** The flow that triggered it (already redacted: it may be exported as evidence). */
  flow: Flow;
}

/** One flow as detectors see it. */
export interface Observation {
  /** The exported, redacted flow, with identity on both ends. */
  flow: Flow;
  /** Decoded request and response before redaction: for matching only, never exported. */
  exchange: Exchange;
  /** Templated endpoint key: "GET /users/{id}" (HTTP) or "pkg.Service/Method" (gRPC). */
  endpoint: string;
  /** Values of the endpoint's path parameters, in order. */
  pathParams: string[];
  /** Wall-clock ms of the observation (the flow's time). */
  nowMs: number;
  /** True while the baseline is still learning: detectors that compare against it stay quiet. */
  learning: boolean;
}

export interface Detector {
  readonly name: string;
  observe(observation: Observation): Finding[] | undefined;
  /** Time passes (about once a second): windows close, bursts end. */
  tick?(nowMs: number): Finding[] | undefined;
}
