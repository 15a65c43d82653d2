// SocketEvent: what a capture engine (kernel ring buffer, replay file) hands to
// conntrack. Defined once; every engine produces exactly these.

export type Role = 'client' | 'server' | 'unknown';
export type Direction = 'egress' | 'ingress';
/**
 * What the capture engine inferred from a connection's first bytes.
 * 'http1-lines': each data event holds only the first bytes of one HTTP/1
 * message (the bpftrace engine), not a contiguous byte stream.
 */
export type KernelProtocol = 'unknown' | 'other' | 'http1' | 'http2' | 'tls' | 'http1-lines';
export type DataSource = 'syscall' | 'ssl' | 'sendfile';

interface EventBase {
  tgid: number;
  tid: number;
  fd: number;
  /** Generation of the (tgid, fd) slot: monotonic ns when the kernel first saw the connection. */
  connGen: number;
  /** Monotonic (CLOCK_MONOTONIC) ns. */
  tsNs: number;
}

export interface ConnOpenEvent extends EventBase {
  kind: 'open';
  role: Role;
  preexisting: boolean;
  family: 4 | 6;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  comm: string;
  uid: number;
  cgroupId: number;
}

export interface DataEvent extends EventBase {
  kind: 'data';
  direction: Direction;
  source: DataSource;
  protocol: KernelProtocol;
  /** Stream offset of the first byte, per (direction, source). */
  pos: number;
  /** Bytes this event stands for; only the first `payload.length` were captured. */
  len: number;
  /** Captured bytes. A view into a reused buffer: valid only while the batch is processed. */
  payload: Uint8Array;
}

export interface ConnCloseEvent extends EventBase {
  kind: 'close';
  role: Role;
  protocol: KernelProtocol;
  tls: boolean;
  bytesSent: number;
  bytesRecv: number;
  startNs: number;
}

export type SocketEvent = ConnOpenEvent | DataEvent | ConnCloseEvent;

/** Key of one connection generation. */
export function connKey(tgid: number, fd: number, connGen: number): string {
  return `${tgid}:${fd}:${connGen}`;
}
