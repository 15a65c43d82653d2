// The Flow record in its proto3 JSON shape. The .proto file beside this one is
// the single definition; `flowSchema` loads it, and test/agent/schema checks that
// every field written here survives a round trip through it unchanged.
import protobuf from 'protobufjs';
import { paths } from '../paths.js';

export type Protocol = 'HTTP1' | 'HTTP2' | 'GRPC';
export type ObservedAt = 'CLIENT' | 'SERVER';
export type FlowIssue = 'NO_RESPONSE' | 'REQUEST_TRUNCATED' | 'RESPONSE_TRUNCATED';

export interface Endpoint {
  ip: string;
  port: number;
  pid?: number;
  process?: string;
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

let root: protobuf.Root | undefined;

/** The loaded schema (parsed once). */
export function flowSchema(): { root: protobuf.Root; Flow: protobuf.Type } {
  root ??= protobuf.loadSync(paths.flowProto);
  return { root, Flow: root.lookupType('flowscope.v1.Flow') };
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
