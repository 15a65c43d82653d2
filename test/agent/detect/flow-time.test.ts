// flowTimeMs is Date.parse made cheap for the shape the flow clock writes: it
// must give exactly what Date.parse gives, for the clock's own output and for
// anything else a flow's time field could hold.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowTimeMs } from '../../../agent/detect/flow-time.js';
import { MonotonicClock } from '../../../agent/flows/clock.js';

const digits = (n: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));

describe('flowTimeMs', () => {
  it('equals Date.parse on what the clock writes, across seconds, days and years', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_000_000_000 }), fc.array(fc.integer({ min: 0, max: 3e12 }), { maxLength: 20 }), (seconds, steps) => {
      const clock = new MonotonicClock(seconds * 1e9);
      let mono = 0;
      for (const step of steps) {
        mono += step;
        const time = clock.rfc3339(mono);
        expect(flowTimeMs(time)).toBe(Date.parse(time));
      }
    }), { numRuns: 300 });
  });

  it('equals Date.parse on any digits in the clock shape: invalid dates, hour 24, second 60', () => {
    const shaped = fc.tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(9))
      .map(([y, mo, d, h, mi, s, f]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${f}Z`);
    const edges = fc.constantFrom('2026-11-23T24:00:00.000000000Z', '2026-11-23T24:00:00.123456789Z', '2026-11-23T23:59:60.000000000Z',
      '2026-02-30T10:00:00.500000000Z', '0000-01-01T00:00:00.000000000Z', '2026-13-01T00:00:00.000000000Z');
    fc.assert(fc.property(fc.array(fc.oneof(shaped, edges), { minLength: 1, maxLength: 10 }), (times) => {
      for (const time of times) expect(flowTimeMs(time)).toEqual(Date.parse(time));
    }), { numRuns: 500 });
  });

  it('equals Date.parse on other shapes and on text that only looks like a time', () => {
    const mutated = fc.tuple(fc.integer({ min: 0, max: 29 }), fc.char()).map(([at, c]) => {
      const base = '2026-11-23T10:00:00.123456789Z';
      return base.slice(0, at) + c + base.slice(at + 1);
    });
    const other = fc.constantFrom('', 'now', '2026-11-23T10:00:00Z', '2026-11-23T10:00:00.1Z', '2026-11-23T10:00:00.123456789+01:00',
      '2026-11-23 10:00:00.123456789Z', '2026-11-23T10:00:00.123456789z', '+002026-11-23T10:00:00.000Z', '2026-11-23T10:00:00.12345678Z');
    fc.assert(fc.property(fc.array(fc.oneof(mutated, other, fc.string({ maxLength: 32 })), { minLength: 1, maxLength: 10 }), (times) => {
      // Interleaved with valid times, so a remembered second never leaks into a different text.
      for (const time of times) {
        expect(flowTimeMs(time)).toEqual(Date.parse(time));
        expect(flowTimeMs('2026-11-23T10:00:00.987654321Z')).toBe(Date.parse('2026-11-23T10:00:00.987654321Z'));
      }
    }), { numRuns: 500 });
  });
});
