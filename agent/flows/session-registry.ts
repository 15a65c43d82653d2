// Which protocol session decodes a connection, by the protocol the kernel
// inferred. A new protocol is one decoder and one entry here.
import type { KernelProtocol } from '../capture/socket-event.js';
import type { ProtocolSession, SessionEvents } from './exchange.js';
import { Http1LinesSession } from './http1-lines-session.js';
import { Http1Session } from './http1-session.js';
import { Http2Session, type GrpcPayloadDecoder } from './http2-session.js';

/** Agent-wide settings every session gets. */
export interface ProtocolSettings {
  maxBodyCapture: number;
  /** gRPC streams open this long get progress records (0: never). */
  grpcProgressIntervalMs?: number;
  /** gRPC payload decoding; off when absent. */
  grpcPayloadDecoder?: GrpcPayloadDecoder;
}

export interface SessionOptions extends ProtocolSettings {
  /** false when the connection's first bytes were not seen. */
  startsAtConnectionStart: boolean;
}

type SessionFactory = (events: SessionEvents, options: SessionOptions) => ProtocolSession;

export const sessionFactories: Partial<Record<KernelProtocol, SessionFactory>> = {
  http1: (events, options) => new Http1Session(events, options),
  'http1-lines': (events) => new Http1LinesSession(events),
  http2: (events, options) => new Http2Session(events, options),
};
