// An open anomaly's count and lastSeen are brought up to date when its record
// is read (emitted, listed, accepted, stored), not on every finding: every
// reader must still see the latest figures.
import { describe, expect, it } from 'vitest';
import { anomalyId } from '../../../agent/detect/engine.js';
import { Harness } from './engine-harness.js';

function learnt(options?: ConstructorParameters<typeof Harness>[0]): Harness {
  const h = new Harness(options);
  h.run(61, () => 4, (s, n) => ({ path: `/api/orders/${s * 4 + n}` }));
  return h;
}

describe('AnomalyEngine records between emissions', () => {
  it('lists, closes and accepts with the latest count and lastSeen', () => {
    const h = learnt({ config: { engine: { updateIntervalMs: 60_000, quietMs: 3000 } } });
    const start = h.nowMs;
    for (let i = 0; i < 5; i++) h.send({ destination: { workload: 'admin' }, timeMs: start + 100 * i });
    expect(h.emitted.filter((a) => a.kind === 'NEW_EDGE')).toHaveLength(1);
    const [open] = h.engine.anomalies({ state: 'OPEN' });
    expect([open!.count, open!.lastSeen]).toEqual(['5', new Date(start + 400).toISOString()]);
    // The id is the hash of kind, edge and subject, however often it was found.
    const edge = [...h.engine.baseline.edges()].find((e) => e.destination.workload === 'admin')!;
    expect(open!.id).toBe(anomalyId('NEW_EDGE', edge.key, 'edge'));

    h.send({ destination: { workload: 'admin' }, timeMs: start + 900 });
    h.run(4, () => 1);
    const closed = h.emitted.filter((a) => a.state === 'CLOSED');
    expect(closed.map((a) => [a.count, a.lastSeen])).toEqual([['6', new Date(start + 900).toISOString()]]);
    expect(h.engine.accept(open!.id)).toMatchObject({ count: '6', lastSeen: new Date(start + 900).toISOString() });
  });
});
