// Drives an AnomalyEngine with synthetic traffic on a simulated clock: flows
// spread evenly over each second, the engine ticked once a second.
import { Baseline, type BaselineOptions } from '../../../agent/baseline/baseline.js';
import { AnomalyEngine } from '../../../agent/detect/engine.js';
import type { DetectorConfigInput } from '../../../agent/detect/detector-config.js';
import type { Detector } from '../../../agent/detect/finding.js';
import type { Anomaly } from '../../../agent/schema/flow.js';
import { makeFlow, type FlowSpec } from '../baseline/make-flow.js';

export const T0 = Date.parse('2026-11-23T10:00:00Z');

export class Harness {
  readonly engine: AnomalyEngine;
  readonly emitted: Anomaly[] = [];
  nowMs = T0;

  constructor(options: { baseline?: BaselineOptions; config?: DetectorConfigInput; detectors?: Detector[] } = {}) {
    const baseline = new Baseline({ learnWindowMs: 60_000, windowMs: 1000, now: () => this.nowMs, ...options.baseline });
    this.engine = new AnomalyEngine({
      baseline, now: () => this.nowMs, ...(options.config ? { config: options.config } : {}),
      ...(options.detectors ? { detectors: options.detectors } : {}),
    });
    this.engine.onAnomaly((a) => this.emitted.push(a));
  }

  send(spec: Omit<FlowSpec, 'timeMs'> & { timeMs?: number }): void {
    const { flow, exchange } = makeFlow({ ...spec, timeMs: spec.timeMs ?? this.nowMs });
    this.engine.observe(flow, exchange);
  }

  /**
   * Runs `seconds` of traffic: `perSecond(i)` flows in second i (each made by
   * `spec(i, n)`), spread over the second, with a tick at its end.
   */
  run(seconds: number, perSecond: (second: number) => number, spec: (second: number, n: number) => Omit<FlowSpec, 'timeMs'> = () => ({})): void {
    for (let s = 0; s < seconds; s++) {
      const start = this.nowMs;
      const count = perSecond(s);
      for (let n = 0; n < count; n++) this.send({ ...spec(s, n), timeMs: start + Math.floor((n * 1000) / count) });
      this.nowMs = start + 1000;
      this.engine.tick(this.nowMs);
    }
  }

  kinds(): string[] {
    return [...new Set(this.emitted.map((a) => a.kind))].sort();
  }
}

/** A small deterministic PRNG so property-like loops are reproducible. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
