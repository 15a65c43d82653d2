import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../agent/config/units.js';

describe('duration strings', () => {
  it.each([
    ['250ms', 250], ['30s', 30_000], ['5m', 300_000], ['24h', 86_400_000], ['7d', 604_800_000], ['1h30m', 5_400_000], ['1.5s', 1500],
  ])('reads %s as %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '30', '5 minutes', '-5s', 's', '1h 30m', '5M'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());

  it('writes every whole-millisecond duration so that it reads back the same', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 200 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});

describe('size strings', () => {
  it.each([
    [4096, 4096], ['4096', 4096], ['64KiB', 65536], ['1MiB', 1 << 20], ['10MB', 10_000_000], ['2 KiB', 2048], ['0', 0],
  ] as Array<[string | number, number]>)('reads %j as %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', '12 bananas', '-1', '1.5', '0.3KiB', 'KiB'])('rejects %j', (text) => expect(parseSize(text)).toBeUndefined());

  it('writes every size so that it reads back the same', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (bytes) => parseSize(formatSize(bytes)) === bytes));
  });
});
