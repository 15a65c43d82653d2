import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layeredLayout } from '../../../agent/web/assets/layered-layout.js';

describe('layered layout', () => {
  it('puts callers left of the services they call', () => {
    const { positions } = layeredLayout(['db', 'api', 'web', 'cache'], [
      { source: 'web', destination: 'api' }, { source: 'api', destination: 'db' }, { source: 'api', destination: 'cache' }, { source: 'web', destination: 'db' },
    ]);
    const layer = (id: string) => positions.get(id)!.layer;
    expect(layer('web')).toBe(0);
    expect(layer('api')).toBe(1);
    expect(layer('db')).toBe(2);
    expect(layer('cache')).toBe(2);
  });

  it('lays out cycles and self-calls without looping', () => {
    const { positions } = layeredLayout(['a', 'b', 'c'], [
      { source: 'a', destination: 'b' }, { source: 'b', destination: 'c' }, { source: 'c', destination: 'a' }, { source: 'b', destination: 'b' },
    ]);
    expect(new Set([...positions.values()].map((p) => p.layer))).toEqual(new Set([0, 1, 2]));
  });

  it('gives every node its own position, deterministically, for any graph', () => {
    const graphs = fc.record({
      n: fc.integer({ min: 1, max: 25 }),
      edges: fc.array(fc.tuple(fc.nat(24), fc.nat(24)), { maxLength: 60 }),
    });
    fc.assert(fc.property(graphs, ({ n, edges }) => {
      const ids = Array.from({ length: n }, (_, i) => `n${i}`);
      const es = edges.filter(([s, d]) => s < n && d < n).map(([s, d]) => ({ source: `n${s}`, destination: `n${d}` }));
      const first = layeredLayout(ids, es);
      const again = layeredLayout([...ids].reverse(), [...es].reverse());
      expect(first.positions.size).toBe(n);
      const spots = new Set([...first.positions.values()].map((p) => `${p.x},${p.y}`));
      expect(spots.size).toBe(n);
      for (const p of first.positions.values()) {
        expect(p.x).toBeLessThanOrEqual(first.width);
        expect(p.y).toBeLessThanOrEqual(first.height);
      }
      expect([...again.positions].sort()).toEqual([...first.positions].sort());
    }));
  });
});
