// A request paired with its response (or the lack of one): what a protocol
// session hands to flow assembly.
import type { DecodeError, HttpRequest, HttpResponse } from '../../decoders/message.js';
import type { GrpcInfo, Protocol } from '../schema/flow.js';

export interface Exchange {
  protocol: Protocol;
  request: HttpRequest;
  response?: HttpResponse;
  /** HTTP/2: header fields were withheld because the HPACK table could not be trusted. */
  headersTrusted?: boolean;
  /** Only the first bytes of each message were seen (bpftrace engine). */
  headersCut?: boolean;
  /** HTTP/2: the stream the exchange travelled on. */
  streamId?: number;
  /** gRPC (protocol 'GRPC'): the call as far as it was seen, already in the Flow's shape. */
  grpc?: GrpcInfo;
}

/** Which side of the conversation a byte stream carries. */
export type MessageSide = 'request' | 'response';

/** The decoders and pairing logic for one connection (one data source) of one protocol. */
export interface ProtocolSession {
  push(side: MessageSide, bytes: Uint8Array, tsNs: number): void;
  skip(side: MessageSide, length: number, tsNs: number): void;
  /** The connection ended: finish what can be finished, report the rest. */
  end(tsNs: number): void;
  /** Time passes with no bytes (about once a second): for records due by time alone. */
  tick?(nowNs: number): void;
  readonly bufferedBytes: number;
}

export interface SessionEvents {
  exchange(exchange: Exchange): void;
  decodeError(protocol: Protocol, error: DecodeError): void;
  /** A response with no request to pair it with (connection first seen mid-stream). */
  unpairedResponse(protocol: Protocol): void;
}
