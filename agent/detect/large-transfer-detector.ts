// LARGE_TRANSFER (T1041): one response far larger than what its endpoint
// returned in the baseline, judged against a high quantile of the endpoint's
// learnt response-size sketch.
import type { Baseline, BaselineLookup } from '../baseline/baseline.js';
import type { Finding, Observation } from './finding.js';
import { describeEdge, type BaselineDetector } from './baseline-detector.js';
import type { LargeTransferConfig } from './detector-config.js';

export class LargeTransferDetector implements BaselineDetector {
  readonly name = 'large-transfer';

  constructor(readonly config: LargeTransferConfig) {}

  observe(obs: Observation, lookup: BaselineLookup, _baseline: Baseline): Finding[] | undefined {
    if (obs.learning) return undefined;
    const endpoint = lookup.endpoint;
    if (!endpoint?.baselined || endpoint.responseBytes.count < this.config.minSamples) return undefined;
    const bytes = Number(obs.flow.http.responseBytes) || 0;
    if (bytes < this.config.minBytes) return undefined;
    const usual = endpoint.responseBytes.quantile(this.config.quantile);
    const threshold = Math.max(this.config.minBytes, usual * this.config.factor);
    if (bytes <= threshold) return undefined;
    const q = `p${Math.round(this.config.quantile * 100)}`;
    return [{
      kind: 'LARGE_TRANSFER',
      severity: bytes > threshold * 10 ? 'CRITICAL' : 'HIGH',
      subject: `endpoint ${endpoint.name}`,
      endpoint: endpoint.name,
      summary: `${endpoint.name} on ${lookup.destination.id} returned ${bytes} bytes to ${lookup.source.id}; its baseline ${q} is ${Math.round(usual)} bytes`,
      mitreTechnique: 'T1041',
      details: {
        edge: describeEdge(lookup),
        responseBytes: String(bytes),
        [`baseline${q.toUpperCase()}Bytes`]: String(Math.round(usual)),
        threshold: String(Math.round(threshold)),
        baselineResponses: String(endpoint.responseBytes.count),
      },
      flow: obs.flow,
    }];
  }
}
