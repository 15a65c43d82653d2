// Writes flows as JSON lines to a file or stdout. Lines are encoded straight
// into a batch buffer and written once per capture batch (flush), not one write
// per flow; encoding each line as it comes is cheaper than joining strings and
// encoding the joined text at flush. Flows come already encoded (`writeJson`,
// the bytes of flowJsonBytes); other records (anomalies) are encoded with
// JSON.stringify (`write`). A flush hands the stream
// a view of the bytes gathered since the last one, not a copy: later lines go
// after them in the same buffer. A full buffer is replaced and reused only once
// the stream has written every view of it (at 20,000 flows/s a fresh buffer
// for each would be 10 MB/s of garbage outside the heap). A slow reader
// never stalls capture: past `maxQueuedBytes` waiting in the stream, lines are
// dropped and counted instead of buffered without bound. A file that cannot be
// opened fails at start; a write that fails later (disk full, reader gone)
// is reported once and every line after it is counted as dropped.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { FlowscopeError, ErrorCodes } from '../errors.js';
import { recordJsonBytes } from './flow-json.js';

const FLUSH_BYTES = 256 << 10;
/**
 * Written buffers kept for reuse. A file stream writes in the thread pool and
 * can lag a buffer or two behind on a busy host; one spare alone was then
 * seldom free when the next batch began.
 */
const MAX_SPARES = 4;

interface Batch {
  buf: Buffer;
  /** Views of `buf` handed to the stream and not yet written. */
  unwritten: number;
}

export class JsonLinesWriter {
  dropped = 0;
  written = 0;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  readonly #ownsStream: boolean;
  #batch: Batch = { buf: Buffer.allocUnsafe(FLUSH_BYTES), unwritten: 0 };
  /** Full-size buffers the stream is done with, for the next batches. */
  readonly #spares: Buffer[] = [];
  /** Batch buffers allocated so far, the first included. */
  buffersAllocated = 1;
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
    if (this.#used + need > this.#batch.buf.length) this.#nextBatch(Math.max(FLUSH_BYTES, need));
    const buf = this.#batch.buf;
    buf.set(json, this.#used);
    this.#used += json.length;
    buf[this.#used++] = 0x0a;
    this.written++;
  }

  #mustDrop(): boolean {
    if (this.#failed || this.#out.writableLength + this.#used - this.#flushed > this.maxQueuedBytes) {
      this.dropped++;
      return true;
    }
    return false;
  }

  /** Hands what is gathered to the stream and goes on in the spare buffer or a new one. */
  #nextBatch(size: number): void {
    this.flush();
    const full = this.#batch;
    let buf = size === FLUSH_BYTES ? this.#spares.pop() : undefined;
    if (!buf) {
      buf = Buffer.allocUnsafe(size);
      this.buffersAllocated++;
    }
    this.#batch = { buf, unwritten: 0 };
    this.#flushed = 0;
    this.#used = 0;
    if (full.unwritten === 0) this.#keepSpare(full.buf);
  }

  #keepSpare(buf: Buffer): void {
    if (buf.length === FLUSH_BYTES && this.#spares.length < MAX_SPARES) this.#spares.push(buf);
  }

  /** Hands what was gathered since the last flush to the stream. */
  flush(): void {
    if (this.#used === this.#flushed || this.#failed) return;
    const batch = this.#batch;
    batch.unwritten++;
    this.#out.write(batch.buf.subarray(this.#flushed, this.#used), () => {
      // Written (or failed): once no view of a replaced buffer is left, it can be reused.
      if (--batch.unwritten === 0 && batch !== this.#batch) this.#keepSpare(batch.buf);
    });
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
