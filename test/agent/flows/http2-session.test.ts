// Http2Session: both directions of a connection paired by stream id into exchanges,
// gRPC calls recognised, progress records for long-lived streams, bounded pending state.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Http2Request } from '../../../decoders/http2/http2-decoder.js';
import type { DecodeError } from '../../../decoders/message.js';
import type { Exchange, MessageSide, SessionEvents } from '../../../agent/flows/exchange.js';
import { Http2Session, MAX_PENDING_STREAMS } from '../../../agent/flows/http2-session.js';
import type { Http2SessionOptions } from '../../../agent/flows/http2-session.js';
import { bytes, CLIENT_PREFACE, END_HEADERS, END_STREAM, frame, indexed, literalPlain, requestBlock, settingsFrame } from '../../decoders/http2/h2-builders.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const load = (path: string): Uint8Array => new Uint8Array(readFileSync(`${FIXTURES}${path}`));

interface Recorded {
  exchanges: Exchange[];
  errors: DecodeError[];
  unpaired: number;
  session: Http2Session;
}

function session(options: Partial<Http2SessionOptions> = {}): Recorded {
  const out: Recorded = { exchanges: [], errors: [], unpaired: 0, session: undefined as unknown as Http2Session };
  const events: SessionEvents = {
    exchange: (e) => out.exchanges.push(e),
    decodeError: (_p, e) => out.errors.push(e),
    unpairedResponse: () => out.unpaired++,
  };
  out.session = new Http2Session(events, { maxBodyCapture: 0, startsAtConnectionStart: true, grpcProgressIntervalMs: 0, ...options });
  return out;
}

/** Pushes `bytes` of one side in pieces cut at `cuts`. */
function push(s: Http2Session, side: MessageSide, data: Uint8Array, tsNs: number, cuts: number[] = []): void {
  let at = 0;
  for (const cut of [...cuts, data.length]) {
    s.push(side, data.subarray(at, cut), tsNs);
    at = cut;
  }
}

const line = (e: Exchange): string =>
  `${e.protocol} ${e.request.method} ${e.request.target} ${e.response?.status} ${e.grpc ? `${e.grpc.service}/${e.grpc.method} ${e.grpc.status} ${e.grpc.requestMessages}/${e.grpc.responseMessages}` : ''}`.trim();

const GRPC_CALLS = [
  'GRPC POST /demo.Notes/Say 200 demo.Notes/Say 0 1/1',
  'GRPC POST /demo.Notes/Collect 200 demo.Notes/Collect 0 3/1',
  'GRPC POST /demo.Notes/Count 200 demo.Notes/Count 0 1/3',
  'GRPC POST /demo.Notes/Chat 200 demo.Notes/Chat 0 2/2',
  'GRPC POST /demo.Notes/Fail 200 demo.Notes/Fail 5 1/0',
  'GRPC POST /demo.Notes/Partial 200 demo.Notes/Partial 13 1/1',
];

describe('Http2Session', () => {
  it('pairs every call of a recorded python3-grpcio conversation, split at every byte', () => {
    const client = load('grpc/grpcio-calls-plain.client.bin');
    const server = load('grpc/grpcio-calls-plain.server.bin');
    for (let k = 1; k < client.length; k += 7) {
      const r = session();
      push(r.session, 'request', client, 1, [k]);
      push(r.session, 'response', server, 2, [Math.min(k, server.length - 1)]);
      r.session.end(3);
      expect(r.exchanges.map(line)).toEqual(GRPC_CALLS);
      expect(r.errors).toEqual([]);
    }
  });

  it('pairs the 12 concurrent nghttp streams by stream id and marks them trusted', () => {
    const r = session();
    push(r.session, 'request', load('http2/nghttp-concurrent.client.bin'), 1);
    push(r.session, 'response', load('http2/nghttp-concurrent.server.bin'), 2);
    r.session.end(3);
    expect(r.exchanges).toHaveLength(12);
    expect(r.exchanges.every((e) => e.protocol === 'HTTP2' && e.headersTrusted && e.response!.status === 200)).toBe(true);
    expect(r.exchanges.map((e) => e.streamId)).toEqual([...r.exchanges.map((e) => e.streamId)].sort((a, b) => a! - b!));
    expect(new Set(r.exchanges.map((e) => e.request.target))).toEqual(new Set(['/index.html', '/a.txt', '/b.txt']));
  });

  it('on a connection first seen mid-stream, reports only fields that need no HPACK table, and says so', () => {
    const client = load('http2/nghttp-concurrent.client.bin');
    const server = load('http2/nghttp-concurrent.server.bin');
    const whole = session();
    push(whole.session, 'request', client, 1);
    push(whole.session, 'response', server, 2);
    whole.session.end(3);
    const truth = new Map(whole.exchanges.map((e) => [e.streamId, e]));
    const r = session({ startsAtConnectionStart: false });
    push(r.session, 'request', client.subarray(200), 1);
    push(r.session, 'response', server.subarray(100), 2);
    r.session.end(3);
    expect(r.exchanges.length).toBeGreaterThan(0);
    for (const e of r.exchanges) {
      expect(e.headersTrusted).toBe(false);
      const t = truth.get(e.streamId)!;
      // nghttp sends :method GET from the static table; its :path and :authority entries are in a table we never saw.
      expect(['', t.request.method]).toContain(e.request.method);
      for (const field of e.request.headers) expect(t.request.headers).toContainEqual(field);
    }
  });

  it('reports a stream the client resets at once, without waiting for the connection to end', () => {
    const r = session();
    push(r.session, 'request', bytes(CLIENT_PREFACE, settingsFrame(), frame(1, END_HEADERS, 1, requestBlock('/slow')), frame(3, 0, 1, [0, 0, 0, 8])), 1);
    expect(r.exchanges.map((e) => [e.request.target, (e.request as Http2Request).reset, e.response])).toEqual([['/slow', 8, undefined]]);
    r.session.end(2);
    expect(r.exchanges).toHaveLength(1);
  });

  it('bounds responses waiting for a request it will never see, counting each one reported alone', () => {
    const r = session();
    push(r.session, 'request', bytes(CLIENT_PREFACE, settingsFrame()), 1);
    const frames = [settingsFrame()];
    for (let i = 0; i < MAX_PENDING_STREAMS + 10; i++) frames.push(frame(1, END_HEADERS | END_STREAM, 2 * i + 1, indexed(8)));
    push(r.session, 'response', bytes(...frames), 2);
    expect(r.errors.filter((e) => e.code === 'FLOWSCOPE_ERR_HTTP2_PENDING_EVICTED')).toHaveLength(10);
    expect(r.unpaired).toBe(10);
    r.session.end(3);
    expect(r.unpaired).toBe(MAX_PENDING_STREAMS + 10);
    expect(r.exchanges).toEqual([]);
  });

  it('emits a progress record for a gRPC stream open longer than the interval, then the final flow', () => {
    const r = session({ grpcProgressIntervalMs: 1000 });
    const headers = [...requestBlock('/demo.Notes/Chat', 'POST'), ...literalPlain(31, 'application/grpc')];
    const message = [0, 0, 0, 0, 2, 0x08, 0x01];
    const s = 1e9;
    push(r.session, 'request', bytes(CLIENT_PREFACE, settingsFrame(), frame(1, END_HEADERS, 1, headers), frame(0, 0, 1, message)), 0);
    push(r.session, 'response', bytes(settingsFrame(), frame(1, END_HEADERS, 1, [...indexed(8), ...literalPlain(31, 'application/grpc')])), 0.1 * s);
    push(r.session, 'response', frame(0, 0, 1, message), 0.5 * s);
    expect(r.exchanges).toEqual([]);
    push(r.session, 'request', frame(0, 0, 1, message), 1.2 * s);
    push(r.session, 'request', frame(0, 0, 1, message), 1.5 * s); // within the interval of the last record
    push(r.session, 'response', frame(0, 0, 1, message), 2.6 * s);
    push(r.session, 'request', frame(0, END_STREAM, 1, []), 2.7 * s);
    push(r.session, 'response', frame(1, END_HEADERS | END_STREAM, 1, literalPlain(0, '0', 'grpc-status')), 2.8 * s);
    expect(r.exchanges.map((e) => [e.grpc!.inProgress ?? false, e.grpc!.status, e.grpc!.requestMessages, e.grpc!.responseMessages])).toEqual([
      [true, undefined, 2, 1],
      [true, undefined, 3, 2],
      [false, 0, 3, 2],
    ]);
    expect(r.exchanges.every((e) => e.protocol === 'GRPC' && e.grpc!.method === 'Chat')).toBe(true);
  });

  it('emits progress for a silent stream when time passes without bytes', () => {
    const r = session({ grpcProgressIntervalMs: 1000 });
    const headers = [...requestBlock('/demo.Notes/Chat', 'POST'), ...literalPlain(31, 'application/grpc')];
    push(r.session, 'request', bytes(CLIENT_PREFACE, settingsFrame(), frame(1, END_HEADERS, 1, headers)), 0);
    r.session.tick(0.5e9);
    expect(r.exchanges).toEqual([]);
    r.session.tick(1.1e9);
    expect(r.exchanges.map((e) => [e.grpc!.method, e.grpc!.inProgress])).toEqual([['Chat', true]]);
  });

  it('never throws on random frames from either side, and reports each stream at most once', () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 9 }), flags: fc.integer({ min: 0, max: 255 }), stream: fc.integer({ min: 0, max: 12 }),
      payload: fc.uint8Array({ maxLength: 40 }), side: fc.constantFrom<MessageSide>('request', 'response'),
    });
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 60 }), fc.boolean(), (frames, fromStart) => {
      const r = session({ startsAtConnectionStart: fromStart, grpcProgressIntervalMs: 1 });
      if (fromStart) push(r.session, 'request', bytes(CLIENT_PREFACE, settingsFrame()), 0);
      frames.forEach((f, i) => push(r.session, f.side, frame(f.type, f.flags, f.stream, f.payload), i * 1e6));
      r.session.end(1e9);
      const finals = r.exchanges.filter((e) => !e.grpc?.inProgress).map((e) => e.streamId);
      expect(new Set(finals).size).toBe(finals.length);
      expect(r.session.bufferedBytes).toBeGreaterThanOrEqual(0);
    }), { numRuns: 300 });
  });
});
