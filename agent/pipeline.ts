// The user-space pipeline: SocketEvents → conntrack → protocol sessions →
// flow assembly → flow listeners. Capture engines (kernel, replay) feed it.
import type { RecordReader } from './capture/record-reader.js';
import type { SocketEvent } from './capture/socket-event.js';
import { ConnTable } from './conntrack/conn-table.js';
import { MonotonicClock } from './flows/clock.js';
import { buildFlow, connEnds, type KeptEnds } from './flows/flow-builder.js';
import { Redactor } from './redact/redact.js';
import type { ProtocolSettings } from './flows/session-registry.js';
import type { Exchange } from './flows/exchange.js';
import type { ConnCloseEvent, ConnOpenEvent } from './capture/socket-event.js';
import type { Connection } from './conntrack/conn-table.js';
import type { ConnectionProtocol, ConnectionRecord, Endpoint, Flow, Protocol } from './schema/flow.js';

export interface PipelineOptions {
  /** Body prefix kept per message for inspection (not exported in flows yet). */
  maxBodyCapture?: number;
  /** gRPC progress records and payload decoding (agent flags). */
  grpc?: Omit<ProtocolSettings, 'maxBodyCapture'>;
  maxConnections?: number;
  reorderWindowMs?: number;
  /** Events from this process are dropped (the kernel filters it too). */
  selfTgid?: number;
  /** Replay passes the recorded clock offset and redaction key, so flows come out as they did live. */
  wallMinusMonoNs?: number;
  redactionKey?: Buffer;
}

export interface PipelineCounters {
  events: { open: number; data: number; close: number };
  payloadBytes: number;
  flows: Record<Protocol, number>;
  decodeErrors: Map<string, number>; // "<protocol> <code>" → count
  unpairedResponses: number;
  selfEvents: number;
  /** Connections left out by the capture filter. */
  excludedConnections: number;
}

/**
 * Receives every flow; `exchange` holds the decoded request and response
 * before redaction (headers, body prefix) for in-process consumers such as the
 * detectors. Only `flow` may leave the agent.
 *
 * A call between two traced processes on this host gives two flows, one per
 * end. `serverAlsoReports` marks the client's one when the server's end is
 * decoded as the same protocol (the server's flow is then reported as well,
 * usually just before): consumers that count each call once (baseline,
 * detection) skip it. The server's end reads the request before the client
 * can read the answer, so by the client's flow the server's session exists if
 * it ever will.
 */
export type FlowListener = (flow: Flow, exchange: Exchange, serverAlsoReports: boolean) => void;
export type ConnectionListener = (record: ConnectionRecord) => void;
/** Fills fields of a flow or connection end before listeners see it (identity). */
export type EndpointEnricher = (end: Endpoint, local: boolean) => void;

const CONNECTION_PROTOCOLS: Record<ConnCloseEvent['protocol'], ConnectionProtocol> = {
  http1: 'CONN_HTTP1', 'http1-lines': 'CONN_HTTP1', http2: 'CONN_HTTP2', tls: 'CONN_TLS', other: 'CONN_OTHER', unknown: 'CONN_OTHER',
};

export class Pipeline {
  readonly conns: ConnTable;
  readonly clock: MonotonicClock;
  readonly redactor: Redactor;
  readonly counters: PipelineCounters = {
    events: { open: 0, data: 0, close: 0 },
    payloadBytes: 0,
    flows: { HTTP1: 0, HTTP2: 0, GRPC: 0 },
    decodeErrors: new Map(),
    unpairedResponses: 0,
    selfEvents: 0,
    excludedConnections: 0,
  };
  /** Connections the capture filter left out, by tgid:fd:generation. */
  readonly #excluded = new Set<string>();
  #admit: ((open: ConnOpenEvent) => boolean) | undefined;
  readonly #listeners: FlowListener[] = [];
  readonly #connectionListeners: ConnectionListener[] = [];
  readonly #enrichers: { enrich: EndpointEnricher; generation: (() => number) | undefined }[] = [];
  readonly #openListeners: ((event: ConnOpenEvent) => void)[] = [];
  readonly #tickListeners: (() => void)[] = [];
  readonly #selfTgid: number;

  constructor(options: PipelineOptions = {}) {
    this.#selfTgid = options.selfTgid ?? -1;
    this.clock = new MonotonicClock(options.wallMinusMonoNs);
    this.redactor = new Redactor(options.redactionKey);
    const ctx = { clock: this.clock, redactor: this.redactor, endsOf: (c: Connection) => this.#endsOf(c) };
    this.conns = new ConnTable(
      {
        maxConnections: options.maxConnections ?? 65_536,
        reorderWindowMs: options.reorderWindowMs ?? 200,
        protocols: { ...options.grpc, maxBodyCapture: options.maxBodyCapture ?? 0 },
      },
      {
        exchange: (conn, tls, exchange) => {
          const flow = buildFlow(ctx, conn, tls, exchange);
          this.counters.flows[flow.protocol]++;
          // buildFlow kept the connection's ends, with the peer they were made from.
          const peer = conn.ends?.peer;
          const serverAlsoReports = conn.role === 'client' && peer !== undefined && peer.role === 'server' && ConnTable.decodesAlike(conn, tls, peer);
          for (const listener of this.#listeners) listener(flow, exchange, serverAlsoReports);
        },
        connectionClosed: (conn, event) => {
          if (this.#connectionListeners.length === 0) return;
          const record = this.#connectionRecord(conn, event);
          for (const listener of this.#connectionListeners) listener(record);
        },
        decodeError: (protocol, error) => {
          const key = `${protocol} ${error.code}`;
          this.counters.decodeErrors.set(key, (this.counters.decodeErrors.get(key) ?? 0) + 1);
        },
        unpairedResponse: () => {
          this.counters.unpairedResponses++;
        },
      },
    );
  }

  onFlow(listener: FlowListener): void {
    this.#listeners.push(listener);
  }

  /** Every TCP connection the kernel saw end (decoded or not), with bytes and duration. */
  onConnection(listener: ConnectionListener): void {
    this.#connectionListeners.push(listener);
  }

  /**
   * Only connections `admit` accepts when they open are tracked (the config's
   * capture include and exclude lists); undefined admits all. Replaceable at any time.
   */
  setAdmission(admit: ((open: ConnOpenEvent) => boolean) | undefined): void {
    this.#admit = admit;
    if (!admit) this.#excluded.clear();
  }

  #admitted(event: SocketEvent): boolean {
    // Nothing excluded (the usual case): no key to build for data and close records.
    if (event.kind !== 'open' && this.#excluded.size === 0) return true;
    const key = `${event.tgid}:${event.fd}:${event.connGen}`;
    if (event.kind === 'open') {
      if (this.#admit!(event)) return true;
      if (this.#excluded.size >= this.conns.options.maxConnections) this.#excluded.delete(this.#excluded.values().next().value as string);
      this.#excluded.add(key);
      this.counters.excludedConnections++;
      return false;
    }
    if (!this.#excluded.has(key)) return true;
    if (event.kind === 'close') this.#excluded.delete(key);
    return false;
  }

  /** Every connection as it opens (identity reads the process while it still exists). */
  onConnOpen(listener: (event: ConnOpenEvent) => void): void {
    this.#openListeners.push(listener);
  }

  /**
   * Identity: fills both ends of every flow and connection record before
   * listeners see them. `generation` must change whenever the enricher could
   * fill an end differently (its caches or rules changed). With it, a
   * connection's filled ends are reused by its next flows until then; without
   * it, ends are made and filled afresh for every flow.
   */
  addEnricher(enricher: EndpointEnricher, generation?: () => number): void {
    this.#enrichers.push({ enrich: enricher, generation });
  }

  /**
   * The ends of `conn`, identity filled in. They are frozen and shared by the
   * connection's flows for as long as its peer and every enricher's generation
   * stay the same: on a keep-alive connection, the ends (and their JSON, see
   * output/flow-json.ts) are made once, not per request.
   */
  #endsOf(conn: Connection): KeptEnds {
    const peer = this.conns.peerOf(conn);
    const generation = this.#enrichGeneration();
    const kept = conn.ends;
    if (kept !== undefined && kept.peer === peer && kept.generation === generation) return kept;
    const { local, remote } = connEnds(conn, peer);
    for (const { enrich } of this.#enrichers) {
      enrich(local, true);
      enrich(remote, false);
    }
    return (conn.ends = { local: Object.freeze(local), remote: Object.freeze(remote), peer, generation });
  }

  /** Changes when any enricher's does (generations only grow); NaN, never equal, if one has none. */
  #enrichGeneration(): number {
    let sum = this.#enrichers.length;
    for (const { generation } of this.#enrichers) sum += generation ? generation() : NaN;
    return sum;
  }

  #connectionRecord(conn: Connection, event: ConnCloseEvent): ConnectionRecord {
    const { local, remote } = this.#endsOf(conn);
    // Unknown role (seen mid-life, no bytes): reported from the local side as the source.
    const isServer = conn.role === 'server';
    return {
      time: this.clock.rfc3339(event.startNs),
      durationNs: String(Math.max(0, event.tsNs - event.startNs)),
      source: isServer ? remote : local,
      destination: isServer ? local : remote,
      observedAt: isServer ? 'SERVER' : 'CLIENT',
      protocol: CONNECTION_PROTOCOLS[event.protocol],
      tls: event.tls,
      bytesFromSource: String(isServer ? event.bytesRecv : event.bytesSent),
      bytesFromDestination: String(isServer ? event.bytesSent : event.bytesRecv),
      connId: conn.key,
    };
  }

  /** Called after each capture batch: outputs flush what they gathered. */
  onTick(listener: () => void): void {
    this.#tickListeners.push(listener);
  }

  handle(event: SocketEvent, nowMs: number): void {
    if (event.tgid === this.#selfTgid) {
      this.counters.selfEvents++;
      return;
    }
    if (this.#admit && !this.#admitted(event)) return;
    this.counters.events[event.kind]++;
    if (event.kind === 'open') for (const listener of this.#openListeners) listener(event);
    if (event.kind === 'data') this.counters.payloadBytes += event.payload.length;
    this.conns.handle(event, nowMs);
  }

  /**
   * One drained batch, live or replayed: every record through `handle`, then
   * `tick`. Live capture and replay both come through here.
   */
  handleBatch(reader: RecordReader, batch: Uint8Array, length: number, nowMs: number): void {
    if (length > 0) reader.read(batch, length, (event) => this.handle(event, nowMs));
    this.tick(nowMs);
  }

  /** End of a capture batch: reorder-window expiry, then outputs flush. */
  tick(nowMs: number): void {
    this.conns.expireHeld(nowMs);
    // From the batch's wall-clock time, so a replay ticks exactly as the live run did.
    this.conns.tickSessions(nowMs, nowMs * 1e6 - this.clock.wallMinusMonoNs);
    for (const listener of this.#tickListeners) listener();
  }

  /** Ends every tracked connection, reporting what is still pending. */
  drainAll(): void {
    const now = MonotonicClock.nowNs();
    for (const conn of [...this.conns.connections()]) this.conns.close(conn, now);
  }
}
