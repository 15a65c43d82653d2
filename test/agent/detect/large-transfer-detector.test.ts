import { describe, expect, it } from 'vitest';
import { Harness, seeded } from './engine-harness.js';

function learnt(): Harness {
  const h = new Harness();
  const random = seeded(9);
  h.run(70, () => 3, () => ({ path: '/api/export', responseBytes: 20_000 + Math.floor(random() * 180_000) }));
  return h;
}

describe('LARGE_TRANSFER', () => {
  it('fires on a response far above the endpoint\'s baseline p99, with T1041', () => {
    const h = learnt();
    h.send({ path: '/api/export', responseBytes: 5_000_000 });
    expect(h.emitted).toHaveLength(1);
    const a = h.emitted[0]!;
    expect(a).toMatchObject({ kind: 'LARGE_TRANSFER', mitreTechnique: 'T1041', endpoint: 'GET /api/export', severity: 'HIGH' });
    expect(Number(a.details!.baselineP99Bytes)).toBeGreaterThan(150_000);
    expect(Number(a.details!.baselineP99Bytes)).toBeLessThan(210_000);
    expect(a.summary).toContain('returned 5000000 bytes');
    h.send({ path: '/api/export', responseBytes: 80_000_000 });
    expect(h.engine.anomalies({ kind: 'LARGE_TRANSFER' })[0]).toMatchObject({ severity: 'CRITICAL', count: '2' });
  });

  it('keeps flagged responses out of the size baseline, so repeated exfiltration keeps firing', () => {
    const h = learnt();
    const endpoint = (): { count: number; p99: number } => {
      const e = [...h.engine.baseline.edges()][0]!.endpoints.get('GET /api/export')!;
      return { count: e.responseBytes.count, p99: e.responseBytes.quantile(0.99) };
    };
    const before = endpoint();
    for (let i = 0; i < 20; i++) h.send({ path: '/api/export', responseBytes: 30_000_000 });
    expect(endpoint()).toEqual(before);
    expect(h.engine.anomalies({ kind: 'LARGE_TRANSFER' })[0]!.count).toBe('20');
  });

  it('stays quiet for responses within a few times the usual size', () => {
    const h = learnt();
    h.send({ path: '/api/export', responseBytes: 600_000 });
    h.send({ path: '/api/export', responseBytes: 1_500_000 });
    expect(h.emitted).toEqual([]);
  });

  it('needs enough baseline responses and a minimum size before judging', () => {
    const few = new Harness();
    few.run(70, (s) => (s % 5 === 0 ? 1 : 0), () => ({ path: '/api/export', responseBytes: 100 }));
    few.send({ path: '/api/export', responseBytes: 90_000_000 });
    expect(few.emitted).toEqual([]);
    const small = new Harness();
    small.run(70, () => 3, () => ({ path: '/tiny', responseBytes: 10 }));
    small.send({ path: '/tiny', responseBytes: 500_000 });
    expect(small.emitted).toEqual([]);
  });
});
