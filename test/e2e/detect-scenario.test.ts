// The detection scenario (npm run eval:detect) in its short form: real
// services in network namespaces, a learn window, a normal-only phase that must
// raise nothing, then every attack, each of which must be detected within 10 s.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs scenario script without types
import { formatReport, runScenario } from '../eval/detect.mjs';

interface ScenarioResult {
  kind: string;
  detected: number;
  timeToDetectMs?: number;
}

describe('detection scenario (short form)', () => {
  it('detects every injected attack within 10 s and raises nothing on normal traffic', { timeout: 15 * 60_000 }, async () => {
    const report = await runScenario({ learnSeconds: 120, normalSeconds: 60, log: () => {} });
    console.log(formatReport(report));
    expect(report.falsePositives.map((a: { kind: string; summary: string }) => `${a.kind}: ${a.summary}`)).toEqual([]);
    const results = report.results as ScenarioResult[];
    expect(results.filter((r) => !r.detected).map((r) => r.kind)).toEqual([]);
    for (const r of results) expect(r.timeToDetectMs, r.kind).toBeLessThanOrEqual(10_000);
  });
});
