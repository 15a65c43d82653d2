import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DDSketch } from '../../../agent/baseline/ddsketch.js';

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function lognormal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('DDSketch', () => {
  it('answers every quantile within its relative accuracy on a skewed distribution', () => {
    const random = seeded(7);
    const values = Array.from({ length: 50_000 }, () => lognormal(random));
    const sketch = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of values) sketch.add(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(sketch.quantile(q) - exact) / exact).toBeLessThanOrEqual(0.01 + 1e-9);
    }
    expect(sketch.count).toBe(values.length);
    expect(sketch.min).toBe(sorted[0]);
    expect(sketch.max).toBe(sorted[sorted.length - 1]);
  });

  it('keeps the relative accuracy for any input (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.001, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const sketch = new DDSketch({ relativeAccuracy: 0.02 });
        for (const v of values) sketch.add(v);
        const exact = exactQuantile([...values].sort((a, b) => a - b), q);
        expect(Math.abs(sketch.quantile(q) - exact)).toBeLessThanOrEqual(exact * 0.02 + 1e-9);
      }),
    );
  });

  it('merges into the same answers as one sketch fed everything', () => {
    const random = seeded(11);
    const whole = new DDSketch();
    const parts = [new DDSketch(), new DDSketch(), new DDSketch()];
    for (let i = 0; i < 30_000; i++) {
      const v = lognormal(random);
      whole.add(v);
      parts[i % 3]!.add(v);
    }
    const merged = new DDSketch();
    for (const p of parts) merged.merge(p);
    expect(merged.count).toBe(whole.count);
    for (const q of [0.1, 0.5, 0.9, 0.99]) expect(merged.quantile(q)).toBe(whole.quantile(q));
  });

  it('refuses to merge sketches of different accuracy', () => {
    expect(() => new DDSketch({ relativeAccuracy: 0.01 }).merge(new DDSketch({ relativeAccuracy: 0.02 }))).toThrow(RangeError);
  });

  it('collapses the lowest buckets past the cap and keeps the high quantiles accurate', () => {
    const sketch = new DDSketch({ relativeAccuracy: 0.01, maxBuckets: 64 });
    const values: number[] = [];
    for (let i = 0; i < 10_000; i++) values.push(Math.pow(10, (i % 1000) / 100)); // 1 … 1e10
    for (const v of values) sketch.add(v);
    expect(sketch.bucketCount).toBeLessThanOrEqual(64);
    expect(sketch.collapses).toBeGreaterThan(0);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.99, 0.999]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(sketch.quantile(q) - exact) / exact).toBeLessThanOrEqual(0.01 + 1e-9);
    }
  });

  it('puts zeros in their own bucket and ignores negative and NaN values', () => {
    const sketch = new DDSketch();
    for (let i = 0; i < 10; i++) sketch.add(0);
    sketch.add(-5);
    sketch.add(NaN);
    sketch.add(100);
    expect(sketch.count).toBe(11);
    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(1)).toBe(100);
  });

  it('round-trips through its compact bytes', () => {
    const random = seeded(3);
    const sketch = new DDSketch({ maxBuckets: 300 });
    for (let i = 0; i < 5000; i++) sketch.add(lognormal(random));
    sketch.add(0);
    const bytes = sketch.toBytes();
    expect(bytes.length).toBeLessThan(1000);
    const back = DDSketch.fromBytes(bytes);
    expect(back.count).toBe(sketch.count);
    expect(back.maxBuckets).toBe(300);
    for (const q of [0, 0.01, 0.5, 0.99, 1]) expect(back.quantile(q)).toBe(sketch.quantile(q));
  });

  it('rejects truncated bytes with a RangeError', () => {
    const sketch = new DDSketch();
    for (let i = 1; i < 100; i++) sketch.add(i);
    const bytes = sketch.toBytes();
    expect(() => DDSketch.fromBytes(bytes.slice(0, 20))).toThrow(RangeError);
    expect(() => DDSketch.fromBytes(bytes.slice(0, bytes.length - 3))).toThrow(RangeError);
  });
});
