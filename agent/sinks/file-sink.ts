// JSON lines to a local file with size-based rotation (path → path.1 → … →
// path.N, the oldest removed). Lines gather in memory and go to the file once
// per turn of the event loop; past `maxPendingBytes` waiting, lines are dropped
// and counted rather than held without bound.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { FileSinkConfig, RecordKind, RecordPredicate, SinkRecord } from './config.js';
import type { RecordEncoder } from './record-encoder.js';
import type { Sink, SinkCounters } from './sink.js';

const MAX_PENDING_BYTES = 16 << 20;

export class FileSink implements Sink {
  readonly name: string;
  readonly type = 'file' as const;
  readonly #config: FileSinkConfig;
  readonly #accepts: RecordPredicate;
  readonly #encode: RecordEncoder;
  readonly #log: Logger;
  #handle: FileHandle | undefined;
  #size = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #writing: Promise<void> | undefined;
  #failed = false;
  #delivered = 0;
  #dropped = { queueFull: 0, rejected: 0, formatError: 0 };
  #rotations = 0;

  constructor(config: FileSinkConfig, accepts: RecordPredicate, encode: RecordEncoder, log: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#accepts = accepts;
    this.#encode = encode;
    this.#log = log;
  }

  write(kind: RecordKind, record: SinkRecord): void {
    if (!this.#accepts(kind, record)) return;
    let line: string;
    try {
      line = `${this.#encode(kind, record)}\n`;
    } catch {
      this.#dropped.formatError++;
      return;
    }
    if (this.#pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.#dropped.queueFull++;
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (!this.#writing) this.#writing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const chunk = Buffer.from(this.#pending.join(''), 'utf8');
      const lines = this.#pending.length;
      this.#pending = [];
      this.#pendingBytes = 0;
      try {
        if (!this.#handle || this.#size >= this.#config.maxBytes) await this.#openOrRotate();
        await this.#handle!.write(chunk, 0, chunk.length, null);
        this.#size += chunk.length;
        this.#delivered += lines;
        this.#failed = false;
      } catch (err) {
        this.#dropped.rejected += lines;
        if (!this.#failed) this.#log.error({ sink: this.name, path: this.#config.path, err: (err as Error).message }, 'file sink write failed: lines dropped');
        this.#failed = true;
        await this.#handle?.close().catch(() => undefined);
        this.#handle = undefined;
      }
    }
    this.#writing = undefined;
  }

  async #openOrRotate(): Promise<void> {
    const path = this.#config.path;
    if (this.#handle) {
      await this.#handle.close();
      this.#handle = undefined;
      const keep = this.#config.keep;
      if (keep === 0) await rm(path, { force: true });
      else {
        await rm(`${path}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
        await rename(path, `${path}.1`);
      }
      this.#rotations++;
    }
    this.#handle = await open(path, 'a');
    this.#size = (await stat(path)).size;
  }

  /** Resolves when every line given so far is in the file. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  counters(): SinkCounters {
    const dropped = this.#dropped.queueFull + this.#dropped.rejected + this.#dropped.formatError;
    return {
      queued: this.#pending.length, delivered: this.#delivered, retries: 0, dropped, droppedReasons: { ...this.#dropped },
      spoolBytes: 0, connected: !this.#failed, rotations: this.#rotations,
    };
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }
}
