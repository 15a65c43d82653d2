// Hostile input never makes a detector throw: arbitrary targets, header
// values, bodies and statuses through every content and per-source detector.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createContentDetectors } from '../../../../agent/detect/content/index.js';
import type { Observation } from '../../../../agent/detect/finding.js';
import { createSourceDetectors } from '../../../../agent/detect/source/index.js';
import { ObservationFactory } from './http-observations.js';

describe('detectors on arbitrary input', () => {
  it('never throw, whatever the request and response carry', () => {
    const base = new ObservationFactory().observe({ target: '/' }, { status: 200 });
    const detectors = [...createContentDetectors(), ...createSourceDetectors()];
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.fullUnicodeString({ maxLength: 100 }),
      fc.constantFrom('${', '%', '%%2', 'eyJ.eyJ.', '\\u00', '{{', "' or ", '-----BEGIN', '4111 1111 1111 1111'));
    fc.assert(fc.property(
      text, fc.array(fc.tuple(text, text), { maxLength: 6 }), fc.uint8Array({ maxLength: 400 }), fc.option(fc.integer({ min: 0, max: 999 })),
      fc.array(text, { maxLength: 3 }), fc.boolean(),
      (target, headers, body, status, pathParams, learning) => {
        const obs: Observation = {
          ...base, learning, pathParams, endpoint: `GET ${target}`,
          flow: { ...base.flow, http: { ...base.flow.http, ...(status === null ? { status: undefined } : { status }) } },
          exchange: {
            ...base.exchange,
            request: { ...base.exchange.request, target, headers, body },
            response: { ...base.exchange.response!, headers, body },
          },
        };
        for (const detector of detectors) expect(() => detector.observe(obs)).not.toThrow();
      }), { numRuns: 500 });
  });
});
