// The length table may only skip names that cannot lower-case to a wanted one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lengthsOf } from '../../../../agent/detect/content/header-lookup.js';

const WANTED = ['authorization', 'cookie', 'x-api-key', 'content-encoding', 'proxy-authorization'];
const name = fc.oneof(
  fc.constantFrom(...WANTED),
  fc.constantFrom(...WANTED).map((n) => n.toUpperCase()),
  fc.constantFrom('Authorization', 'X-API-\u212Aey', 'Content-Encodin\u0130', '\u0130', 'COOKIE', 'x-api-kei\u0307'),
  fc.fullUnicodeString({ maxLength: 20 }),
);

describe('header lookups', () => {
  it('lengthsOf skips no name that lower-cases to a wanted one', () => {
    const lengths = lengthsOf(WANTED);
    const wanted = new Set(WANTED);
    fc.assert(fc.property(name, (n) => {
      if (wanted.has(n.toLowerCase())) expect(lengths[n.length]).toBe(true);
    }), { numRuns: 2000 });
    for (let c = 0; c < 0x10000; c++) {
      // Every single character that lower-cases into ASCII keeps its length (Kelvin sign → k).
      const lower = String.fromCharCode(c).toLowerCase();
      if (/^[\x00-\x7f]+$/.test(lower)) expect(lower.length).toBe(1);
    }
  });
});
