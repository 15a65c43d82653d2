// The Flow record in its proto3 JSON shape. The .proto file beside this one is
// the single definition; `flowSchema` loads it, and test/agent/schema checks that
// every field written here survives a round trip through it unchanged.
import protobuf from 'protobufjs';
import { paths } from '../paths.js';

export type Protocol = 'HTTP1' | 'HTTP2' | 'GRPC';
export type ObservedAt = 'CLIENT' | 'SERVER';
export type FlowIssue = 'NO_RESPONSE' | 'REQUEST_TRUNCATED' | 'RESPONSE_TRUNCATED' | 'HEADERS_CUT';

export interface Endpoint {
  ip: string;
  port: number;
  pid?: number;
  process?: string;
  exe?: string;
  user?: string;
  containerId?: string;
  pod?: string;
  namespace?: string;
  workload?: string;
  workloadKind?: string;
  serviceAccount?: string;
}

export interface HttpInfo {
  method: string;
  path: string;
  host?: string;
  status?: number;
  /** uint64 in the schema: a decimal string in JSON. */
  requestBytes: string;
  responseBytes: string;
  headersTrusted?: boolean;
  /** HTTP/2 stream id. */
  streamId?: number;
}

export interface GrpcInfo {
  service: string;
  method: string;
  /** grpc-status; absent when none was seen. */
  status?: number;
  message?: string;
  requestMessages: number;
  responseMessages: number;
  /** The stream is still open: a progress record. */
  inProgress?: boolean;
  /** Decoded messages as JSON text (only when payload decoding is configured). */
  requestPayloads?: string[];
  responsePayloads?: string[];
}

export interface Flow {
  time: string;
  durationNs: string;
  protocol: Protocol;
  tls: boolean;
  observedAt: ObservedAt;
  source: Endpoint;
  destination: Endpoint;
  http: HttpInfo;
  issues?: FlowIssue[];
  connId: string;
  grpc?: GrpcInfo;
}

export type ConnectionProtocol = 'CONN_HTTP1' | 'CONN_HTTP2' | 'CONN_TLS' | 'CONN_OTHER';

/** One TCP connection when it ends (decoded or not). */
export interface ConnectionRecord {
  time: string;
  durationNs: string;
  source: Endpoint;
  destination: Endpoint;
  observedAt: ObservedAt;
  protocol: ConnectionProtocol;
  tls: boolean;
  bytesFromSource: string;
  bytesFromDestination: string;
  connId: string;
}

export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export type AnomalyKind =
  | 'NEW_EDGE' | 'NEW_ENDPOINT' | 'NEW_PROTOCOL' | 'PLAINTEXT' | 'AUTH_FAILURE_BURST' | 'SCAN'
  | 'ENUMERATION' | 'RATE_SPIKE' | 'ERROR_SPIKE' | 'LATENCY_SPIKE' | 'INJECTION' | 'SENSITIVE_DATA'
  | 'JWT_WEAKNESS' | 'LARGE_TRANSFER';
export type AnomalyState = 'OPEN' | 'CLOSED';

export interface Anomaly {
  id: string;
  kind: AnomalyKind;
  severity: Severity;
  state: AnomalyState;
  source: Endpoint;
  destination: Endpoint;
  endpoint?: string;
  summary: string;
  evidence?: Flow[];
  /** uint64: a decimal string in JSON. */
  count: string;
  firstSeen: string;
  lastSeen: string;
  mitreTechnique?: string;
  details?: Record<string, string>;
  protocol?: Protocol;
  destinationPort?: number;
}

let root: protobuf.Root | undefined;

/** The loaded schema (parsed once). */
export function flowSchema(): { root: protobuf.Root; Flow: protobuf.Type; Connection: protobuf.Type; Anomaly: protobuf.Type } {
  root ??= protobuf.loadSync(paths.flowProto);
  return {
    root,
    Flow: root.lookupType('flowscope.v1.Flow'),
    Connection: root.lookupType('flowscope.v1.Connection'),
    Anomaly: root.lookupType('flowscope.v1.Anomaly'),
  };
}

const jsonOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, arrays: false };

/** Binary protobuf encoding of a flow. */
export function encodeFlow(flow: Flow): Uint8Array {
  const { Flow: type } = flowSchema();
  return type.encode(type.fromObject(flow)).finish();
}

/** Decodes binary protobuf back into the JSON shape. */
export function decodeFlow(bytes: Uint8Array): Flow {
  const { Flow: type } = flowSchema();
  return type.toObject(type.decode(bytes), jsonOptions) as Flow;
}

/** Canonical JSON of a flow, going through the schema (slow path: tests and validation). */
export function flowThroughSchema(flow: Flow): Flow {
  const { Flow: type } = flowSchema();
  return type.toObject(type.fromObject(flow), jsonOptions) as Flow;
}

/** Canonical JSON of an anomaly through the schema (tests, validation). */
export function anomalyThroughSchema(anomaly: Anomaly): Anomaly {
  const { Anomaly: type } = flowSchema();
  return type.toObject(type.fromObject(anomaly), jsonOptions) as Anomaly;
}

/** Canonical JSON of a connection record through the schema. */
export function connectionThroughSchema(record: ConnectionRecord): ConnectionRecord {
  const { Connection: type } = flowSchema();
  return type.toObject(type.fromObject(record), jsonOptions) as ConnectionRecord;
}

/** Binary protobuf of any public record (stream protobuf frames). */
export function encodeRecord(kind: 'Flow' | 'Connection' | 'Anomaly', record: object): Uint8Array {
  const type = flowSchema()[kind];
  return type.encode(type.fromObject(record)).finish();
}
