import { describe, expect, test } from 'vitest';
import type { HttpMessage } from '../../../decoders/message.js';
import { HTTP1_ERRORS as E, Http1Decoder } from '../../../decoders/http1/http1-decoder.js';
import { concatBytes, decode, withoutTimes } from './harness.js';

const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
const nextResponse = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const MAX = 1024;

interface Case {
  name: string;
  side: 'request' | 'response';
  input: Uint8Array;
  errors: [code: string, offset: number][];
  /** The valid message that follows the garbage, by target or status, and where it starts. */
  recovers: [what: string, startOffset: number];
}

const req = (name: string, bad: string | Uint8Array, errors: Case['errors']): Case => {
  const input = concatBytes(bad, next);
  return { name, side: 'request', input, errors, recovers: ['/next', input.length - next.length] };
};
const res = (name: string, bad: string | Uint8Array, errors: Case['errors']): Case => {
  const input = concatBytes(bad, nextResponse);
  return { name, side: 'response', input, errors, recovers: ['200', input.length - nextResponse.length] };
};

const chunkedPost = 'POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'; // 49 bytes
const chunkedResponse = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'; // 47 bytes

const cases: Case[] = [
  req('a header line longer than maxHeaderBytes', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`, [[E.HEADER_TOO_LARGE, MAX]]),
  req('a header section that never ends with an empty line', `GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(200)}`, [[E.HEADER_TOO_LARGE, MAX]]),
  req('a start line with no line feed before the limit', `GET /${'a'.repeat(2000)}`, [[E.HEADER_TOO_LARGE, MAX]]),
  req('a NUL byte inside a header value', 'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n', [[E.BAD_HEADER, 16]]),
  req('a space between header name and colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', [[E.BAD_HEADER, 16]]),
  req('a header line without a colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', [[E.BAD_HEADER, 16]]),
  req('TLS bytes glued to the next request', new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1]), [[E.BAD_START_LINE, 0]]),
  req('binary garbage containing line feeds', new Uint8Array([0xff, 0x0a, 0x00, 0x0d, 0x0a, 0x47, 0x0a, 0x80, 0x0a]), [[E.BAD_START_LINE, 0]]),
  req('a lowercase method', 'get / HTTP/1.1\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  req('an HTTP/2.0 version in a request line', 'GET / HTTP/2.0\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  req('a method of more than 20 letters', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  req('a control character inside the request target', 'GET /a\x01b HTTP/1.1\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  req('a negative Content-Length', 'POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n', [[E.BAD_CONTENT_LENGTH, 17]]),
  req('a Content-Length that is not a number', 'POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n', [[E.BAD_CONTENT_LENGTH, 17]]),
  req('a Content-Length above 2^53 - 1', 'POST / HTTP/1.1\r\nContent-Length: 9007199254740992\r\n\r\n', [[E.CONTENT_LENGTH_OVERFLOW, 17]]),
  req('a Content-Length of twenty digits', 'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n', [[E.CONTENT_LENGTH_OVERFLOW, 17]]),
  req('two Content-Length headers that disagree', 'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', [[E.CONFLICTING_CONTENT_LENGTH, 36]]),
  req('a Content-Length list that disagrees', 'POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello', [[E.CONFLICTING_CONTENT_LENGTH, 17]]),
  req('a request Transfer-Encoding that does not end in chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', [[E.BAD_TRANSFER_ENCODING, 0]]),
  req('a chunk size of 2^53', `${chunkedPost}20000000000000\r\nxx\r\n`, [[E.CHUNK_SIZE_OVERFLOW, 49]]),
  req('a chunk size of 17 hex digits', `${chunkedPost}00000000000000001\r\nx\r\n0\r\n\r\n`, [[E.CHUNK_SIZE_OVERFLOW, 49]]),
  req('a chunk size that is not hex', `${chunkedPost}zz\r\nxx\r\n`, [[E.BAD_CHUNK_SIZE, 49]]),
  req('a negative chunk size', `${chunkedPost}-1\r\nxx\r\n`, [[E.BAD_CHUNK_SIZE, 49]]),
  req('an empty chunk size line', `${chunkedPost}\r\nxx\r\n`, [[E.BAD_CHUNK_SIZE, 49]]),
  req('chunk data longer than its size', `${chunkedPost}3\r\nabcdef\r\n0\r\n\r\n`, [[E.BAD_CHUNK_END, 55]]),
  req('a NUL byte in a trailer field', `${chunkedPost}1\r\na\r\n0\r\nX-T: \x00\r\n\r\n`, [[E.BAD_HEADER, 58]]),
  res('a status code that is not three digits', 'HTTP/1.1 2000 OK\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  res('a status line of another protocol', 'RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n', [[E.BAD_START_LINE, 0]]),
  res('binary garbage before a response', new Uint8Array([0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]), [[E.BAD_START_LINE, 0]]),
  res('a response chunk size of 17 hex digits', `${chunkedResponse}fffffffffffffffff\r\n`, [[E.CHUNK_SIZE_OVERFLOW, 47]]),
  res('conflicting response Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx\r\n', [[E.CONFLICTING_CONTENT_LENGTH, 36]]),
  res('response headers over the limit', `HTTP/1.1 200 OK\r\nSet-Cookie: ${'c'.repeat(5000)}\r\n\r\n`, [[E.HEADER_TOO_LARGE, MAX]]),
];

function what(m: HttpMessage): string {
  return m.type === 'request' ? m.target : String(m.status);
}

describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  test('reports the error code and offset, then decodes the next valid message', () => {
    const out = decode(c.side, c.input, { maxHeaderBytes: MAX, requestMethod: () => 'GET' });
    expect(out.errors.map((e) => [e.code, e.offset])).toEqual(c.errors);
    const last = out.messages[out.messages.length - 1];
    expect(last && [what(last), last.startOffset]).toEqual(c.recovers);
    expect(last?.endOffset).toBe(c.input.length);
    expect(out.maxBuffered).toBeLessThanOrEqual(MAX);
  });

  test('gives the same errors and messages when split at every byte position', () => {
    const whole = decode(c.side, c.input, { maxHeaderBytes: MAX, requestMethod: () => 'GET' });
    for (let i = 1; i < c.input.length; i++) {
      const split = decode(c.side, c.input, { maxHeaderBytes: MAX, cuts: [i], requestMethod: () => 'GET' });
      expect(split.errors).toEqual(whole.errors);
      expect(withoutTimes(split.messages)).toEqual(withoutTimes(whole.messages));
    }
  });
});

test('every error code is a stable FLOWSCOPE_ERR_HTTP1_ string', () => {
  for (const [key, code] of Object.entries(E)) expect(code).toBe(`FLOWSCOPE_ERR_HTTP1_${key}`);
});

test('an overlong header section whose line ends right where discarding starts recovers without an internal error', () => {
  // Found by the interleaved-operations property (seed 1135179488): a folded line pushes the
  // header section over a 71-byte limit exactly at a bare LF.
  const bytes = Buffer.from('HTTP/1.1 100 Continue\r\nTransfer-Encoding: gzip\r\nUpgrade: h2c\r\n folded\r\n\nGET / HTTP/1.1\r\n\r\n', 'latin1');
  const errors: string[] = [];
  const dec = new Http1Decoder({ side: 'response', maxHeaderBytes: 71, maxHeaders: 2, onMessage: () => {}, onError: (e) => errors.push(e.code) });
  dec.push(bytes, 0);
  expect(errors).toEqual([E.HEADER_TOO_LARGE]);
  expect(dec.offset).toBe(bytes.length);
});
