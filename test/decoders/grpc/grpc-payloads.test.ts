// gRPC payloads of a real recorded python3-grpcio conversation (test/fixtures/grpc,
// recorded by record.sh): length-prefixed messages (gzip honoured), decoded with the
// demo.proto schema, from a FileDescriptorSet, and without a schema.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { grpcMessages } from '../../../decoders/grpc/grpc-messages.js';
import { GrpcSchemaDecoder } from '../../../decoders/grpc/schema-decoder.js';
import { decodeSchemaless } from '../../../decoders/grpc/schemaless.js';
import { grpcCallInfo, isGrpcContentType, splitGrpcPath } from '../../../decoders/grpc/grpc-call.js';
import { Http2ConnectionDecoder } from '../../../decoders/http2/http2-connection.js';
import type { Http2Request, Http2Response } from '../../../decoders/http2/http2-decoder.js';
import { headerValue } from '../../../decoders/message.js';
import { grpcPayloadDecoder, loadGrpcSchema } from '../../../agent/flows/grpc-payloads.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/grpc/', import.meta.url));

interface Call {
  path: string;
  request: Http2Request;
  response: Http2Response;
}

/** The recorded conversation decoded with bodies kept, one entry per stream. */
function calls(variant: 'plain' | 'gzip'): Call[] {
  const requests = new Map<number, Http2Request>();
  const responses = new Map<number, Http2Response>();
  const decoder = new Http2ConnectionDecoder({
    startsAtConnectionStart: true,
    maxBodyCapture: 65536,
    onRequest: (m) => requests.set(m.streamId, m),
    onResponse: (m) => responses.set(m.streamId, m),
    onError: (e) => {
      throw new Error(e.message);
    },
  });
  decoder.client.push(new Uint8Array(readFileSync(`${FIXTURES}grpcio-calls-${variant}.client.bin`)), 1);
  decoder.server.push(new Uint8Array(readFileSync(`${FIXTURES}grpcio-calls-${variant}.server.bin`)), 2);
  decoder.client.end(3);
  decoder.server.end(3);
  return [...requests.values()].map((request) => ({ path: request.target, request, response: responses.get(request.streamId)! }));
}

const say = (variant: 'plain' | 'gzip') => calls(variant).find((c) => c.path === '/demo.Notes/Say')!;

describe('gRPC call details', () => {
  it('splits :path into service and method, and keeps odd paths whole as the method', () => {
    expect(splitGrpcPath('/demo.Notes/Say')).toEqual({ service: 'demo.Notes', method: 'Say' });
    expect(splitGrpcPath('/not-grpc')).toEqual({ service: '', method: '/not-grpc' });
  });

  it('recognises gRPC content types only', () => {
    expect(['application/grpc', 'application/grpc+proto', 'application/grpc-web', 'Application/GRPC; charset=x'].map(isGrpcContentType)).toEqual([true, true, true, true]);
    expect(['application/grpcx', 'application/json', undefined].map(isGrpcContentType)).toEqual([false, false, false]);
  });

  it('takes status and the percent-decoded message from trailers, or from a trailers-only response', () => {
    const all = calls('plain');
    const byPath = Object.fromEntries(all.map((c) => [c.path, grpcCallInfo(c.path, c.response.headers, c.response.trailers)]));
    expect(byPath['/demo.Notes/Say']).toEqual({ service: 'demo.Notes', method: 'Say', status: 0 });
    expect(byPath['/demo.Notes/Fail']).toEqual({ service: 'demo.Notes', method: 'Fail', status: 5, message: 'no such note: 100% gone' });
    expect(byPath['/demo.Notes/Partial']).toEqual({ service: 'demo.Notes', method: 'Partial', status: 13, message: 'broke after one' });
    expect(all.find((c) => c.path === '/demo.Notes/Fail')!.response.trailers).toBeUndefined();
  });
});

describe('gRPC length-prefixed messages', () => {
  it('splits a client-streaming body into its three messages', () => {
    const collect = calls('plain').find((c) => c.path === '/demo.Notes/Collect')!;
    const messages = grpcMessages(collect.request.body!);
    expect(messages).toHaveLength(3);
    expect(messages.every((m) => m.ok && !m.compressed)).toBe(true);
  });

  it('gunzips messages flagged compressed when grpc-encoding is gzip', () => {
    const call = say('gzip');
    const encoding = headerValue(call.request.headers, 'grpc-encoding');
    expect(encoding).toBe('gzip');
    const [message] = grpcMessages(call.request.body!, { encoding });
    expect(message).toMatchObject({ ok: true, compressed: true });
    expect(Buffer.from((message as { payload: Uint8Array }).payload).toString('latin1')).toContain('hello flowscope');
  });

  it('reports a message cut by the capture, an unknown encoding and a decompression bomb, without throwing', () => {
    const payload = gzipSync(Buffer.alloc(1 << 20));
    const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), payload]);
    frame.writeUInt32BE(payload.length, 1);
    expect(grpcMessages(frame, { encoding: 'gzip', maxMessageBytes: 4096 })).toEqual([{ ok: false, compressed: true, length: payload.length, reason: 'too-large' }]);
    expect(grpcMessages(frame, { encoding: 'snappy' })[0]).toMatchObject({ ok: false, reason: 'unsupported-encoding' });
    expect(grpcMessages(frame.subarray(0, 20), { encoding: 'gzip' })[0]).toMatchObject({ ok: false, reason: 'truncated' });
  });
});

describe('gRPC payloads to JSON', () => {
  const root = protobuf.loadSync(`${FIXTURES}demo.proto`);

  it('decodes the recorded unary call with its .proto', () => {
    const decoder = new GrpcSchemaDecoder(root);
    const call = say('plain');
    const types = decoder.method(call.path)!;
    const [request] = grpcMessages(call.request.body!);
    const [response] = grpcMessages(call.response.body!);
    expect(decoder.decode(types.request, (request as { payload: Uint8Array }).payload)).toEqual({ text: 'hello flowscope', seq: 7 });
    expect(decoder.decode(types.response, (response as { payload: Uint8Array }).payload)).toEqual({ text: 'echo:hello flowscope', seq: 1 });
    expect(decoder.method('/demo.Notes/Nope')).toBeUndefined();
    expect(decoder.method('/nope.Svc/Say')).toBeUndefined();
  });

  it('decodes the same call schemaless: field numbers, wire types, text', () => {
    const [request] = grpcMessages(say('plain').request.body!);
    expect(decodeSchemaless((request as { payload: Uint8Array }).payload)).toEqual({
      fields: [{ n: 1, wt: 'len', length: 15, text: 'hello flowscope' }, { n: 2, wt: 'varint', value: '7' }],
    });
  });

  it('guesses nested messages and shows other bytes as hex', () => {
    const nested = Uint8Array.from([0x1a, 0x03, 0x08, 0x96, 0x01, 0x22, 0x02, 0xff, 0x00, 0x2d, 1, 2, 3, 4]);
    expect(decodeSchemaless(nested).fields).toEqual([
      { n: 3, wt: 'len', length: 3, message: [{ n: 1, wt: 'varint', value: '150' }] },
      { n: 4, wt: 'len', length: 2, bytes: 'ff00' },
      { n: 5, wt: 'i32', value: '01020304' },
    ]);
    expect(decodeSchemaless(Uint8Array.from([0x08]))).toEqual({ fields: [], invalidAt: 1 });
  });

  it('never throws and stays bounded on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      const result = decodeSchemaless(bytes);
      expect(JSON.stringify(result).length).toBeLessThan(bytes.length * 64 + 1024);
      grpcMessages(bytes, { encoding: 'gzip' });
    }), { numRuns: 500 });
  });

  it('gives the same JSON from the agent decoder with a .proto directory, a FileDescriptorSet, and schemaless (gzip call)', () => {
    const call = say('gzip');
    const text = 'hello flowscope '.repeat(40);
    const encoding = headerValue(call.request.headers, 'grpc-encoding');
    for (const path of [FIXTURES, `${FIXTURES}demo.protoset`]) {
      const decode = grpcPayloadDecoder('schema', loadGrpcSchema(path));
      expect(decode(call.path, 'request', call.request.body!, encoding)).toEqual([JSON.stringify({ text, seq: 7 })]);
      expect(decode(call.path, 'response', call.response.body!, headerValue(call.response.headers, 'grpc-encoding'))).toEqual([JSON.stringify({ text: `echo:${text}`, seq: 1 })]);
    }
    const schemaless = grpcPayloadDecoder('schemaless');
    expect(JSON.parse(schemaless(call.path, 'request', call.request.body!, encoding)[0]!)).toEqual({
      '@schemaless': [{ n: 1, wt: 'len', length: text.length, text }, { n: 2, wt: 'varint', value: '7' }],
    });
  });
});
