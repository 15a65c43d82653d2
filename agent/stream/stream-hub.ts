// Fans published records out to WebSocket subscribers. Publishing costs a ring
// write when nobody listens; with subscribers, each record is encoded once per
// format and the frame shared. Each subscriber has its own bounded queue
// (subscriber-queue.ts), so a slow one never slows the agent or the others.
import type WebSocket from 'ws';
import { matchesRecord } from '../filter/record-filter.js';
import type { Anomaly, ConnectionRecord, Flow } from '../schema/flow.js';
import { flowJsonBytes, recordJsonBytes } from '../output/flow-json.js';
import { PackedRecordHistory, RecordHistory, type StreamEntry } from './record-history.js';
import {
  controlFrame, recordJsonFrame, recordJsonFrameOf, recordProtobufFrame, TYPE_OF,
  type Frame, type RecordType, type StreamFormat, type StreamKind,
} from './stream-codec.js';
import { SubscriberQueue, type QueueLimits } from './subscriber-queue.js';
import { SubscriptionError, subscriptionFromMessage, subscriptionFromQuery, type Subscription } from './subscription.js';

export interface StreamOptions {
  /** Records kept per kind for `last`. */
  history: Record<StreamKind, number>;
  queue: QueueLimits;
  /** Ping interval; a peer that has not answered the previous ping is closed. */
  heartbeatMs: number;
  /** A connection with no subscription after this long is closed. */
  subscribeTimeoutMs: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = {
  history: { flows: 10_000, anomalies: 1_000, connections: 10_000 },
  queue: { maxRecords: 20_000, maxBytes: 16 << 20, socketHighWater: 1 << 20 },
  heartbeatMs: 30_000,
  subscribeTimeoutMs: 10_000,
};

export type PublishedRecord = { flow: Flow; anomaly: Anomaly; connection: ConnectionRecord };

interface Subscriber {
  readonly ws: WebSocket;
  queue: SubscriberQueue;
  subscription: Subscription | undefined;
  alive: boolean;
}

export class StreamHub {
  readonly counters = {
    published: { flow: 0, anomaly: 0, connection: 0 } as Record<RecordType, number>,
    /** Records dropped for subscribers that have disconnected (live ones are summed in stats). */
    droppedClosed: 0,
    encodeErrors: 0,
    filterErrors: 0,
    deadPeers: 0,
    badRequests: 0,
  };
  readonly #options: StreamOptions;
  readonly #history: Record<RecordType, RecordHistory | PackedRecordHistory>;
  readonly #subscribers = new Set<Subscriber>();
  /** Subscribers per record type, rebuilt when subscriptions change. */
  #byType: Record<RecordType, Subscriber[]> = { flow: [], anomaly: [], connection: [] };
  readonly #dirty = new Set<Subscriber>();
  #flushScheduled = false;
  #seq = 0;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(options: Partial<StreamOptions> = {}) {
    this.#options = { ...DEFAULT_STREAM_OPTIONS, ...options };
    const h = this.#options.history;
    // Flows and connections come by the thousand a second: kept as bytes. Anomalies
    // are few and updated in place (count, state): kept as the objects themselves.
    this.#history = {
      flow: new PackedRecordHistory(h.flows),
      anomaly: new RecordHistory(h.anomalies),
      connection: new PackedRecordHistory(h.connections),
    };
    this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  get clients(): number {
    return this.#subscribers.size;
  }

  /** `json`: the record already encoded (flowJsonBytes), so it is not encoded again. */
  publish<T extends RecordType>(type: T, record: PublishedRecord[T], json?: Uint8Array): void {
    const entry: StreamEntry = { seq: this.#seq++, record };
    this.counters.published[type]++;
    const history = this.#history[type];
    const subscribers = this.#byType[type];
    if (history instanceof PackedRecordHistory) {
      // Encoded once: kept by the history, and the JSON frame of every subscriber.
      if (history.capacity > 0 || subscribers.length > 0) {
        const bytes = json ?? jsonBytes(type, record);
        history.push(entry.seq, bytes);
        if (subscribers.length > 0) entry.json = recordJsonFrameOf(type, bytes);
      }
    } else {
      history.push(entry);
    }
    if (subscribers.length === 0) return;
    for (const s of subscribers) {
      if (!this.#matches(s.subscription!, type, record)) continue;
      const frame = this.#frame(type, entry, s.subscription!.format);
      if (frame === undefined) continue;
      s.queue.push(frame);
      this.#dirty.add(s);
    }
    this.#scheduleFlush();
  }

  /** A WebSocket that passed authentication; subscribes from the query or its first message. */
  attach(ws: WebSocket, query: URLSearchParams): void {
    const subscriber: Subscriber = { ws, queue: new SubscriberQueue(ws, 'json', this.#options.queue), subscription: undefined, alive: true };
    this.#subscribers.add(subscriber);
    ws.on('pong', () => (subscriber.alive = true));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.#subscribers.delete(subscriber);
      this.#dirty.delete(subscriber);
      this.counters.droppedClosed += subscriber.queue.droppedTotal;
      if (subscriber.subscription) this.#rebuildIndex();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#reject(subscriber, 'send subscribe messages as JSON text', false);
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      this.#subscribe(subscriber, () => subscriptionFromMessage(text, this.#maxLast()), false);
    });
    if (query.has('kinds')) {
      this.#subscribe(subscriber, () => subscriptionFromQuery(query, this.#maxLast())!, true);
    } else {
      const timer = setTimeout(() => {
        if (!subscriber.subscription) this.#reject(subscriber, 'no subscribe message received', true);
      }, this.#options.subscribeTimeoutMs);
      timer.unref();
      ws.once('close', () => clearTimeout(timer));
    }
  }

  stats(): Record<string, unknown> {
    let dropped = this.counters.droppedClosed;
    let queued = 0;
    let queuedBytes = 0;
    let sent = 0;
    for (const s of this.#subscribers) {
      sent += s.queue.sent;
      dropped += s.queue.droppedTotal;
      queued += s.queue.length;
      queuedBytes += s.queue.bytes;
    }
    return {
      clients: this.#subscribers.size,
      published: { ...this.counters.published },
      history: { flows: this.#history.flow.size, anomalies: this.#history.anomaly.size, connections: this.#history.connection.size },
      sent,
      queued,
      queuedBytes,
      dropped,
      encodeErrors: this.counters.encodeErrors,
      filterErrors: this.counters.filterErrors,
      deadPeers: this.counters.deadPeers,
      badRequests: this.counters.badRequests,
    };
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const s of this.#subscribers) s.ws.close(1001, 'agent stopping');
  }

  #maxLast(): number {
    return this.#options.queue.maxRecords - 1;
  }

  #matches(subscription: Subscription, type: RecordType, record: object): boolean {
    try {
      return matchesRecord(subscription.filter, type, record);
    } catch {
      // A record missing a field the filter reads: not a match, counted.
      this.counters.filterErrors++;
      return false;
    }
  }

  #frame(type: RecordType, entry: StreamEntry, format: StreamFormat): Frame | undefined {
    if (format === 'json') return (entry.json ??= Buffer.from(recordJsonFrame(type, entry.record)));
    if (entry.protobuf) return entry.protobuf;
    try {
      return (entry.protobuf = recordProtobufFrame(type, entry.record));
    } catch {
      this.counters.encodeErrors++;
      return undefined;
    }
  }

  #subscribe(subscriber: Subscriber, parse: () => Subscription, closeOnError: boolean): void {
    let subscription: Subscription;
    try {
      subscription = parse();
    } catch (err) {
      if (!(err instanceof SubscriptionError)) throw err;
      this.#reject(subscriber, err.message, closeOnError);
      return;
    }
    subscriber.queue.clear();
    if (subscriber.queue.format !== subscription.format) {
      subscriber.queue = new SubscriberQueue(subscriber.ws, subscription.format, this.#options.queue);
    }
    subscriber.subscription = subscription;
    const history = this.#historyFor(subscription);
    subscriber.queue.push(controlFrame({ type: 'subscribed', kinds: subscription.kinds, history: history.length }, subscription.format));
    for (const { type, entry } of history) {
      const frame = this.#frame(type, entry, subscription.format);
      if (frame !== undefined) subscriber.queue.push(frame);
    }
    this.#rebuildIndex();
    this.#dirty.add(subscriber);
    this.#scheduleFlush();
  }

  /** The newest `last` matching records across the subscribed kinds, in publish order. */
  #historyFor(subscription: Subscription): { type: RecordType; entry: StreamEntry }[] {
    if (subscription.last === 0) return [];
    const found: { type: RecordType; entry: StreamEntry }[] = [];
    for (const kind of subscription.kinds) {
      const type = TYPE_OF[kind];
      for (const entry of this.#history[type].lastMatching(subscription.last, (r) => this.#matches(subscription, type, r))) {
        found.push({ type, entry });
      }
    }
    found.sort((a, b) => a.entry.seq - b.entry.seq);
    return found.slice(-subscription.last);
  }

  #reject(subscriber: Subscriber, message: string, close: boolean): void {
    this.counters.badRequests++;
    const ws = subscriber.ws;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(controlFrame({ type: 'error', message }, subscriber.queue.format));
    if (close) ws.close(1008, 'bad subscription');
  }

  #rebuildIndex(): void {
    const index: Record<RecordType, Subscriber[]> = { flow: [], anomaly: [], connection: [] };
    for (const s of this.#subscribers) {
      for (const kind of s.subscription?.kinds ?? []) index[TYPE_OF[kind]].push(s);
    }
    this.#byType = index;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      for (const s of this.#dirty) s.queue.flush();
      this.#dirty.clear();
    });
  }

  #beat(): void {
    for (const s of this.#subscribers) {
      if (!s.alive) {
        this.counters.deadPeers++;
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }
}

/** A record's JSON as UTF-8 bytes, valid until the next call. */
function jsonBytes(type: RecordType, record: object): Uint8Array {
  return type === 'flow' ? flowJsonBytes(record as Flow) : recordJsonBytes(record);
}
