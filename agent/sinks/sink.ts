// A network sink: records pass its filter, are encoded once and appended to its
// spool; one delivery loop reads the spool in order, sends batches (by size or
// after flushIntervalMs) and acknowledges them, retrying with backoff while the
// receiver is away. Capture only ever touches `write`, which never waits.
import type { Logger } from '../log.js';
import type { RecordKind, RecordPredicate, SinkRecord, SinkType, SyslogSinkConfig, HttpSinkConfig } from './config.js';
import type { RecordEncoder } from './record-encoder.js';
import type { Spool, SpoolBatch } from './spool.js';
import { backoffDelay, DeliveryError, type Transport } from './transport/delivery.js';

const CLOSE_GRACE_MS = 2000;

export interface SinkCounters {
  /** Records waiting for delivery (spool and memory). */
  queued: number;
  delivered: number;
  /** Batches sent again after a failure. */
  retries: number;
  /** Records lost, all causes; `droppedReasons` splits them. */
  dropped: number;
  droppedReasons: { queueFull: number; rejected: number; formatError: number };
  spoolBytes: number;
  connected: boolean;
  rotations?: number;
}

export interface Sink {
  readonly name: string;
  readonly type: SinkType;
  write(kind: RecordKind, record: SinkRecord): void;
  counters(): SinkCounters;
  /** Resolves when what was written so far has reached its destination (or its spool). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class SpooledSink implements Sink {
  readonly name: string;
  readonly type: SinkType;
  readonly #config: SyslogSinkConfig | HttpSinkConfig;
  readonly #accepts: RecordPredicate;
  readonly #encode: RecordEncoder;
  readonly #spool: Spool;
  readonly #transport: Transport;
  readonly #log: Logger;
  #delivered = 0;
  #retries = 0;
  #rejected = 0;
  #formatErrors = 0;
  #closing = false;
  #loop: Promise<void> | undefined;
  #wakeSleep: (() => void) | undefined;
  #down = false;
  #loggedRejection = false;

  constructor(
    config: SyslogSinkConfig | HttpSinkConfig, accepts: RecordPredicate, encode: RecordEncoder,
    spool: Spool, transport: Transport, log: Logger,
  ) {
    this.name = config.name;
    this.type = config.type;
    this.#config = config;
    this.#accepts = accepts;
    this.#encode = encode;
    this.#spool = spool;
    this.#transport = transport;
    this.#log = log.child({ sink: config.name, sinkType: config.type });
  }

  start(): void {
    this.#loop ??= this.#deliverForever().catch((err: Error) => {
      this.#log.error({ err: err.message }, 'sink delivery stopped unexpectedly');
    });
  }

  write(kind: RecordKind, record: SinkRecord): void {
    if (this.#closing) return;
    let encoded: string;
    try {
      if (!this.#accepts(kind, record)) return;
      encoded = this.#encode(kind, record);
    } catch {
      this.#formatErrors++;
      return;
    }
    this.#spool.append(encoded);
  }

  counters(): SinkCounters {
    const spool = this.#spool.counters;
    const droppedReasons = { queueFull: spool.dropped, rejected: this.#rejected, formatError: this.#formatErrors };
    return {
      queued: this.#spool.records, delivered: this.#delivered, retries: this.#retries,
      dropped: droppedReasons.queueFull + droppedReasons.rejected + droppedReasons.formatError, droppedReasons,
      spoolBytes: this.#spool.bytes, connected: this.#transport.connected,
    };
  }

  flush(): Promise<void> {
    return this.#spool.flush();
  }

  async #deliverForever(): Promise<void> {
    const { batch } = this.#config;
    while (!this.#closing) {
      await this.#spool.waitForData(1000);
      if (this.#closing) break;
      // Let a partial batch fill up for flushIntervalMs before sending it.
      const firstSeen = Date.now();
      while (!this.#closing && this.#spool.readableRecords < batch.maxRecords && Date.now() - firstSeen < batch.flushIntervalMs) {
        await this.#sleep(Math.min(50, batch.flushIntervalMs));
      }
      const next = await this.#spool.read(batch.maxRecords, batch.maxBytes);
      if (next) await this.#deliver(next);
    }
  }

  /** Sends one batch until it is taken, refused for good, or the sink closes. */
  async #deliver(batch: SpoolBatch): Promise<void> {
    let records = batch.records;
    for (let attempt = 0; !this.#closing; attempt++) {
      if (attempt > 0) this.#retries++;
      let retryAfterMs: number | undefined;
      try {
        const result = await this.#transport.send(records);
        this.#noteUp();
        this.#rejected += result.rejected;
        if (result.rejected > 0) this.#noteRejected(`${result.rejected} records refused by the receiver`);
        if (result.retry && result.retry.length > 0) {
          this.#delivered += records.length - result.rejected - result.retry.length;
          records = result.retry;
        } else {
          this.#delivered += records.length - result.rejected;
          await this.#spool.ack(batch);
          return;
        }
      } catch (err) {
        const failure = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, true);
        if (!failure.retryable) {
          this.#rejected += records.length;
          this.#noteRejected(failure.message);
          await this.#spool.discard(batch);
          return;
        }
        this.#noteDown(failure.message);
        retryAfterMs = failure.retryAfterMs;
      }
      await this.#sleep(backoffDelay(attempt, this.#config.retry.initialBackoffMs, this.#config.retry.maxBackoffMs, retryAfterMs));
    }
  }

  #noteDown(reason: string): void {
    if (this.#down) return;
    this.#down = true;
    this.#log.warn({ reason }, 'sink unreachable: records queue on disk until it returns');
  }

  #noteUp(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#log.info({ queued: this.#spool.records }, 'sink reachable again: delivering queued records');
  }

  #noteRejected(reason: string): void {
    if (this.#loggedRejection) return;
    this.#loggedRejection = true;
    this.#log.error({ reason }, 'sink receiver refused records: they are dropped and counted (logged once)');
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    });
  }

  /** Stops delivery; what was not delivered stays in the spool for the next start. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wakeSleep?.();
    this.#spool.interrupt();
    await this.#spool.flush();
    // A batch in flight gets a moment to finish; after that its connection is
    // cut and the batch is sent again by the next start (at least once).
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.#loop, new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    await this.#transport.close();
    await this.#loop;
    await this.#spool.close();
  }
}
