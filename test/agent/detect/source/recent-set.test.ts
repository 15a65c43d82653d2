// RecentSet against the plain model it must equal: a map kept in order of
// last sight, expired from the front, the least recently seen value forgotten
// past the cap. Times go forwards and, as flows' times do, sometimes back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../../../agent/detect/source/recent-set.js';

class ModelSet {
  readonly seen = new Map<string, number>();
  evictions = 0;
  constructor(readonly windowMs: number, readonly cap: number) {}
  expire(nowMs: number): void {
    for (const [value, at] of [...this.seen]) {
      if (at > nowMs - this.windowMs) break;
      this.seen.delete(value);
    }
  }
  add(value: string, nowMs: number): boolean {
    this.expire(nowMs);
    const isNew = !this.seen.has(value);
    this.seen.delete(value);
    this.seen.set(value, nowMs);
    if (this.seen.size > this.cap) {
      this.seen.delete(this.seen.keys().next().value as string);
      this.evictions++;
    }
    return isNew;
  }
  count(nowMs: number): number {
    this.expire(nowMs);
    return this.seen.size;
  }
}

describe('RecentSet', () => {
  it('answers as the model does for any sequence of adds and counts', () => {
    const op = fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.integer({ min: -300, max: 1000 }));
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 100, max: 3000 }), fc.array(op, { maxLength: 120 }), (cap, windowMs, ops) => {
      const set = new RecentSet(windowMs, cap);
      const model = new ModelSet(windowMs, cap);
      let now = 1_000_000;
      for (const [isAdd, value, step] of ops) {
        now += step;
        if (isAdd) expect(set.add(value, now)).toBe(model.add(value, now));
        else expect(set.count(now)).toBe(model.count(now));
        expect([...set.values()]).toEqual([...model.seen.keys()]);
        expect(set.evictions).toBe(model.evictions);
      }
    }), { numRuns: 400 });
  });
});
