import { describe, expect, it } from 'vitest';
import { anomalyId } from '../../../agent/detect/engine.js';
import { defaultDetectorConfig, resolveDetectorConfig } from '../../../agent/detect/detector-config.js';
import type { Detector, Observation } from '../../../agent/detect/finding.js';
import { anomalyThroughSchema } from '../../../agent/schema/flow.js';
import { Harness } from './engine-harness.js';

function learnt(options?: ConstructorParameters<typeof Harness>[0]): Harness {
  const h = new Harness(options);
  h.run(61, () => 4, (s, n) => ({ path: `/api/orders/${s * 4 + n}` }));
  return h;
}

describe('AnomalyEngine', () => {
  it('keeps one open anomaly per kind, edge and subject, with a stable id and the latest five flows as evidence', () => {
    const h = learnt();
    for (let i = 0; i < 8; i++) h.send({ destination: { workload: 'admin' }, path: `/x/${i}`, timeMs: h.nowMs + i });
    const open = h.engine.anomalies({ state: 'OPEN' });
    expect(open).toHaveLength(1);
    expect(open[0]!.count).toBe('8');
    expect(open[0]!.evidence!.map((f) => f.http.path)).toEqual(['/x/3', '/x/4', '/x/5', '/x/6', '/x/7']);
    expect(open[0]!.id).toMatch(/^[0-9a-f]{20}$/);
    expect(anomalyThroughSchema(open[0]!)).toEqual(open[0]);
    // Same kind, edge and subject in another engine: the same id.
    const again = learnt();
    again.send({ destination: { workload: 'admin' } });
    expect(again.emitted[0]!.id).toBe(open[0]!.id);
    expect(anomalyId('NEW_EDGE', 'a', 'b')).not.toBe(anomalyId('NEW_EDGE', 'a', 'c'));
  });

  it('emits an update at most once per update interval, and the pending one on a later tick', () => {
    const h = learnt({ config: { engine: { updateIntervalMs: 5000 } } });
    h.run(12, () => 10, () => ({ destination: { workload: 'admin' } }));
    const emissions = h.emitted.filter((a) => a.kind === 'NEW_EDGE');
    expect(emissions.length).toBeGreaterThanOrEqual(2);
    expect(emissions.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < emissions.length; i++) {
      expect(Date.parse(emissions[i]!.lastSeen) - Date.parse(emissions[i - 1]!.lastSeen)).toBeGreaterThanOrEqual(4000);
    }
    expect(Number(emissions.at(-1)!.count)).toBeGreaterThan(Number(emissions[0]!.count));
  });

  it('closes an anomaly after the quiet period and emits the CLOSED record once', () => {
    const h = learnt({ config: { engine: { quietMs: 3000 } } });
    h.send({ destination: { workload: 'admin' } });
    h.run(2, () => 4);
    expect(h.engine.anomalies({ state: 'OPEN' })).toHaveLength(1);
    h.run(3, () => 4);
    const closed = h.emitted.filter((a) => a.state === 'CLOSED');
    expect(closed).toHaveLength(1);
    expect(closed[0]!.kind).toBe('NEW_EDGE');
    expect(h.engine.anomalies({ state: 'CLOSED' })).toHaveLength(1);
    expect(h.engine.anomalies({ state: 'OPEN' })).toEqual([]);
  });

  it('accept puts a new edge into the baseline and closes its anomaly; the edge stays quiet after', () => {
    const h = learnt();
    h.send({ destination: { workload: 'admin' }, path: '/a' });
    const id = h.emitted[0]!.id;
    const accepted = h.engine.accept(id)!;
    expect(accepted.state).toBe('CLOSED');
    expect(h.emitted.at(-1)).toMatchObject({ id, state: 'CLOSED' });
    const before = h.emitted.length;
    h.send({ destination: { workload: 'admin' }, path: '/a' });
    expect(h.emitted.length).toBe(before);
    h.send({ destination: { workload: 'admin' }, path: '/b' });
    expect(h.emitted.at(-1)).toMatchObject({ kind: 'NEW_ENDPOINT', endpoint: 'GET /b' });
    expect(h.engine.accept('no-such-id')).toBeUndefined();
  });

  it('accept of a new endpoint adds only that endpoint', () => {
    const h = learnt();
    h.send({ path: '/admin' });
    h.engine.accept(h.emitted[0]!.id);
    h.send({ path: '/admin' });
    h.send({ path: '/debug' });
    expect(h.emitted.filter((a) => a.state === 'OPEN').map((a) => a.endpoint)).toEqual(['GET /admin', 'GET /debug']);
  });

  it('relearn of a workload closes its anomalies and learns its new edges as normal', () => {
    const h = learnt();
    h.send({ source: { workload: 'orders' }, destination: { workload: 'payments' } });
    expect(h.engine.anomalies({ state: 'OPEN' })).toHaveLength(1);
    const result = h.engine.relearn('orders', h.nowMs);
    expect(result.nodes).toEqual(['shop/orders']);
    expect(result.droppedEdges).toBe(2);
    expect(h.engine.anomalies({ state: 'OPEN' })).toEqual([]);
    h.send({ source: { workload: 'orders' }, destination: { workload: 'payments' } });
    h.send({});
    expect(h.engine.anomalies({ state: 'OPEN' })).toEqual([]);
    expect(h.engine.baseline.mode(h.nowMs).relearning).toHaveProperty('shop/orders');
  });

  it('runs other detectors with the observation, and switches any detector off by name', () => {
    const seen: Observation[] = [];
    const probe: Detector = {
      name: 'probe',
      observe: (obs) => {
        seen.push(obs);
        return obs.pathParams[0] === '666'
          ? [{ kind: 'INJECTION', severity: 'HIGH', subject: 'rule', endpoint: obs.endpoint, summary: 's', details: {}, flow: obs.flow }]
          : undefined;
      },
    };
    const h = learnt({ detectors: [probe] });
    expect(seen[0]).toMatchObject({ endpoint: 'GET /api/orders/{id}', pathParams: ['0'], learning: true });
    expect(seen.at(-1)!.learning).toBe(false);
    h.send({ path: '/api/orders/666' });
    expect(h.emitted.map((a) => a.kind)).toEqual(['INJECTION']);
    const off = learnt({ detectors: [probe], config: { engine: { disabled: ['probe', 'graph-change'] } } });
    off.send({ path: '/api/orders/666' });
    off.send({ destination: { workload: 'admin' } });
    expect(off.emitted).toEqual([]);
  });

  it('counts a detector that throws and bad flows, and carries on', () => {
    const broken: Detector = { name: 'broken', observe: () => { throw new Error('bug'); } };
    const h = learnt({ detectors: [broken] });
    expect(h.engine.counters.detectorErrors).toBeGreaterThan(0);
    const { flow, exchange } = { flow: { time: 'garbage' }, exchange: {} } as never;
    h.engine.observe(flow, exchange);
    h.engine.observe({} as never, {} as never);
    expect(h.engine.counters.badFlows).toBe(2);
    h.send({ destination: { workload: 'admin' } });
    expect(h.emitted.map((a) => a.kind)).toEqual(['NEW_EDGE']);
  });

  it('caps open anomalies, closing the least recently seen first', () => {
    const h = learnt({ config: { engine: { maxOpen: 3 } } });
    for (let i = 0; i < 5; i++) h.send({ destination: { workload: `svc${i}` }, timeMs: h.nowMs + i });
    expect(h.engine.anomalies({ state: 'OPEN' }).map((a) => a.destination.workload)).toEqual(['svc4', 'svc3', 'svc2']);
    expect(h.engine.counters.openEvictions).toBe(2);
  });

  it('templates paths with configured routes first', () => {
    const h = new Harness({ config: { engine: { routes: ['/files/:name'] } } });
    const { flow, exchange } = { flow: { time: new Date().toISOString(), protocol: 'HTTP1', http: { method: 'GET', path: '/files/report.pdf?x=1' } }, exchange: {} } as never;
    expect(h.engine.observationOf(flow, exchange, false)).toMatchObject({ endpoint: 'GET /files/{name}', pathParams: ['report.pdf'] });
  });

  it('resolves config sections over the defaults', () => {
    const config = resolveDetectorConfig({ rateSpike: { k: 9 }, engine: { quietMs: 1 } });
    expect(config.rateSpike).toEqual({ ...defaultDetectorConfig.rateSpike, k: 9 });
    expect(config.engine.quietMs).toBe(1);
    expect(config.largeTransfer).toEqual(defaultDetectorConfig.largeTransfer);
  });
});

describe('AnomalyEngine persistence', () => {
  it('keeps open and closed anomalies across a restart; open ones still close when quiet', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-engine-'));
    try {
      const dbPath = join(dir, 'baseline.db');
      const first = learnt({ baseline: { dbPath }, config: { engine: { quietMs: 5000 } } });
      first.send({ destination: { workload: 'admin' } });
      first.send({ path: '/secret' });
      first.engine.accept(first.emitted.find((a) => a.kind === 'NEW_ENDPOINT')!.id);
      first.send({ destination: { workload: 'admin' }, timeMs: first.nowMs + 10 });
      first.engine.close();

      const second = new Harness({ baseline: { dbPath }, config: { engine: { quietMs: 5000 } } });
      second.nowMs = first.nowMs;
      const restored = second.engine.anomalies();
      expect(restored.map((a) => [a.kind, a.state, a.count])).toEqual([['NEW_EDGE', 'OPEN', '2'], ['NEW_ENDPOINT', 'CLOSED', '1']]);
      // Accept still works on an anomaly from the previous run.
      expect(second.engine.accept(restored[0]!.id)).toMatchObject({ state: 'CLOSED' });
      second.send({ destination: { workload: 'admin' } });
      expect(second.emitted.filter((a) => a.state === 'OPEN')).toEqual([]);
      second.engine.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
