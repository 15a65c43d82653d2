import { describe, expect, it } from 'vitest';
import { Http2Decoder } from '../../../decoders/http2/http2-decoder.js';
import type { Http2Message, Http2Request, Http2Response } from '../../../decoders/http2/http2-decoder.js';
import { Http2ConnectionDecoder } from '../../../decoders/http2/http2-connection.js';
import { FrameType } from '../../../decoders/http2/frame-parser.js';
import { Http2ErrorCode } from '../../../decoders/http2/errors.js';
import { headerValue } from '../../../decoders/message.js';
import type { DecodeError } from '../../../decoders/message.js';
import { decode, fixture, timeless } from './decode-helpers.js';
import {
  CLIENT_PREFACE,
  END_HEADERS,
  END_STREAM,
  bytes,
  frame,
  hpackInt,
  indexed,
  literalIndexed,
  literalPlain,
  requestBlock,
  settingsFrame,
  tableSizeUpdate,
} from './h2-builders.js';

const FIXTURES = ['nghttp-get', 'nghttp-concurrent', 'nghttp-large-header', 'nghttp-post', 'grpc-unary'];
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const requests = (ms: Http2Message[]) => ms as Http2Request[];
const responses = (ms: Http2Message[]) => ms as Http2Response[];

describe('Http2Decoder on fixtures recorded from real programs', () => {
  for (const name of FIXTURES) {
    for (const side of ['client', 'server'] as const) {
      it(`decodes ${name} (${side} side) identically whole, split at every byte and byte by byte`, () => {
        const bytesOfSide = fixture(name)[side];
        const whole = decode(side, bytesOfSide);
        expect(whole.errors).toEqual([]);
        expect(whole.messages.length).toBeGreaterThan(0);
        expect(whole.messages.every((m) => m.headersTrusted && m.endStream)).toBe(true);
        const expected = timeless(whole.messages);
        const expectedJson = JSON.stringify(expected);
        for (let k = 1; k < bytesOfSide.length; k++) {
          const split = decode(side, bytesOfSide, [k]);
          // Cheap comparison first; the deep one only to print a useful difference.
          if (split.errors.length > 0) expect(split.errors).toEqual([]);
          const got = timeless(split.messages);
          if (JSON.stringify(got) !== expectedJson) expect(got).toEqual(expected);
        }
        const byteByByte = decode(side, bytesOfSide, Array.from({ length: bytesOfSide.length - 1 }, (_, i) => i + 1));
        expect(byteByByte.errors).toEqual([]);
        expect(timeless(byteByByte.messages)).toEqual(expected);
      });
    }
  }

  it('reads method, path, authority and status from nghttp against nginx', () => {
    const f = fixture('nghttp-get');
    const [request] = requests(decode('client', f.client).messages);
    expect(request).toMatchObject({ type: 'request', method: 'GET', target: '/index.html', streamId: 13, version: 'HTTP/2', bodyBytes: 0 });
    expect(headerValue(request!.headers, ':authority')).toBe('127.0.0.1:18180');
    expect(headerValue(request!.headers, 'user-agent')).toBe('nghttp2/1.52.0');
    const [response] = responses(decode('server', f.server).messages);
    expect(response).toMatchObject({ type: 'response', status: 200, streamId: 13, bodyBytes: 17, dataFrames: 1, bodyTruncated: false });
    expect(headerValue(response!.headers, 'server')).toBe('nginx/1.22.1');
    expect(text(response!.body)).toBe('hello from nginx\n');
  });

  it('separates twelve concurrent streams', () => {
    const f = fixture('nghttp-concurrent');
    const reqs = requests(decode('client', f.client).messages);
    const paths = ['/index.html', '/a.txt', '/b.txt'].flatMap((p) => [p, p, p, p]);
    expect(reqs.map((r) => r.target)).toEqual(paths);
    expect(reqs.map((r) => r.streamId)).toEqual(Array.from({ length: 12 }, (_, i) => 13 + 2 * i));
    expect(reqs.every((r) => headerValue(r.headers, ':authority') === '127.0.0.1:18180')).toBe(true);
    const resps = responses(decode('server', f.server).messages);
    expect(resps.map((r) => r.streamId)).toEqual(reqs.map((r) => r.streamId));
    expect(resps.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(resps.map((r) => r.bodyBytes)).toEqual(paths.map((p) => (p === '/index.html' ? 17 : p === '/a.txt' ? 3000 : 4)));
  });

  it('caps the captured body and says so', () => {
    const resps = responses(decode('server', fixture('nghttp-concurrent').server, [], { maxBodyCapture: 100 }).messages);
    const a = resps.find((r) => r.bodyBytes === 3000)!;
    expect(a.body!.length).toBe(100);
    expect(a.bodyTruncated).toBe(true);
  });

  it('reassembles a 20 KB header sent in HEADERS + CONTINUATION', () => {
    const types: number[] = [];
    const [request] = requests(decode('client', fixture('nghttp-large-header').client, [], { onFrame: (f) => types.push(f.type) }).messages);
    expect(types).toContain(FrameType.CONTINUATION);
    const expected = Array.from({ length: 20480 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 94)))
      .join('')
      .replaceAll(',', '.');
    expect(headerValue(request!.headers, 'x-large')).toBe(expected);
    expect(request).toMatchObject({ method: 'GET', target: '/index.html' });
    expect(request!.headerBytes).toBeGreaterThan(16384);
  });

  it('keeps a request body sent with POST', () => {
    const f = fixture('nghttp-post');
    const [request] = requests(decode('client', f.client).messages);
    expect(request).toMatchObject({ method: 'POST', target: '/echo', bodyBytes: 25, dataFrames: 1 });
    expect(text(request!.body)).toBe('name=flowscope&kind=post\n');
    const [response] = responses(decode('server', f.server).messages);
    expect(response).toMatchObject({ status: 200 });
    expect(text(response!.body)).toBe('posted\n');
  });

  it('reads gRPC paths, message prefixes, trailers and statuses from python3-grpcio', () => {
    const f = fixture('grpc-unary');
    const [say, fail] = requests(decode('client', f.client).messages);
    expect(say).toMatchObject({ method: 'POST', target: '/demo.Echo/Say', streamId: 1, grpcMessages: [{ compressed: false, length: 15 }], grpcMessageCount: 1 });
    expect(headerValue(say!.headers, ':authority')).toBe('127.0.0.1:18180');
    expect(headerValue(say!.headers, 'content-type')).toBe('application/grpc');
    expect(headerValue(say!.headers, 'x-caller')).toBe('fixture');
    expect(text(say!.body!.subarray(5))).toBe('hello flowscope');
    expect(fail).toMatchObject({ target: '/demo.Echo/Fail', streamId: 3, grpcMessages: [{ compressed: false, length: 1 }] });

    const [ok, notFound] = responses(decode('server', f.server).messages);
    expect(ok).toMatchObject({ status: 200, streamId: 1, grpcMessages: [{ compressed: false, length: 20 }] });
    expect(headerValue(ok!.trailers!, 'grpc-status')).toBe('0');
    expect(headerValue(ok!.trailers!, 'x-echo-trailer')).toBe('done');
    expect(text(ok!.body!.subarray(5))).toBe('echo:hello flowscope');
    // Trailers-only response: the status is in the only header block.
    expect(notFound).toMatchObject({ status: 200, streamId: 3, grpcMessageCount: 0 });
    expect(notFound!.trailers).toBeUndefined();
    expect(headerValue(notFound!.headers, 'grpc-status')).toBe('5');
    expect(headerValue(notFound!.headers, 'grpc-message')).toBe('no such thing');
  });

  it('decodes both directions through the connection decoder, which passes SETTINGS across', () => {
    const f = fixture('grpc-unary');
    const got: Http2Message[] = [];
    const errors: DecodeError[] = [];
    const conn = new Http2ConnectionDecoder({
      startsAtConnectionStart: true,
      onRequest: (m) => got.push(m),
      onResponse: (m) => got.push(m),
      onError: (e) => errors.push(e),
    });
    for (let at = 0; at < Math.max(f.client.length, f.server.length); at += 50) {
      conn.client.push(f.client.subarray(at, at + 50), at);
      conn.server.push(f.server.subarray(at, at + 50), at);
    }
    conn.client.end(1);
    conn.server.end(1);
    expect(errors).toEqual([]);
    expect(got.map((m) => (m.type === 'request' ? m.target : m.status))).toContain('/demo.Echo/Fail');
    expect(got).toHaveLength(4);
    expect(conn.bufferedBytes).toBe(0);
  });

  it('started mid-connection, reports only the header fields that cannot be wrong, marked untrusted', () => {
    const f = fixture('nghttp-concurrent');
    const truth = new Map(decode('server', f.server).messages.map((m) => [m.streamId, m]));
    // Start at a frame boundary after the first response (offset 190) and somewhere in a DATA payload.
    for (const start of [190, 1000]) {
      const { messages } = decode('server', f.server.subarray(start), [], { startsAtConnectionStart: false });
      expect(messages.length).toBeGreaterThan(5);
      for (const m of messages) {
        expect(m.headersTrusted).toBe(false);
        const whole = truth.get(m.streamId)!;
        // nginx sends :status from the static table and other fields from its dynamic table.
        for (const field of m.headers) expect(whole.headers).toContainEqual(field);
        expect([0, (whole as Http2Response).status]).toContain((m as Http2Response).status);
      }
      expect(messages.some((m) => (m as Http2Response).status === 200)).toBe(true);
    }
  });

  it('loses framing and trust at a gap, then resynchronises on the next frame', () => {
    const server = fixture('nghttp-concurrent').server;
    const errors: DecodeError[] = [];
    const messages: Http2Message[] = [];
    const d = new Http2Decoder({ side: 'server', startsAtConnectionStart: true, onMessage: (m) => messages.push(m), onError: (e) => errors.push(e) });
    d.push(server.subarray(0, 700), 1);
    d.skip(300, 2);
    d.push(server.subarray(1000), 3);
    d.end(4);
    expect(errors[0]!.code).toBe(Http2ErrorCode.GAP);
    expect(d.offset).toBe(server.length);
    expect(d.headersTrusted).toBe(false);
    // The first four responses were whole before the gap; later ones are reported without headers.
    expect(messages.slice(0, 4).every((m) => m.headersTrusted && (m as Http2Response).status === 200)).toBe(true);
    const later = messages.filter((m) => m.streamId > 21);
    expect(later.length).toBeGreaterThan(0);
    // After the gap only fields that need no table are reported: nginx sends :status from the
    // static table and its other fields as literals, so here that is all of them, untrusted.
    const truth = new Map(decode('server', server).messages.map((m) => [m.streamId, m]));
    for (const m of later) {
      expect(m.headersTrusted).toBe(false);
      for (const field of m.headers) expect(truth.get(m.streamId)!.headers).toContainEqual(field);
      expect((m as Http2Response).status).toBe(200);
    }
  });
});

function run(side: 'client' | 'server', input: Uint8Array, options: Parameters<typeof decode>[3] = {}) {
  return decode(side, input, [], options);
}

const codes = (errors: DecodeError[]) => errors.map((e) => e.code);

describe('Http2Decoder stream handling', () => {
  it('reports an RST_STREAM as the end of a message', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS, 1, requestBlock('/upload', 'POST')), frame(FrameType.DATA, 0, 1, [1, 2]), frame(FrameType.RST_STREAM, 0, 1, [0, 0, 0, 8]));
    const { messages, errors } = run('client', input);
    expect(errors).toEqual([]);
    expect(messages).toEqual([expect.objectContaining({ method: 'POST', target: '/upload', reset: 8, endStream: false, bodyBytes: 2 })]);
  });

  it('treats interim 1xx responses as not final', () => {
    const input = bytes(
      frame(FrameType.HEADERS, END_HEADERS, 1, literalPlain(8, '100')),
      frame(FrameType.HEADERS, END_HEADERS, 1, indexed(8)),
      frame(FrameType.DATA, END_STREAM, 1, [0x41]),
    );
    const { messages, errors } = run('server', input);
    expect(errors).toEqual([]);
    expect(messages).toEqual([expect.objectContaining({ status: 200, informational: [100], bodyBytes: 1 })]);
  });

  it('reports streams still open when the connection ends', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS, 1, requestBlock('/slow')), frame(FrameType.HEADERS, END_HEADERS, 3, requestBlock('/slower')));
    const { messages } = run('client', input);
    expect(messages.map((m) => [(m as Http2Request).target, m.endStream])).toEqual([
      ['/slow', false],
      ['/slower', false],
    ]);
  });

  it('interleaves DATA of several streams', () => {
    const input = bytes(
      CLIENT_PREFACE,
      frame(FrameType.HEADERS, END_HEADERS, 1, requestBlock('/one', 'POST')),
      frame(FrameType.HEADERS, END_HEADERS, 3, requestBlock('/three', 'POST')),
      frame(FrameType.DATA, 0, 3, bytes('th')),
      frame(FrameType.DATA, 0, 1, bytes('o')),
      frame(FrameType.DATA, END_STREAM, 3, bytes('ree')),
      frame(FrameType.DATA, END_STREAM, 1, bytes('ne')),
    );
    const { messages } = run('client', input);
    expect(messages.map((m) => [(m as Http2Request).target, text(m.body), m.dataFrames])).toEqual([
      ['/three', 'three', 2],
      ['/one', 'one', 2],
    ]);
  });

  it('reports a reused stream id and does not report it twice', () => {
    const input = bytes(
      CLIENT_PREFACE,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, requestBlock('/first')),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, requestBlock('/again')),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, requestBlock('/lower')),
    );
    const { messages, errors } = run('client', input);
    expect(codes(errors)).toEqual([Http2ErrorCode.STREAM_ID_REUSE, Http2ErrorCode.STREAM_ID_REUSE]);
    expect(messages.map((m) => (m as Http2Request).target)).toEqual(['/first']);
  });

  it('reports DATA on a closed stream', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, requestBlock('/')), frame(FrameType.DATA, 0, 1, [1]));
    expect(codes(run('client', input).errors)).toEqual([Http2ErrorCode.STREAM_STATE]);
  });

  it('bounds the open streams and reports the oldest when too many are open', () => {
    const parts: Uint8Array[] = [CLIENT_PREFACE];
    for (let id = 1; id <= 39; id += 2) parts.push(frame(FrameType.HEADERS, END_HEADERS, id, requestBlock(`/s${id}`)));
    const messages: Http2Message[] = [];
    const errors: DecodeError[] = [];
    const d = new Http2Decoder({ side: 'client', startsAtConnectionStart: true, maxConcurrentStreams: 4, onMessage: (m) => messages.push(m), onError: (e) => errors.push(e) });
    d.push(bytes(...parts), 0);
    expect(d.openStreams).toBe(4);
    expect(codes(errors)).toEqual(Array(16).fill(Http2ErrorCode.TOO_MANY_STREAMS));
    expect(messages.map((m) => (m as Http2Request).target)).toEqual(Array.from({ length: 16 }, (_, i) => `/s${2 * i + 1}`));
    expect(messages.every((m) => !m.endStream)).toBe(true);
  });

  it('reports a client stream with an even id', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 2, requestBlock('/')));
    expect(codes(run('client', input).errors)).toEqual([Http2ErrorCode.BAD_STREAM_ID]);
  });

  it('reports headers without the required pseudo-headers', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, literalPlain(0, 'v', 'x-only')));
    const { messages, errors } = run('client', input);
    expect(codes(errors)).toEqual([Http2ErrorCode.MALFORMED_HEADERS]);
    expect(messages[0]).toMatchObject({ method: '', target: '', headers: [['x-only', 'v']] });
  });
});

describe('Http2Decoder on hostile input', () => {
  it('bounds an HPACK bomb: one big literal indexed, then referenced thousands of times', () => {
    const block1 = [...requestBlock('/'), ...literalIndexed('x-bomb', 'b'.repeat(4000))];
    const block2: number[] = [...requestBlock('/2')];
    for (let i = 0; i < 4000; i++) block2.push(...indexed(62));
    const input = bytes(
      CLIENT_PREFACE,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block1),
      // 4000 references fit in a few frames.
      frame(FrameType.HEADERS, END_STREAM, 3, block2.slice(0, 3000)),
      frame(FrameType.CONTINUATION, END_HEADERS, 3, block2.slice(3000)),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 5, [...requestBlock('/3'), ...indexed(62)]),
    );
    const { messages, errors, maxBuffered } = run('client', input, { maxHeaderListSize: 32768 });
    expect(codes(errors)).toEqual([Http2ErrorCode.HPACK_HEADER_LIST_TOO_LARGE]);
    const bombed = messages[1]!;
    expect(bombed).toMatchObject({ target: '/2', headersTruncated: true, headersTrusted: true });
    const decodedSize = bombed.headers.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);
    expect(decodedSize).toBeLessThanOrEqual(32768);
    // The table stayed in step: the next request still resolves index 62.
    expect(headerValue(messages[2]!.headers, 'x-bomb')).toBe('b'.repeat(4000));
    expect(maxBuffered).toBeLessThan(70000);
  });

  it('reports endless CONTINUATION, stops trusting headers, and keeps memory bounded', () => {
    const parts: Uint8Array[] = [CLIENT_PREFACE, frame(FrameType.HEADERS, END_STREAM, 1, requestBlock('/'))];
    for (let i = 0; i < 500; i++) parts.push(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(1000).fill(0x82)));
    parts.push(frame(FrameType.CONTINUATION, END_HEADERS, 1, [0x82]));
    const input = bytes(...parts);
    const cuts = Array.from({ length: Math.floor(input.length / 1500) }, (_, i) => (i + 1) * 1500);
    const { messages, errors, maxBuffered, decoder } = decode('client', input, cuts, { maxHeaderBlockBytes: 65536 });
    expect(codes(errors)).toEqual([Http2ErrorCode.HEADER_BLOCK_TOO_LARGE]);
    expect(maxBuffered).toBeLessThan(65536 + 3000);
    expect(messages).toEqual([expect.objectContaining({ streamId: 1, headersTrusted: false, headers: [], endStream: true })]);
    expect(decoder.headersTrusted).toBe(false);
  });

  it('reports invalid Huffman and withholds headers until the table is emptied', () => {
    const input = bytes(
      CLIENT_PREFACE,
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, [...requestBlock('/'), 0x40, 0x81, 0x00, 0x01, 0x61]),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 3, requestBlock('/untrusted')),
      frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 5, [...tableSizeUpdate(0), ...tableSizeUpdate(4096), ...requestBlock('/trusted')]),
    );
    const { messages, errors } = run('client', input);
    expect(codes(errors)).toEqual([Http2ErrorCode.HPACK_INVALID_HUFFMAN]);
    // The failed block yields nothing; the next one only its table-free fields; the emptied table all.
    expect(messages.map((m) => [m.headersTrusted, (m as Http2Request).target])).toEqual([
      [false, ''],
      [false, '/untrusted'],
      [true, '/trusted'],
    ]);
  });

  it('reports integer overflow in a header block', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, [...hpackInt(2 ** 40, 7, 0x80)]));
    const { messages, errors } = run('client', input);
    expect(codes(errors)).toEqual([Http2ErrorCode.HPACK_INTEGER_OVERFLOW]);
    expect(messages[0]).toMatchObject({ headersTrusted: false, headers: [] });
  });

  it('reports a table size update above the announced limit', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, [...tableSizeUpdate(1 << 20), ...requestBlock('/')]));
    expect(codes(run('client', input).errors)).toEqual([Http2ErrorCode.HPACK_TABLE_SIZE_TOO_LARGE]);
  });

  it('allows a table size update the peer announced through SETTINGS', () => {
    const errors: DecodeError[] = [];
    const conn = new Http2ConnectionDecoder({ startsAtConnectionStart: true, onRequest: () => {}, onResponse: () => {}, onError: (e) => errors.push(e) });
    conn.server.push(settingsFrame([[1, 16384]]), 0);
    conn.client.push(bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, [...tableSizeUpdate(16384), ...requestBlock('/')])), 0);
    expect(errors).toEqual([]);
  });

  it('never throws on plain HTTP/1 sent to an HTTP/2 decoder', () => {
    const input = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100));
    const { errors, maxBuffered } = run('client', input);
    expect(codes(errors)[0]).toBe(Http2ErrorCode.BAD_PREFACE);
    expect(maxBuffered).toBeLessThan(70000);
  });
});
