import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { DecodeError, HttpMessage } from '../../../decoders/message.js';
import { HTTP1_ERRORS, Http1Decoder } from '../../../decoders/http1/http1-decoder.js';
import { bytes, concatBytes, decode, loadFixtures, withoutTimes } from './harness.js';

const fixtures = loadFixtures();
const streams = fixtures.flatMap((f) => [
  { side: 'request' as const, data: f.req },
  { side: 'response' as const, data: f.res },
]);

/** Pieces of HTTP/1 syntax, so random streams reach deep states and not only resync. */
const fragments = [
  'GET ', 'POST ', 'HEAD ', 'CONNECT ', '/ ', '/a?b=c ', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.1 200 OK', 'HTTP/1.1 101 x',
  'HTTP/1.1 100 Continue', 'HTTP/1.0 204 ', '\r\n', '\n', '\r', '\r\n\r\n', 'Host: a', 'Content-Length: ',
  'Content-Length: 5', 'Content-Length: -1', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip',
  'Upgrade: h2c', 'Connection: close', '0', '5', 'ff', 'fffffffffffffffff', ';ext=1', '0\r\n\r\n', 'hello',
  ': ', ' ', '\t', '\x00', '\xff', 'X'.repeat(100),
].map((s) => bytes(s));

const tokenSoup = fc
  .array(fc.oneof(fc.constantFrom(...fragments), fc.uint8Array({ minLength: 1, maxLength: 8 })), { maxLength: 80 })
  .map((parts) => concatBytes(...parts));

// Message-shaped streams: plausible start lines, framing headers and bodies, sometimes wrong.
const eol = fc.constantFrom('\r\n', '\r\n', '\n');
const startLine = fc.oneof(
  fc.constantFrom(
    'GET / HTTP/1.1', 'POST /p HTTP/1.0', 'HEAD /h HTTP/1.1', 'CONNECT a:1 HTTP/1.1', 'PUT /x HTTP/2.0',
    'HTTP/1.1 200 OK', 'HTTP/1.0 404 Not Found', 'HTTP/1.1 100 Continue', 'HTTP/1.1 101 Switching', 'HTTP/1.1 204 No',
    'HTTP/1.1 304 NM', 'HTTP/1.1 200',
  ),
  fc.string({ maxLength: 12 }),
);
const header = fc.oneof(
  fc.constantFrom(
    'Host: a', 'Content-Length: 3', 'Content-Length: 0', 'Content-Length: 12', 'Content-Length: 99999999999999999',
    'Content-Length: 3, 4', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip', 'Upgrade: h2c', 'X: \x00',
    'Bad Header', ' folded', 'Connection: close',
  ),
  fc.string({ maxLength: 20 }),
);
const chunk = fc.tuple(fc.constantFrom('3', 'a', '0', 'zz', '3;e=1', 'fffffffffffffffff', ''), eol, fc.string({ maxLength: 12 }), eol)
  .map((p) => p.join(''));
const messageish = fc
  .tuple(startLine, eol, fc.array(fc.tuple(header, eol), { maxLength: 6 }), eol, fc.oneof(fc.string({ maxLength: 15 }), fc.array(chunk, { maxLength: 4 }).map((c) => c.join(''))))
  .map(([sl, e1, hs, e2, body]) => sl + e1 + hs.map(([h, e]) => h + e).join('') + e2 + body);
const messageStream = fc.array(messageish, { minLength: 1, maxLength: 6 }).map((ms) => Buffer.from(ms.join(''), 'latin1'));

const anyStream = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  tokenSoup,
  messageStream,
  messageStream,
  // Mutations of recorded streams: flipped bytes, deleted and duplicated ranges, truncation.
  fc
    .record({
      i: fc.nat({ max: streams.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })), {
        maxLength: 6,
      }),
    })
    .map(({ i, edits }) => {
      let data = streams[i]!.data;
      for (const [at0, len, kind, byte] of edits) {
        const at = data.length ? at0 % data.length : 0;
        if (kind === 0) data = concatBytes(data.subarray(0, at), new Uint8Array([byte]), data.subarray(at + 1));
        else if (kind === 1) data = concatBytes(data.subarray(0, at), data.subarray(at + len));
        else if (kind === 2) data = concatBytes(data.subarray(0, at + len), data.subarray(at));
        else data = data.subarray(0, at);
      }
      return data;
    }),
);

const settings = fc.record({
  side: fc.constantFrom('request' as const, 'response' as const),
  maxHeaderBytes: fc.integer({ min: 64, max: 512 }),
  maxHeaders: fc.integer({ min: 1, max: 20 }),
  maxBodyCapture: fc.integer({ min: 0, max: 64 }),
  cuts: fc.array(fc.nat({ max: 4000 }), { maxLength: 20 }).map((c) => c.sort((a, b) => a - b)),
});

function checkMessages(messages: HttpMessage[], length: number) {
  let last = 0;
  for (const m of messages) {
    expect(m.startOffset).toBeGreaterThanOrEqual(last);
    expect(m.endOffset).toBeGreaterThanOrEqual(m.startOffset + m.headerBytes);
    expect(m.endOffset).toBeLessThanOrEqual(length);
    expect(m.bodyBytes).toBeGreaterThanOrEqual(0);
    last = m.endOffset;
  }
}

describe('property', () => {
  test('any byte stream decodes without throwing, within bounds, identically however it is split', () => {
    fc.assert(
      fc.property(anyStream, settings, (data, s) => {
        const methods = ['GET', 'HEAD', undefined, 'CONNECT'];
        let k = 0;
        const opts = { maxHeaderBytes: s.maxHeaderBytes, maxHeaders: s.maxHeaders, maxBodyCapture: s.maxBodyCapture };
        const whole = decode(s.side, data, { ...opts, requestMethod: () => methods[k++ % 4] });
        k = 0;
        const split = decode(s.side, data, { ...opts, cuts: s.cuts, requestMethod: () => methods[k++ % 4] });
        for (const out of [whole, split]) {
          expect(out.errors.filter((e) => e.code === HTTP1_ERRORS.INTERNAL)).toEqual([]);
          expect(out.maxBuffered).toBeLessThanOrEqual(s.maxHeaderBytes);
          checkMessages(out.messages, data.length);
        }
        expect(withoutTimes(split.messages)).toEqual(withoutTimes(whole.messages));
        expect(split.errors).toEqual(whole.errors);
      }),
      { numRuns: Number(process.env.HTTP1_FUZZ_RUNS ?? 1500) },
    );
  });

  test('interleaved pushes, skips, resumes and stops never throw and keep buffered bytes bounded', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), data: anyStream }),
      fc.record({ kind: fc.constant('skip' as const), n: fc.integer({ min: -5, max: 5000 }) }),
      fc.record({ kind: fc.constantFrom('resume' as const, 'stop' as const, 'end' as const) }),
    );
    fc.assert(
      fc.property(settings, fc.array(op, { maxLength: 25 }), (s, ops) => {
        const errors: DecodeError[] = [];
        let received = 0;
        const dec = new Http1Decoder({
          side: s.side,
          maxHeaderBytes: s.maxHeaderBytes,
          maxHeaders: s.maxHeaders,
          maxBodyCapture: s.maxBodyCapture,
          onMessage: () => {},
          onError: (e) => errors.push(e),
          requestMethod: () => 'GET',
        });
        for (const o of ops) {
          if (o.kind === 'push') {
            dec.push(o.data, received);
            received += o.data.length;
          } else if (o.kind === 'skip') {
            dec.skip(o.n, received);
            received += Math.max(0, o.n);
          } else if (o.kind === 'resume') dec.resume();
          else if (o.kind === 'stop') dec.stop();
          else dec.end(received);
          expect(dec.bufferedBytes).toBeLessThanOrEqual(s.maxHeaderBytes);
          expect(dec.offset).toBe(received);
        }
        expect(errors.filter((e) => e.code === HTTP1_ERRORS.INTERNAL)).toEqual([]);
        for (const e of errors) expect(e.offset).toBeLessThanOrEqual(received);
      }),
      { numRuns: Number(process.env.HTTP1_FUZZ_RUNS ?? 1500) },
    );
  });
});
