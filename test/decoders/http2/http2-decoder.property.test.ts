import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Http2Decoder } from '../../../decoders/http2/http2-decoder.js';
import { CLIENT_PREFACE, bytes, frame, indexed, literalIndexed, requestBlock, tableSizeUpdate } from './h2-builders.js';
import { fixture } from './decode-helpers.js';

const LIMITS = { maxConcurrentStreams: 16, maxBodyCapture: 512, maxHeaderBlockBytes: 4096, maxHeaderListSize: 4096 };
/** Frame parser (header + kept payload + header block + resync window + one pushed slice) and captured bodies. */
const BUFFER_BOUND = 9 + (4096 + 300) + 4096 + 2 * 65536 + LIMITS.maxConcurrentStreams * LIMITS.maxBodyCapture;

interface Step {
  kind: 'push' | 'skip';
  bytes: Uint8Array;
  skip: number;
}

function drive(side: 'client' | 'server', startsAtConnectionStart: boolean, steps: Step[]): { maxBuffered: number; messages: number } {
  let messages = 0;
  const d = new Http2Decoder({ side, startsAtConnectionStart, ...LIMITS, onMessage: () => messages++, onError: () => {} });
  let maxBuffered = 0;
  let t = 0;
  for (const step of steps) {
    if (step.kind === 'push') d.push(step.bytes, t++);
    else d.skip(step.skip, t++);
    maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
  }
  d.end(t);
  return { maxBuffered, messages };
}

const headerBlockBytes = fc.oneof(
  fc.string({ maxLength: 20 }).map((p) => requestBlock(`/${p}`)),
  fc.array(fc.oneof(fc.integer({ min: 1, max: 70 }).map(indexed), fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 30 }), fc.boolean()).map(([n, v, h]) => literalIndexed(n, v, h)), fc.integer({ min: 0, max: 5000 }).map(tableSizeUpdate)), { maxLength: 8 }).map((r) => r.flat()),
  fc.uint8Array({ maxLength: 40 }).map((a) => [...a]),
);

/** Frames of every type with mostly-valid shapes, flags and stream ids drawn at random. */
const arbitraryFrame = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 300 })).map(
    ([type, flags, id, payload]) => frame(type, flags, id, payload),
  ),
  fc.tuple(fc.constantFrom(1, 9), fc.constantFrom(0, 1, 4, 5), fc.integer({ min: 1, max: 40 }), headerBlockBytes).map(([type, flags, id, block]) => frame(type, flags, id, block)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 40 }), fc.uint8Array({ maxLength: 2000, size: 'max' })).map(([flags, id, payload]) => frame(0, flags, id, payload)),
);

const steps = (chunks: fc.Arbitrary<Uint8Array>) =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: chunks.map((b): Step => ({ kind: 'push', bytes: b, skip: 0 })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((n): Step => ({ kind: 'skip', bytes: new Uint8Array(0), skip: n })) },
    ),
    { maxLength: 30, size: 'max' },
  );

/** Cuts a byte string into pieces at random points. */
const cutInto = (whole: Uint8Array, cuts: number[]) => {
  const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, whole.length]) {
    out.push(whole.subarray(at, p));
    at = p;
  }
  return out;
};

describe('Http2Decoder on random input', () => {
  it('never throws and keeps memory bounded on random bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom('client' as const, 'server' as const), fc.boolean(), steps(fc.uint8Array({ maxLength: 3000, size: 'max' })), (side, start, s) => {
        expect(drive(side, start, s).maxBuffered).toBeLessThanOrEqual(BUFFER_BOUND);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws and keeps memory bounded on random frame sequences cut at random points', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('client' as const, 'server' as const),
        fc.boolean(),
        fc.array(arbitraryFrame, { maxLength: 40, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (side, withPreface, frames, cuts, skipSomewhere) => {
          const whole = bytes(...(withPreface ? [CLIENT_PREFACE] : []), ...frames);
          const pieces = cutInto(whole, cuts);
          const s: Step[] = pieces.map((b) => ({ kind: 'push', bytes: b, skip: 0 }));
          if (skipSomewhere && s.length > 1) s.splice(1, 0, { kind: 'skip', bytes: new Uint8Array(0), skip: 17 });
          expect(drive(side, true, s).maxBuffered).toBeLessThanOrEqual(BUFFER_BOUND);
          expect(drive(side, false, s).maxBuffered).toBeLessThanOrEqual(BUFFER_BOUND);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on recorded traffic with random bytes flipped', () => {
    const f = fixture('grpc-unary');
    fc.assert(
      fc.property(fc.constantFrom('client' as const, 'server' as const), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 5 }), (side, flips, cuts) => {
        const mutated = f[side].slice();
        for (const [at, value] of flips) mutated[at % mutated.length] = value;
        const s: Step[] = cutInto(mutated, cuts).map((b) => ({ kind: 'push', bytes: b, skip: 0 }));
        expect(drive(side, true, s).maxBuffered).toBeLessThanOrEqual(BUFFER_BOUND);
      }),
      { numRuns: 1000 },
    );
  });
});

/** Fields decoded without a trusted table: each must be one of the stream's real fields, in order. */
function expectSubset(fields: readonly (readonly [string, string])[], truthJson: string | undefined): void {
  if (fields.length === 0) return;
  const truth = JSON.parse(truthJson ?? '[]') as [string, string][];
  let at = 0;
  for (const [name, value] of fields) {
    while (at < truth.length && (truth[at]![0] !== name || truth[at]![1] !== value)) at++;
    expect(at < truth.length, `${name}: ${value} is not a field of this stream`).toBe(true);
    at++;
  }
}

describe('Http2Decoder after lost bytes', () => {
  it('never reports wrong header fields, wherever a gap falls in recorded traffic', () => {
    const cases = (['nghttp-concurrent', 'grpc-unary'] as const).flatMap((name) =>
      (['client', 'server'] as const).map((side) => ({ side, input: fixture(name)[side] })),
    );
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.nat(), fc.integer({ min: 1, max: 400 }), ({ side, input }, at, lost) => {
        const truth = new Map<number, string>();
        new Http2Decoder({ side, startsAtConnectionStart: true, onMessage: (m) => truth.set(m.streamId, JSON.stringify(m.headers)), onError: () => {} }).push(input, 0);
        const cut = at % input.length;
        const d = new Http2Decoder({
          side,
          startsAtConnectionStart: true,
          onMessage: (m) => {
            if (m.headersTrusted) expect(JSON.stringify(m.headers)).toBe(truth.get(m.streamId));
            else expectSubset(m.headers, truth.get(m.streamId));
          },
          onError: () => {},
        });
        d.push(input.subarray(0, cut), 0);
        d.skip(Math.min(lost, input.length - cut), 1);
        d.push(input.subarray(Math.min(input.length, cut + lost)), 2);
        d.end(3);
        expect(d.offset).toBe(input.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('reports only right header fields, marked untrusted, when it starts anywhere but the connection start', () => {
    const input = fixture('nghttp-concurrent').client;
    const truth = new Map<number, string>();
    new Http2Decoder({ side: 'client', startsAtConnectionStart: true, onMessage: (m) => truth.set(m.streamId, JSON.stringify(m.headers)), onError: () => {} }).push(input, 0);
    let withFields = 0;
    for (let start = 1; start < input.length; start++) {
      const d = new Http2Decoder({
        side: 'client',
        startsAtConnectionStart: false,
        onMessage: (m) => {
          expect(m.headersTrusted).toBe(false);
          expectSubset(m.headers, truth.get(m.streamId));
          if (m.headers.length > 0) withFields++;
        },
        onError: () => {},
      });
      d.push(input.subarray(start), 0);
      d.end(1);
    }
    // Literal fields (new :path values, say) are still reported from a start mid-connection.
    expect(withFields).toBeGreaterThan(0);
  });
});
