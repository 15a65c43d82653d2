// The gRPC part of a Flow: built from an Exchange, and unchanged through the one schema.
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../agent/conntrack/conn-table.js';
import { MonotonicClock } from '../../../agent/flows/clock.js';
import type { Exchange } from '../../../agent/flows/exchange.js';
import { buildFlow, connEnds } from '../../../agent/flows/flow-builder.js';
import { Redactor } from '../../../agent/redact/redact.js';
import { decodeFlow, encodeFlow, flowThroughSchema } from '../../../agent/schema/flow.js';
import type { Flow } from '../../../agent/schema/flow.js';

const request = {
  type: 'request', method: 'POST', target: '/demo.Notes/Say', version: 'HTTP/2', headers: [], headerBytes: 0, bodyBytes: 0,
  bodyTruncated: false, startNs: 0, endNs: 0, startOffset: 0, endOffset: 0,
} as const;

const flow = (grpc: Flow['grpc']): Flow => ({
  time: '2026-11-23T10:00:00.000000000Z', durationNs: '1000', protocol: 'GRPC', tls: false, observedAt: 'SERVER',
  source: { ip: '127.0.0.1', port: 40000 }, destination: { ip: '127.0.0.1', port: 50051 },
  http: { method: 'POST', path: '/demo.Notes/Say', status: 200, requestBytes: '10', responseBytes: '20', headersTrusted: true },
  connId: '1:2:3', grpc,
});

const conn: Connection = {
  key: '1:2:3', tgid: 1, fd: 2, connGen: 3, role: 'server', preexisting: false,
  local: { ip: '127.0.0.1', port: 50051 }, remote: { ip: '127.0.0.1', port: 40000 },
  comm: 'server', uid: 0, cgroupId: 0, lastActivityMs: 0, channels: new Map(), peerTuple: '', ends: undefined,
};
const ctx = { clock: new MonotonicClock(0), redactor: new Redactor(Buffer.alloc(32)), endsOf: (c: Connection) => connEnds(c, undefined) };

describe('gRPC flow fields', () => {
  it('copy what the exchange says and leave out what it does not', () => {
    const exchange: Exchange = { protocol: 'GRPC', request: { ...request, headers: [] }, grpc: { service: 'demo.Notes', method: 'Say', requestMessages: 1, responseMessages: 0, inProgress: true } };
    expect(buildFlow(ctx, conn, false, exchange).grpc).toEqual({ service: 'demo.Notes', method: 'Say', requestMessages: 1, responseMessages: 0, inProgress: true });
    expect(buildFlow(ctx, conn, false, { protocol: 'HTTP2', request: { ...request, headers: [] } }).grpc).toBeUndefined();
  });

  it('survive the schema, status 0 (OK) included and an absent status kept absent', () => {
    const ok = flow({ service: 'demo.Notes', method: 'Say', status: 0, requestMessages: 1, responseMessages: 1, requestPayloads: ['{"text":"hi"}'] });
    expect(flowThroughSchema(ok)).toEqual(ok);
    expect(decodeFlow(encodeFlow(ok))).toEqual(ok);
    const open = flow({ service: 'demo.Notes', method: 'Chat', requestMessages: 2, responseMessages: 1, inProgress: true });
    expect(decodeFlow(encodeFlow(open))).toEqual(open);
    expect(decodeFlow(encodeFlow(open)).grpc!.status).toBeUndefined();
  });
});
