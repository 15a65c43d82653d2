// Detectors that compare a flow with the baseline need the flow's place in the
// graph (its edge and endpoint as they stood before the flow was recorded).
// They get it beside the Observation; the generic `Detector` interface stays
// as it is for detectors that need no baseline.
import type { Baseline, BaselineLookup, EdgeStats, EndpointStats } from '../baseline/baseline.js';
import type { Flow } from '../schema/flow.js';
import type { Finding, Observation } from './finding.js';

/** A key that carried traffic since the last tick, with its latest flow (for evidence). */
export interface ActiveKey {
  edge: EdgeStats;
  /** Absent for the edge itself. */
  endpoint?: EndpointStats;
  flow: Flow;
}

export interface BaselineDetector {
  readonly name: string;
  /** Runs before the flow is recorded into the baseline. */
  observe?(observation: Observation, lookup: BaselineLookup, baseline: Baseline): Finding[] | undefined;
  /** About once a second, with the edges and endpoints that carried traffic since the last tick. */
  tick?(nowMs: number, active: readonly ActiveKey[], baseline: Baseline): Finding[] | undefined;
}

/** "a → b :8080 HTTP1" for summaries. */
export function describeEdge(lookup: Pick<BaselineLookup, 'source' | 'destination' | 'port' | 'protocol' | 'tls'>): string {
  return `${lookup.source.id} → ${lookup.destination.id} :${lookup.port} ${lookup.protocol}${lookup.tls ? '+TLS' : ''}`;
}
