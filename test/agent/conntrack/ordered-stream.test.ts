import { describe, expect, it } from 'vitest';
import { OrderedStream, MAX_HELD_BYTES, type StreamCounters } from '../../../agent/conntrack/ordered-stream.js';

function harness() {
  const out: string[] = [];
  const counters: StreamCounters = { gaps: 0, gapBytes: 0, duplicates: 0, holdOverflows: 0, uncapturedBytes: 0 };
  const stream = new OrderedStream({
    data: (bytes) => out.push(Buffer.from(bytes).toString()),
    skip: (n) => out.push(`<skip ${n}>`),
  }, counters);
  const push = (pos: number, text: string, len = text.length, now = 0) => stream.push(pos, len, Buffer.from(text), 0, now);
  return { out, counters, stream, push };
}

describe('OrderedStream', () => {
  it('delivers in-order records straight through', () => {
    const h = harness();
    h.push(0, 'abc');
    h.push(3, 'def');
    expect(h.out).toEqual(['abc', 'def']);
    expect(h.stream.nextPos).toBe(6);
  });

  it('holds a copy of a record, not a view of the reused batch buffer', () => {
    const h = harness();
    const batch = Buffer.from('def');
    h.stream.push(3, 3, batch.subarray(0, 3), 0, 0);
    batch.write('XYZ'); // the capture engine refills its batch buffer
    h.push(0, 'abc');
    expect(h.out).toEqual(['abc', 'def']);
  });

  it('reorders records that arrive out of position order', () => {
    const h = harness();
    h.push(3, 'def');
    h.push(6, 'ghi');
    expect(h.out).toEqual([]);
    h.push(0, 'abc');
    expect(h.out).toEqual(['abc', 'def', 'ghi']);
    expect(h.counters.gaps).toBe(0);
  });

  it('passes uncaptured bytes on as a skip without calling them a gap', () => {
    const h = harness();
    h.push(0, 'head', 100);
    h.push(100, 'next');
    expect(h.out).toEqual(['head', '<skip 96>', 'next']);
    expect(h.counters.gaps).toBe(0);
    expect(h.counters.uncapturedBytes).toBe(96);
  });

  it('declares a counted gap when the reorder window expires', () => {
    const h = harness();
    h.push(0, 'abc', 3, 0);
    h.push(10, 'xyz', 3, 5);
    h.stream.expire(100, 200);
    expect(h.out).toEqual(['abc']);
    h.stream.expire(205, 200);
    expect(h.out).toEqual(['abc', '<skip 7>', 'xyz']);
    expect(h.counters).toMatchObject({ gaps: 1, gapBytes: 7 });
  });

  it('drops duplicates and trims overlaps', () => {
    const h = harness();
    h.push(0, 'abcdef');
    h.push(2, 'cd');
    h.push(4, 'efgh');
    expect(h.out).toEqual(['abcdef', 'gh']);
    expect(h.counters.duplicates).toBe(1);
  });

  it('bounds what it holds and counts the overflow as a gap', () => {
    const h = harness();
    const big = 'x'.repeat(64 * 1024);
    for (let i = 1; i <= 20; i++) h.push(i * big.length, big);
    expect(h.stream.heldBytes).toBeLessThanOrEqual(MAX_HELD_BYTES);
    expect(h.counters.holdOverflows).toBeGreaterThan(0);
    expect(h.counters.gaps).toBe(1);
  });
});
