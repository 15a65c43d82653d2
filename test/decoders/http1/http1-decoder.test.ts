import { describe, expect, test } from 'vitest';
import type { DecodeError, HttpMessage } from '../../../decoders/message.js';
import { HTTP1_ERRORS as E, Http1Decoder, type Http1DecoderOptions } from '../../../decoders/http1/http1-decoder.js';
import { bytes, decode } from './harness.js';

function make(side: 'request' | 'response', opts: Partial<Http1DecoderOptions> = {}) {
  const messages: HttpMessage[] = [];
  const errors: DecodeError[] = [];
  const dec = new Http1Decoder({ side, onMessage: (m) => messages.push(m), onError: (e) => errors.push(e), ...opts });
  const push = (s: string | Uint8Array, t = 0) => dec.push(typeof s === 'string' ? bytes(s) : s, t);
  const codes = () => errors.map((e) => [e.code, e.offset]);
  return { dec, messages, errors, push, codes };
}

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
const status = (m: HttpMessage | undefined) => (m?.type === 'response' ? m.status : undefined);
const target = (m: HttpMessage | undefined) => (m?.type === 'request' ? m.target : undefined);

describe('message framing', () => {
  test('many pipelined requests in one push are each emitted with their offsets', () => {
    const { push, messages, errors } = make('request');
    const one = GET('/x');
    push(one.repeat(50));
    expect(errors).toEqual([]);
    expect(messages).toHaveLength(50);
    expect(messages[49]!.startOffset).toBe(49 * one.length);
    expect(messages[49]!.endOffset).toBe(50 * one.length);
  });

  test('a response to HEAD has no body even with a Content-Length', () => {
    const { push, messages } = make('response', { requestMethod: () => 'HEAD' });
    push('HTTP/1.1 200 OK\r\nContent-Length: 63\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(messages.map((m) => m.bodyBytes)).toEqual([0, 0]);
  });

  test('204 and 304 responses have no body', () => {
    const { push, messages } = make('response', { requestMethod: () => 'GET' });
    push('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    expect(messages.map(status)).toEqual([204, 304, 200]);
    expect(messages.map((m) => m.bodyBytes)).toEqual([0, 0, 1]);
  });

  test('interim 1xx responses are emitted and do not consume the request method', () => {
    const methods = ['HEAD', 'GET'];
    const { push, messages } = make('response', { requestMethod: () => methods.shift() });
    push('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
    push('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(messages.map(status)).toEqual([100, 103, 200, 200]);
    expect(messages.map((m) => m.bodyBytes)).toEqual([0, 0, 0, 2]);
    expect(methods).toEqual([]);
  });

  test('an unknown request method is treated as neither HEAD nor CONNECT', () => {
    const { push, messages, dec } = make('response', { requestMethod: () => undefined });
    push('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
    expect(messages[0]!.bodyBytes).toBe(3);
    expect(dec.stopped).toBe(false);
  });

  test('a response without length runs until the connection closes, even on HTTP/1.1', () => {
    const { push, messages, dec } = make('response', { requestMethod: () => 'GET', maxBodyCapture: 100 });
    push('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome', 1);
    push(' body HTTP/1.1 200 OK\r\n', 2);
    expect(messages).toHaveLength(0);
    dec.end(3);
    expect(messages[0]!.bodyBytes).toBe('some body HTTP/1.1 200 OK\r\n'.length);
    expect(messages[0]!.endNs).toBe(2);
    expect(Buffer.from(messages[0]!.body!).toString()).toBe('some body HTTP/1.1 200 OK\r\n');
  });

  test('Transfer-Encoding wins over Content-Length, and only a final chunked coding means chunked', () => {
    const { push, messages, errors, dec } = make('response', { requestMethod: () => 'GET' });
    push('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    push('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n');
    dec.end(0);
    expect(errors).toEqual([]);
    expect(messages.map((m) => m.bodyBytes)).toEqual([3, 8]);
  });

  test('identical repeated Content-Length values are one length', () => {
    const { push, messages, errors } = make('request');
    push('POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 003\r\n\r\nabc' + GET('/n'));
    expect(errors).toEqual([]);
    expect(messages.map((m) => m.bodyBytes)).toEqual([3, 0]);
  });

  test('bare LF line endings, stray empty lines and folded headers are accepted', () => {
    const { push, messages, errors } = make('request');
    push('\r\n\nGET /lf HTTP/1.0\nHost: a\nX-Fold: one\n  two\n\n' + GET('/crlf'));
    expect(errors).toEqual([]);
    expect(messages.map(target)).toEqual(['/lf', '/crlf']);
    expect(messages[0]!.headers).toEqual([['Host', 'a'], ['X-Fold', 'one two']]);
    expect(messages[0]!.startOffset).toBe(3);
  });

  test('obs-text bytes in header values are decoded as latin1', () => {
    const { push, messages } = make('request');
    push(new Uint8Array([...bytes('GET / HTTP/1.1\r\nX-A: caf'), 0xe9, 0x80, ...bytes('\r\n\r\n')]));
    expect(messages[0]!.headers[0]).toEqual(['X-A', 'caf\u00e9\u0080']);
  });

  test('chunked bodies count decoded payload bytes, with extensions and trailers', () => {
    const { push, messages, errors } = make('request', { maxBodyCapture: 4 });
    push('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c="d"\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n');
    expect(errors).toEqual([]);
    expect(messages[0]!.bodyBytes).toBe(11);
    expect(Buffer.from(messages[0]!.body!).toString()).toBe('hell');
    expect(messages[0]!.bodyTruncated).toBe(true);
  });

  test('maxHeaders bounds the number of header fields', () => {
    const { push, codes, messages } = make('request', { maxHeaders: 2 });
    push('GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n' + GET('/n'));
    expect(codes()).toEqual([[E.TOO_MANY_HEADERS, 28]]);
    expect(messages.map(target)).toEqual(['/n']);
  });
});

describe('times and offsets', () => {
  test('startNs and endNs come from the pushes holding the first and last byte', () => {
    const { push, messages, dec } = make('request');
    push('POST /t HTT', 10);
    push('P/1.1\r\nContent-Length: 4\r\n\r\nab', 20);
    push('cd', 30);
    expect(messages[0]).toMatchObject({ startNs: 10, endNs: 30, startOffset: 0, headerBytes: 39, bodyBytes: 4, endOffset: 43 });
    expect(dec.offset).toBe(43);
    expect(dec.bufferedBytes).toBe(0);
  });

  test('a message found by resync inside a spanning line takes the time of its own first byte', () => {
    const { push, messages, codes } = make('request');
    push('\x00\x01garbage', 5);
    push('GET /r HTTP/1.1\r\n\r\n', 6);
    expect(codes()).toEqual([[E.BAD_START_LINE, 0]]);
    expect(messages[0]).toMatchObject({ startNs: 6, startOffset: 9 });
  });
});

describe('gaps from skip()', () => {
  test('a gap inside a Content-Length body is consumed and marks the body truncated', () => {
    const { push, dec, messages, errors } = make('request', { maxBodyCapture: 100 });
    push('POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab');
    dec.skip(5, 1);
    push('cde' + GET('/n'), 2);
    expect(errors).toEqual([]);
    expect(messages[0]).toMatchObject({ bodyBytes: 10, bodyTruncated: true, endNs: 2 });
    expect(Buffer.from(messages[0]!.body!).toString()).toBe('abcde');
    expect(target(messages[1])).toBe('/n');
  });

  test('a gap that runs past the end of a body completes it, then reports the rest and resyncs', () => {
    const { push, dec, messages, codes } = make('request');
    const head = 'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n';
    push(head + 'ab');
    dec.skip(20, 1);
    push('tail of something\r\n' + GET('/n'), 2);
    expect(codes()).toEqual([[E.GAP, head.length + 10]]);
    expect(messages.map((m) => [target(m), m.bodyTruncated, m.endNs])).toEqual([['/', true, 1], ['/n', false, 2]]);
  });

  test('a gap inside a chunk is consumed; the chunk framing continues after it', () => {
    const { push, dec, messages, errors } = make('response', { requestMethod: () => 'GET' });
    push('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123');
    dec.skip(12, 0);
    push('\r\n0\r\n\r\n');
    expect(errors).toEqual([]);
    expect(messages[0]).toMatchObject({ bodyBytes: 16, bodyTruncated: true });
  });

  test('a gap inside a read-until-close body is part of the body', () => {
    const { push, dec, messages, errors } = make('response', { requestMethod: () => 'GET' });
    push('HTTP/1.0 200 OK\r\n\r\nab');
    dec.skip(100, 1);
    dec.end(2);
    expect(errors).toEqual([]);
    expect(messages[0]).toMatchObject({ bodyBytes: 102, bodyTruncated: true, endNs: 1 });
  });

  test('a gap inside headers drops the message, reports GAP and resyncs at the next start line', () => {
    const { push, dec, messages, codes } = make('request');
    push('GET /lost HTTP/1.1\r\nHo');
    dec.skip(7, 0);
    push('st: a\r\n\r\n' + GET('/n'));
    expect(codes()).toEqual([[E.GAP, 22]]);
    expect(messages.map(target)).toEqual(['/n']);
  });

  test('a gap between messages is reported and the message right after it is decoded', () => {
    const { push, dec, messages, codes } = make('request');
    push(GET('/a'));
    dec.skip(30, 0);
    push(GET('/b'));
    expect(codes()).toEqual([[E.GAP, GET('/a').length]]);
    expect(messages.map(target)).toEqual(['/a', '/b']);
    expect(messages[1]!.startOffset).toBe(GET('/a').length + 30);
  });
});

describe('end()', () => {
  test('closing inside a message reports INCOMPLETE_MESSAGE at the end of the stream', () => {
    const { push, dec, codes, messages } = make('request');
    push('POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc');
    dec.end(0);
    expect(codes()).toEqual([[E.INCOMPLETE_MESSAGE, 42]]);
    expect(messages).toEqual([]);
  });

  test('closing between messages is silent and later bytes are ignored', () => {
    const { push, dec, errors, messages } = make('request');
    push(GET('/a'));
    dec.end(0);
    push(GET('/b'));
    expect(errors).toEqual([]);
    expect(messages).toHaveLength(1);
  });
});

describe('upgrades and tunnels', () => {
  const upgrade = 'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

  test('a 101 response is emitted and the response side stops itself', () => {
    const { push, dec, messages } = make('response', { requestMethod: () => 'GET' });
    const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n';
    push(head + 'frame bytes');
    expect(messages.map(status)).toEqual([101]);
    expect(messages[0]!.endOffset).toBe(head.length);
    expect(dec.stopped).toBe(true);
    push('GET / HTTP/1.1\r\n\r\n');
    expect(messages).toHaveLength(1);
    expect(dec.offset).toBe(head.length + 11 + 18);
  });

  test('a CONNECT 2xx stops the response side; a CONNECT 407 does not', () => {
    const ok = make('response', { requestMethod: () => 'CONNECT' });
    ok.push('HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01');
    expect(ok.dec.stopped).toBe(true);
    const denied = make('response', { requestMethod: () => 'CONNECT' });
    denied.push('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno');
    expect(denied.dec.stopped).toBe(false);
    expect(denied.messages[0]!.bodyBytes).toBe(2);
  });

  test('after an Upgrade request the request side holds bytes until resume()', () => {
    const { push, dec, messages, errors } = make('request');
    push(upgrade + GET('/after'));
    expect(messages.map(target)).toEqual(['/chat']);
    expect(dec.bufferedBytes).toBe(GET('/after').length);
    dec.resume();
    expect(errors).toEqual([]);
    expect(messages.map(target)).toEqual(['/chat', '/after']);
    expect(messages[1]!.startOffset).toBe(upgrade.length);
    expect(dec.bufferedBytes).toBe(0);
  });

  test('stop() after an Upgrade request drops the held bytes and ignores the rest', () => {
    const { push, dec, messages, errors } = make('request');
    push(upgrade + '\x81\x85garbage');
    dec.stop();
    push(GET('/never'));
    expect(dec.stopped).toBe(true);
    expect(dec.bufferedBytes).toBe(0);
    expect(messages).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  test('resume() called from onMessage lets the same push carry on', () => {
    const messages: HttpMessage[] = [];
    const dec: Http1Decoder = new Http1Decoder({
      side: 'request',
      onMessage: (m) => {
        messages.push(m);
        dec.resume();
      },
      onError: () => {},
    });
    dec.push(bytes(upgrade + GET('/after')), 0);
    expect(messages.map(target)).toEqual(['/chat', '/after']);
  });

  test('a CONNECT request holds the tunnel bytes like an Upgrade request', () => {
    const { push, dec, messages } = make('request');
    push('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01\x02\x00');
    expect(messages.map(target)).toEqual(['a:443']);
    expect(dec.bufferedBytes).toBe(5);
  });

  test('held bytes are bounded by maxHeaderBytes and the excess is reported once', () => {
    const { push, dec, messages, codes } = make('request', { maxHeaderBytes: 100 });
    push(upgrade, 0);
    const more = GET('/1') + 'x'.repeat(200) + '\r\n' + GET('/dropped');
    for (let i = 0; i < more.length; i += 7) push(more.slice(i, i + 7), 1);
    expect(dec.bufferedBytes).toBe(100);
    expect(codes()).toEqual([[E.HOLD_OVERFLOW, upgrade.length + 100]]);
    dec.resume();
    push(GET('/3'));
    expect(messages.map(target)).toEqual(['/chat', '/1', '/3']);
    // The x's after /1 are junk in their own right; the dropped excess adds no second GAP.
    expect(codes()).toEqual([
      [E.HOLD_OVERFLOW, upgrade.length + 100],
      [E.BAD_START_LINE, upgrade.length + GET('/1').length],
    ]);
  });

  test('a gap while holding is reported at its own offset once the bytes are replayed', () => {
    const { push, dec, messages, codes } = make('request');
    push(upgrade);
    push('GET /h');
    dec.skip(4, 0);
    push('\r\n' + GET('/after'));
    expect(codes()).toEqual([]);
    dec.resume();
    expect(codes()).toEqual([[E.GAP, upgrade.length + 6]]);
    expect(messages.map(target)).toEqual(['/chat', '/after']);
  });
});

describe('robustness', () => {
  test('junk without line feeds arriving one byte per push is skipped in linear time', () => {
    const { push, messages, codes, dec } = make('request');
    const junk = bytes('x'.repeat(300_000));
    for (let i = 0; i < junk.length; i++) push(junk.subarray(i, i + 1));
    push(GET('/after-junk'));
    expect(codes()).toEqual([[E.BAD_START_LINE, 0]]);
    expect(messages.map(target)).toEqual(['/after-junk']);
    expect(messages[0]!.startOffset).toBe(junk.length);
    expect(dec.bufferedBytes).toBe(0);
  });

  test('a header line arriving one byte per push stays bounded and fails at the limit', () => {
    const { push, codes, dec } = make('request', { maxHeaderBytes: 4096 });
    push('GET / HTTP/1.1\r\nX-Long: ');
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      push('a');
      most = Math.max(most, dec.bufferedBytes);
    }
    expect(codes()).toEqual([[E.HEADER_TOO_LARGE, 4096]]);
    expect(most).toBeLessThanOrEqual(4096);
  });

  test('many tiny pushes and gaps while holding are capped and reported once', () => {
    const { push, dec, codes } = make('request');
    push('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
    for (let i = 0; i < 5000; i++) {
      push('a');
      dec.skip(1, 0);
    }
    expect(codes().map(([c]) => c)).toEqual([E.HOLD_OVERFLOW]);
    expect(dec.bufferedBytes).toBeLessThanOrEqual(256);
  });

  test('a throwing onMessage is reported as INTERNAL and decoding continues with the next push', () => {
    const errors: DecodeError[] = [];
    let calls = 0;
    const dec = new Http1Decoder({
      side: 'request',
      onMessage: () => {
        if (++calls === 1) throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    expect(() => dec.push(bytes(GET('/a')), 0)).not.toThrow();
    dec.push(bytes(GET('/b')), 0);
    expect(errors.map((e) => e.code)).toEqual([E.INTERNAL]);
    expect(calls).toBe(2);
  });

  test('a plain Uint8Array view into a larger buffer is read at its own offset', () => {
    const big = bytes('XXXX' + GET('/v') + 'YYYY');
    const out = decode('request', big.subarray(4, big.length - 4));
    expect(out.messages.map(target)).toEqual(['/v']);
  });

  test('100k pipelined small GET requests decode in one pass', () => {
    const one = bytes('GET /api/v1/items?id=42 HTTP/1.1\r\nHost: svc.local\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n');
    const n = 100_000;
    const stream = new Uint8Array(one.length * n);
    for (let i = 0; i < n; i++) stream.set(one, i * one.length);
    let count = 0;
    const dec = new Http1Decoder({ side: 'request', onMessage: () => count++, onError: () => {} });
    const t0 = performance.now();
    for (let i = 0; i < stream.length; i += 16384) dec.push(stream.subarray(i, i + 16384), i);
    const ms = performance.now() - t0;
    console.log(`http1 decoder: ${n} pipelined GETs (${stream.length} bytes) in ${ms.toFixed(1)} ms`);
    expect(count).toBe(n);
  });
});
