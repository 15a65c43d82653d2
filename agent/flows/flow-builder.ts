// Flow assembly: an Exchange on a connection becomes the public Flow record.
import { headerValue } from '../../decoders/message.js';
import type { Connection } from '../conntrack/conn-table.js';
import type { Redactor } from '../redact/redact.js';
import type { Endpoint, Flow, FlowIssue, GrpcInfo } from '../schema/flow.js';
import type { MonotonicClock } from './clock.js';
import type { Exchange } from './exchange.js';

export interface FlowBuilderContext {
  clock: MonotonicClock;
  redactor: Redactor;
  /** The connection's two ends as its flows show them (see connEnds). */
  endsOf(conn: Connection): ConnEnds;
}

/** The ends of a connection: `local` is the end whose syscalls we saw. */
export interface ConnEnds {
  readonly local: Endpoint;
  readonly remote: Endpoint;
}

/** Ends the pipeline keeps on a connection for its next flows, with what they were made from. */
export interface KeptEnds extends ConnEnds {
  readonly peer: Connection | undefined;
  readonly generation: number;
}

/** A connection's ends from what conntrack knows: addresses, and pid and process name where the end is on this host. */
export function connEnds(conn: Connection, peer: Connection | undefined): ConnEnds {
  return {
    local: endpoint(conn.local.ip, conn.local.port, conn.tgid, conn.comm),
    remote: peer ? endpoint(conn.remote.ip, conn.remote.port, peer.tgid, peer.comm) : endpoint(conn.remote.ip, conn.remote.port),
  };
}

export function buildFlow(ctx: FlowBuilderContext, conn: Connection, tls: boolean, exchange: Exchange): Flow {
  const { request, response } = exchange;
  const { local, remote } = ctx.endsOf(conn);
  const isClient = conn.role === 'client';
  const endNs = response ? response.endNs : request.endNs;

  // Most flows have no issue: no array for them.
  let issues: FlowIssue[] | undefined;
  if (!response) (issues ??= []).push('NO_RESPONSE');
  if (request.bodyMissing) (issues ??= []).push('REQUEST_TRUNCATED');
  if (response?.bodyMissing) (issues ??= []).push('RESPONSE_TRUNCATED');
  if (exchange.headersCut) (issues ??= []).push('HEADERS_CUT');

  const flow: Flow = {
    time: ctx.clock.rfc3339(request.startNs),
    durationNs: String(Math.max(0, endNs - request.startNs)),
    protocol: exchange.protocol,
    tls,
    observedAt: isClient ? 'CLIENT' : 'SERVER',
    source: isClient ? local : remote,
    destination: isClient ? remote : local,
    http: {
      method: request.method,
      path: ctx.redactor.target(request.target),
      host: headerValue(request.headers, 'host') ?? headerValue(request.headers, ':authority'),
      status: response?.status,
      requestBytes: String(request.endOffset - request.startOffset),
      responseBytes: String(response ? response.endOffset - response.startOffset : 0),
      headersTrusted: exchange.headersTrusted,
      streamId: exchange.streamId,
    },
    connId: conn.key,
  };
  if (issues) flow.issues = issues;
  if (exchange.grpc) flow.grpc = redactPayloads(ctx.redactor, exchange.grpc);
  return flow;
}

/** Decoded gRPC messages obey the same redaction rules as everything exported. */
function redactPayloads(redactor: Redactor, grpc: GrpcInfo): GrpcInfo {
  if (!grpc.requestPayloads && !grpc.responsePayloads) return grpc;
  const out = { ...grpc };
  if (grpc.requestPayloads) out.requestPayloads = grpc.requestPayloads.map((t) => redactor.jsonText(t));
  if (grpc.responsePayloads) out.responsePayloads = grpc.responsePayloads.map((t) => redactor.jsonText(t));
  return out;
}

function endpoint(ip: string, port: number, pid?: number, process?: string): Endpoint {
  // Both known (the usual case): one literal, no shape change per added field.
  if (pid && process) return { ip, port, pid, process };
  const e: Endpoint = { ip, port };
  if (pid) e.pid = pid;
  if (process) e.process = process;
  return e;
}
