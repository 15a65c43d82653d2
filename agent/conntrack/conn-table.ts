// Conntrack: one record per connection generation, its byte streams ordered by
// position, and the protocol session decoding them. Bounded: the table, the
// reorder holds and the decoders all have caps, and evictions are counted.
import type { ConnCloseEvent, ConnOpenEvent, DataEvent, DataSource, Direction, KernelProtocol, Role, SocketEvent } from '../capture/socket-event.js';
import { connKey } from '../capture/socket-event.js';
import type { Exchange, MessageSide, ProtocolSession, SessionEvents } from '../flows/exchange.js';
import type { KeptEnds } from '../flows/flow-builder.js';
import { sessionFactories, type ProtocolSettings } from '../flows/session-registry.js';
import type { Protocol } from '../schema/flow.js';
import { http2MessageKind } from '../../decoders/http2/index.js';
import type { DecodeError } from '../../decoders/message.js';
import { OrderedStream, type StreamCounters } from './ordered-stream.js';

export interface ConnEnd {
  ip: string;
  port: number;
}

export interface Connection {
  /** tgid:fd:generation, the connection's name in flows. */
  readonly key: string;
  readonly tgid: number;
  readonly fd: number;
  readonly connGen: number;
  role: Role;
  preexisting: boolean;
  local: ConnEnd;
  remote: ConnEnd;
  comm: string;
  uid: number;
  cgroupId: number;
  lastActivityMs: number;
  readonly channels: Map<ChannelSource, Channel>;
  /** The channel the last record went to: records look it up without a Map lookup. */
  recentChannel?: Channel;
  /** tuple key of the other end, were it a connection on this host. */
  readonly peerTuple: string;
  /** Its ends as its last flow showed them, identity filled in (agent/pipeline.ts). */
  ends: KeptEnds | undefined;
}

/** Plaintext from syscalls, or from TLS library probes. */
export type ChannelSource = 'syscall' | 'ssl';

export interface Channel {
  readonly source: ChannelSource;
  readonly tls: boolean;
  readonly streams: Record<Direction, OrderedStream>;
  session?: ProtocolSession;
  /** The protocol the session decodes, as the kernel inferred it from the first bytes. */
  sessionProtocol?: KernelProtocol;
  /** Set once a session could not be made (protocol we do not decode). */
  undecodable: boolean;
}

export interface ConnTableEvents {
  exchange(conn: Connection, tls: boolean, exchange: Exchange): void;
  decodeError(protocol: Protocol, error: DecodeError): void;
  unpairedResponse(protocol: Protocol): void;
  /** The kernel reported the end of a tracked connection, with its byte counts. */
  connectionClosed?(conn: Connection, event: ConnCloseEvent): void;
}

export interface ConnTableOptions {
  maxConnections: number;
  reorderWindowMs: number;
  protocols: ProtocolSettings;
}

export interface ConnTableCounters extends StreamCounters {
  opened: number;
  closed: number;
  evicted: number;
  /** Data for a connection whose open record was never seen (lost or before start). */
  implicitOpens: number;
  /** Payload bytes dropped because no decoder handles the connection's protocol. */
  undecodedBytes: number;
}

const SESSION_TICK_MS = 1000;
/** Ended connections kept for naming the far end of flows still being built. */
const RECENTLY_ENDED_MAX = 4096;

const REQUEST_START = /^(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH|PRI) /;

/** (tgid, fd) as one number: tgid < 2^22 and fd < 2^31, so it stays exact. */
function slotOf(tgid: number, fd: number): number {
  return tgid * 0x8000_0000 + fd;
}

const RECENT_SLOTS = 1024;

/** Index in the recent-connection cache for (tgid, fd). */
function recentIndex(tgid: number, fd: number): number {
  return (fd ^ (tgid << 5) ^ (tgid >>> 5)) & (RECENT_SLOTS - 1);
}

export class ConnTable {
  /** The current generation in each (tgid, fd) slot. */
  readonly #conns = new Map<number, Connection>();
  /**
   * Connections of #conns by a hash of (tgid, fd), so most records find theirs without a
   * Map lookup (one per record otherwise). Only ever holds connections in #conns.
   */
  readonly #recent: (Connection | undefined)[] = new Array<Connection | undefined>(RECENT_SLOTS).fill(undefined);
  /** Sessions that produce records by time alone (gRPC progress). */
  readonly #ticking = new Map<ProtocolSession, Connection>();
  #lastSessionTickMs = 0;
  /** Connections with records held for reordering: the only ones expiry must visit. */
  readonly #holding = new Set<Connection>();
  /** local tuple → connection, to find the other end of host-local connections. */
  readonly #byTuple = new Map<string, Connection>();
  /**
   * Recently ended connections by local tuple: a server that answers and
   * closes at once ends before the client's flow is built, and that flow
   * should still name it. Bounded; oldest first out.
   */
  readonly #recentlyEnded = new Map<string, Connection>();
  readonly counters: ConnTableCounters = {
    opened: 0, closed: 0, evicted: 0, implicitOpens: 0, undecodedBytes: 0,
    gaps: 0, gapBytes: 0, duplicates: 0, holdOverflows: 0, uncapturedBytes: 0,
  };

  constructor(
    readonly options: ConnTableOptions,
    readonly events: ConnTableEvents,
  ) {}

  get size(): number {
    return this.#conns.size;
  }

  connections(): IterableIterator<Connection> {
    return this.#conns.values();
  }

  /**
   * Whether `peer` decodes the same protocol as `conn` does on its plaintext
   * (`tls`) or syscall channel. The same connection can be decoded as two
   * protocols: a gRPC server writes its HTTP/2 settings first and is decoded as
   * HTTP/2 while an HTTP/1 client talks at it, and only the client's flows exist.
   */
  static decodesAlike(conn: Connection, tls: boolean, peer: Connection): boolean {
    const protocol = conn.channels.get(tls ? 'ssl' : 'syscall')?.sessionProtocol;
    if (protocol === undefined) return false;
    const recent = peer.recentChannel; // the usual answer, without an iterator
    if (recent?.sessionProtocol === protocol) return true;
    for (const channel of peer.channels.values()) if (channel.sessionProtocol === protocol) return true;
    return false;
  }

  /** The connection whose local end is `remote` and remote end is `local`: the peer on this host. */
  peerOf(conn: Connection): Connection | undefined {
    return this.#byTuple.get(conn.peerTuple) ?? this.#recentlyEnded.get(conn.peerTuple);
  }

  handle(event: SocketEvent, nowMs: number): void {
    switch (event.kind) {
      case 'open':
        this.#open(event, nowMs);
        return;
      case 'data':
        this.#data(event, nowMs);
        return;
      case 'close': {
        const conn = this.#lookup(event.tgid, event.fd);
        if (conn && conn.connGen === event.connGen) {
          this.events.connectionClosed?.(conn, event);
          this.close(conn, event.tsNs);
        }
        return;
      }
    }
  }

  /** Ends a connection: flushes held bytes, finishes decoders, forgets it. */
  close(conn: Connection, tsNs: number): void {
    this.#end(conn, tsNs);
    this.counters.closed++;
  }

  /** At most once a second, lets time-driven sessions report (`nowNs`: monotonic). */
  tickSessions(nowMs: number, nowNs: number): void {
    if (nowMs - this.#lastSessionTickMs < SESSION_TICK_MS) return;
    this.#lastSessionTickMs = nowMs;
    for (const session of this.#ticking.keys()) session.tick!(nowNs);
  }

  /** Turns records held past the reorder window into counted gaps. */
  expireHeld(nowMs: number): void {
    for (const conn of this.#holding) {
      let stillHolding = false;
      for (const channel of conn.channels.values()) {
        channel.streams.egress.expire(nowMs, this.options.reorderWindowMs);
        channel.streams.ingress.expire(nowMs, this.options.reorderWindowMs);
        stillHolding ||= channel.streams.egress.holding || channel.streams.ingress.holding;
      }
      if (!stillHolding) this.#holding.delete(conn);
    }
  }

  /** The current connection in the (tgid, fd) slot. */
  #lookup(tgid: number, fd: number): Connection | undefined {
    const at = recentIndex(tgid, fd);
    const recent = this.#recent[at];
    if (recent !== undefined && recent.tgid === tgid && recent.fd === fd) return recent;
    const conn = this.#conns.get(slotOf(tgid, fd));
    if (conn !== undefined) this.#recent[at] = conn;
    return conn;
  }

  #open(event: ConnOpenEvent, nowMs: number): Connection {
    const slot = slotOf(event.tgid, event.fd);
    const existing = this.#lookup(event.tgid, event.fd);
    if (existing) {
      if (existing.connGen === event.connGen) return existing;
      // The fd was reused without a close we saw: the old connection is over.
      this.close(existing, event.tsNs);
    }
    this.#makeRoom(event.tsNs);
    const local = { ip: event.localIp, port: event.localPort };
    const remote = { ip: event.remoteIp, port: event.remotePort };
    const conn: Connection = {
      key: connKey(event.tgid, event.fd, event.connGen), tgid: event.tgid, fd: event.fd, connGen: event.connGen,
      role: event.role, preexisting: event.preexisting, local, remote,
      comm: event.comm, uid: event.uid, cgroupId: event.cgroupId,
      lastActivityMs: nowMs,
      channels: new Map(),
      recentChannel: undefined,
      peerTuple: tupleKey(remote, local),
      ends: undefined,
    };
    this.#conns.set(slot, conn);
    this.#recent[recentIndex(conn.tgid, conn.fd)] = conn;
    if (conn.local.ip !== '') this.#byTuple.set(tupleKey(conn.local, conn.remote), conn);
    this.counters.opened++;
    return conn;
  }

  #data(event: DataEvent, nowMs: number): void {
    let conn = this.#lookup(event.tgid, event.fd);
    if (!conn || conn.connGen !== event.connGen) {
      this.counters.implicitOpens++;
      conn = this.#open({
        kind: 'open', tgid: event.tgid, tid: event.tid, fd: event.fd, connGen: event.connGen, tsNs: event.tsNs,
        role: 'unknown', preexisting: true, family: 4, localIp: '', localPort: 0, remoteIp: '', remotePort: 0,
        comm: '', uid: 0, cgroupId: 0,
      }, nowMs);
    }
    conn.lastActivityMs = nowMs;
    const stream = this.#channel(conn, event.source, event.protocol).streams[event.direction];
    stream.push(event.pos, event.len, event.payload, event.tsNs, nowMs);
    if (stream.holding) this.#holding.add(conn);
  }

  #channel(conn: Connection, source: DataSource, protocol: KernelProtocol): Channel {
    const name: ChannelSource = source === 'ssl' ? 'ssl' : 'syscall';
    const recent = conn.recentChannel;
    if (recent !== undefined && recent.source === name) return recent;
    const channel = conn.channels.get(name);
    if (channel) return (conn.recentChannel = channel);
    const made: Channel = {
      source: name,
      tls: name === 'ssl',
      undecodable: false,
      streams: {
        egress: new OrderedStream({
          data: (bytes, ts) => this.#deliver(conn, made, 'egress', protocol, bytes, ts),
          skip: (length, ts) => made.session?.skip(sideOf(conn.role, 'egress'), length, ts),
        }, this.counters),
        ingress: new OrderedStream({
          data: (bytes, ts) => this.#deliver(conn, made, 'ingress', protocol, bytes, ts),
          skip: (length, ts) => made.session?.skip(sideOf(conn.role, 'ingress'), length, ts),
        }, this.counters),
      },
    };
    conn.channels.set(name, made);
    conn.recentChannel = made;
    return made;
  }

  #deliver(conn: Connection, channel: Channel, direction: Direction, protocol: KernelProtocol, bytes: Uint8Array, tsNs: number): void {
    if (!channel.session) {
      if (channel.undecodable) {
        this.counters.undecodedBytes += bytes.length;
        return;
      }
      const factory = sessionFactories[protocol];
      if (!factory) {
        channel.undecodable = true;
        this.counters.undecodedBytes += bytes.length;
        return;
      }
      // Mid-stream connections: wait for a message start to tell client from server.
      if (conn.role === 'unknown') conn.role = inferRole(protocol, direction, bytes);
      if (conn.role === 'unknown') {
        this.counters.undecodedBytes += bytes.length;
        return;
      }
      const events: SessionEvents = {
        exchange: (exchange) => this.events.exchange(conn, channel.tls, exchange),
        decodeError: (p, e) => this.events.decodeError(p, e),
        unpairedResponse: (p) => this.events.unpairedResponse(p),
      };
      channel.session = factory(events, { ...this.options.protocols, startsAtConnectionStart: !conn.preexisting });
      channel.sessionProtocol = protocol;
      if (channel.session.tick) this.#ticking.set(channel.session, conn);
    }
    channel.session.push(sideOf(conn.role, direction), bytes, tsNs);
  }

  #makeRoom(tsNs: number): void {
    while (this.#conns.size >= this.options.maxConnections) {
      // Map order is creation order: the oldest connection goes first.
      const oldest = this.#conns.values().next().value as Connection;
      this.counters.evicted++;
      this.#end(oldest, tsNs);
    }
  }

  #end(conn: Connection, tsNs: number): void {
    for (const channel of conn.channels.values()) {
      channel.streams.egress.flush();
      channel.streams.ingress.flush();
      channel.session?.end(tsNs);
      if (channel.session) this.#ticking.delete(channel.session);
    }
    this.#forget(conn);
  }

  #forget(conn: Connection): void {
    this.#holding.delete(conn);
    const slot = slotOf(conn.tgid, conn.fd);
    if (this.#conns.get(slot) === conn) this.#conns.delete(slot);
    const at = recentIndex(conn.tgid, conn.fd);
    if (this.#recent[at] === conn) this.#recent[at] = undefined;
    const tuple = tupleKey(conn.local, conn.remote);
    if (this.#byTuple.get(tuple) === conn) {
      this.#byTuple.delete(tuple);
      if (this.#recentlyEnded.size >= RECENTLY_ENDED_MAX) this.#recentlyEnded.delete(this.#recentlyEnded.keys().next().value as string);
      this.#recentlyEnded.delete(tuple);
      this.#recentlyEnded.set(tuple, conn);
    }
  }
}

function tupleKey(local: ConnEnd, remote: ConnEnd): string {
  return `${local.ip}|${local.port}|${remote.ip}|${remote.port}`;
}

/** Requests flow client → server. */
function sideOf(role: Role, direction: Direction): MessageSide {
  return (role === 'client') === (direction === 'egress') ? 'request' : 'response';
}

/** Role of a connection first seen mid-life, from the first bytes we have. */
function inferRole(protocol: KernelProtocol, direction: Direction, bytes: Uint8Array): Role {
  let kind: 'request' | 'response' | undefined;
  if (protocol === 'http2') {
    kind = http2MessageKind(bytes);
  } else {
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 16)).toString('latin1');
    kind = REQUEST_START.test(head) ? 'request' : head.startsWith('HTTP/') ? 'response' : undefined;
  }
  if (kind === undefined) return 'unknown';
  return (direction === 'egress') === (kind === 'request') ? 'client' : 'server';
}
