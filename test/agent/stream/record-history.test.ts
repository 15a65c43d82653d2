// The packed history: the newest records come back exactly as published, in
// order, whatever their sizes; the byte ring never hands back a record that a
// later one overwrote.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PackedRecordHistory } from '../../../agent/stream/record-history.js';

const json = (record: object): Uint8Array => Buffer.from(JSON.stringify(record));
const push = (history: PackedRecordHistory, seq: number, record: object): void => history.push(seq, json(record));
const all = (): boolean => true;

describe('PackedRecordHistory', () => {
  it('keeps the last N records and parses them back in publish order', () => {
    const history = new PackedRecordHistory(5);
    for (let seq = 0; seq < 12; seq++) push(history, seq, { n: seq, path: `/items/${seq}` });
    expect(history.size).toBe(5);
    const entries = history.lastMatching(10, all);
    expect(entries.map((e) => e.seq)).toEqual([7, 8, 9, 10, 11]);
    expect(entries.map((e) => e.record)).toEqual([7, 8, 9, 10, 11].map((n) => ({ n, path: `/items/${n}` })));
    expect(history.lastMatching(2, (r) => (r as { n: number }).n % 2 === 0).map((e) => e.seq)).toEqual([8, 10]);
  });

  it('does not keep a record larger than its whole buffer, and keeps the others', () => {
    const history = new PackedRecordHistory(2);
    push(history, 1, { a: 1 });
    push(history, 2, { big: 'x'.repeat(8192) });
    push(history, 3, { b: 'ü' });
    expect(history.tooLarge).toBe(1);
    expect(history.lastMatching(5, all).map((e) => e.record)).toEqual([{ a: 1 }, { b: 'ü' }]);
  });

  it('grows to about what N records of the sizes seen take, in a few steps', () => {
    const history = new PackedRecordHistory(10_000);
    const sizes = new Set<number>();
    for (let seq = 0; seq < 10_000; seq++) {
      push(history, seq, { seq, path: `/api/v1/items/${seq % 100}`, pad: 'x'.repeat(600 + (seq % 40)) });
      sizes.add(history.bufferBytes);
    }
    expect(history.size).toBe(10_000);
    const needed = history.lastMatching(10_000, all).reduce((sum, e) => sum + json(e.record).length, 0);
    expect(history.bufferBytes).toBeGreaterThanOrEqual(needed);
    expect(history.bufferBytes).toBeLessThan(needed * 1.25);
    expect(sizes.size).toBeLessThanOrEqual(4);
  });

  it('whatever the sizes, what it returns is exactly the newest records, uncorrupted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ text: fc.string({ maxLength: 3000 }), pad: fc.nat({ max: 5000 }) }), { maxLength: 60 }),
        (capacity, records) => {
          const history = new PackedRecordHistory(capacity);
          const published: { seq: number; record: object }[] = [];
          records.forEach(({ text, pad }, seq) => {
            const record = { seq, text, pad: '-'.repeat(pad) };
            push(history, seq, record);
            if (json(record).length <= capacity * 2048) published.push({ seq, record });
            const kept = history.lastMatching(capacity, all);
            expect(kept.length).toBe(history.size);
            expect(kept.length > 0).toBe(published.length > 0);
            // A suffix of what was kept-able, newest included; all of it while it fits in N × 2 KiB.
            expect(kept).toEqual(published.slice(-kept.length));
            const recent = published.slice(-capacity);
            const bytes = recent.reduce((sum, p) => sum + json(p.record).length, 0);
            if (bytes <= (capacity * 2048) / 2) expect(kept.length).toBe(recent.length);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
