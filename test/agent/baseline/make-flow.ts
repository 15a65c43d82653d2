// Flows and exchanges built in memory for baseline and detector tests.
import type { HeaderField, HttpRequest, HttpResponse } from '../../../decoders/message.js';
import type { Exchange } from '../../../agent/flows/exchange.js';
import type { Endpoint, Flow, Protocol } from '../../../agent/schema/flow.js';

export interface FlowSpec {
  timeMs: number;
  source?: Partial<Endpoint>;
  destination?: Partial<Endpoint>;
  method?: string;
  path?: string;
  status?: number;
  latencyMs?: number;
  responseBytes?: number;
  protocol?: Protocol;
  tls?: boolean;
  grpc?: { service: string; method: string; status?: number };
  headers?: HeaderField[];
}

export function makeFlow(spec: FlowSpec): { flow: Flow; exchange: Exchange } {
  const protocol = spec.protocol ?? (spec.grpc ? 'GRPC' : 'HTTP1');
  const flow: Flow = {
    time: new Date(spec.timeMs).toISOString(),
    durationNs: String(Math.round((spec.latencyMs ?? 5) * 1e6)),
    protocol,
    tls: spec.tls ?? false,
    observedAt: 'CLIENT',
    source: { ip: '198.18.0.2', port: 40000, pid: 10, process: 'curl', workload: 'frontend', namespace: 'shop', ...spec.source },
    destination: { ip: '198.18.0.3', port: 8080, workload: 'orders', namespace: 'shop', ...spec.destination },
    http: {
      method: spec.grpc ? 'POST' : spec.method ?? 'GET',
      path: spec.grpc ? `/${spec.grpc.service}/${spec.grpc.method}` : spec.path ?? '/api/orders/1',
      ...(spec.status !== undefined || !spec.grpc ? { status: spec.status ?? 200 } : {}),
      requestBytes: '0',
      responseBytes: String(spec.responseBytes ?? 512),
    },
    connId: '10:3:1',
    ...(spec.grpc ? { grpc: { service: spec.grpc.service, method: spec.grpc.method, ...(spec.grpc.status !== undefined ? { status: spec.grpc.status } : {}), requestMessages: 1, responseMessages: 1 } } : {}),
  };
  const base = { headerBytes: 0, bodyBytes: 0, bodyTruncated: false, startNs: 0, endNs: 0, startOffset: 0, endOffset: 0 };
  const request: HttpRequest = { ...base, type: 'request', method: flow.http.method, target: flow.http.path, version: 'HTTP/1.1', headers: spec.headers ?? [] };
  const response: HttpResponse = { ...base, type: 'response', status: flow.http.status ?? 200, reason: 'OK', version: 'HTTP/1.1', headers: [] };
  return { flow, exchange: { protocol, request, response, ...(flow.grpc ? { grpc: flow.grpc } : {}) } };
}
