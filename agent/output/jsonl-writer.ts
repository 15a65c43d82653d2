// Writes flows as JSON lines to a file or stdout. Lines are encoded straight
// into a batch buffer and written once per capture batch (flush), not one write
// per flow; encoding each line as it comes is cheaper than joining strings and
// encoding the joined text at flush. Flows come already encoded (`writeJson`,
// the bytes of flowJsonBytes); other records (anomalies) are encoded with
// JSON.stringify (`write`). A flush hands the stream
// a view of the bytes gathered since the last one, not a copy: later lines go
// after them in the same buffer, and a full buffer is replaced, never reused,
// since the stream may still hold views of it. A slow reader
// never stalls capture: past `maxQueuedBytes` waiting in the stream, lines are
// dropped and counted instead of buffered without bound. A file that cannot be
// opened fails at start; a write that fails later (disk full, reader gone)
// is reported once and every line after it is counted as dropped.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { FlowscopeError, ErrorCodes } from '../errors.js';
import { recordJsonBytes } from './flow-json.js';

const FLUSH_BYTES = 256 << 10;

export class JsonLinesWriter {
  dropped = 0;
  written = 0;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  readonly #ownsStream: boolean;
  #batch = Buffer.allocUnsafe(FLUSH_BYTES);
  /** Bytes of the batch before this were handed to the stream. */
  #flushed = 0;
  /** Bytes of the batch written so far. */
  #used = 0;
  #failed = false;

  constructor(
    target: string,
    onError: (err: Error) => void,
    readonly maxQueuedBytes = 64 << 20,
  ) {
    if (target === '-') {
      this.#out = process.stdout;
      this.#ownsStream = false;
    } else {
      let fd: number;
      try {
        fd = openSync(target, 'a');
      } catch (err) {
        throw new FlowscopeError(ErrorCodes.OUTPUT, `cannot write flows to ${target}: ${(err as Error).message}`, 'check the path and its permissions');
      }
      this.#out = createWriteStream('', { fd });
      this.#ownsStream = true;
    }
    this.#out.on('error', (err: Error) => {
      if (this.#failed) return;
      this.#failed = true;
      onError(err);
    });
  }

  write(record: unknown): void {
    if (this.#mustDrop()) return;
    this.#append(recordJsonBytes(record));
  }

  /** A record already encoded as JSON (UTF-8, e.g. flowJsonBytes) as one line; the bytes are copied. */
  writeJson(json: Uint8Array): void {
    if (this.#mustDrop()) return;
    this.#append(json);
  }

  #append(json: Uint8Array): void {
    const need = json.length + 1;
    if (this.#used + need > this.#batch.length) this.#nextBatch(Math.max(FLUSH_BYTES, need));
    this.#batch.set(json, this.#used);
    this.#used += json.length;
    this.#batch[this.#used++] = 0x0a;
    this.written++;
  }

  #mustDrop(): boolean {
    if (this.#failed || this.#out.writableLength + this.#used - this.#flushed > this.maxQueuedBytes) {
      this.dropped++;
      return true;
    }
    return false;
  }

  /** Hands what is gathered to the stream and starts a fresh buffer. */
  #nextBatch(size: number): void {
    this.flush();
    this.#batch = Buffer.allocUnsafe(size);
    this.#flushed = 0;
    this.#used = 0;
  }

  /** Hands what was gathered since the last flush to the stream. */
  flush(): void {
    if (this.#used === this.#flushed || this.#failed) return;
    this.#out.write(this.#batch.subarray(this.#flushed, this.#used));
    this.#flushed = this.#used;
  }

  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      if (this.#failed) resolve();
      else if (this.#ownsStream) (this.#out as WriteStream).end(resolve);
      else if (this.#out.writableLength === 0) resolve();
      else this.#out.once('drain', () => resolve());
    });
  }
}
