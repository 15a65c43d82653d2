// Writes flows as JSON lines to a file or stdout. Lines are encoded straight
// into a batch buffer and written once per capture batch (flush), not one write
// per flow; encoding each line as it comes is cheaper than joining strings and
// encoding the joined text at flush. A slow reader
// never stalls capture: past `maxQueuedBytes` waiting in the stream, lines are
// dropped and counted instead of buffered without bound. A file that cannot be
// opened fails at start; a write that fails later (disk full, reader gone)
// is reported once and every line after it is counted as dropped.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { FlowscopeError, ErrorCodes } from '../errors.js';

const FLUSH_BYTES = 256 << 10;

export class JsonLinesWriter {
  dropped = 0;
  written = 0;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  readonly #ownsStream: boolean;
  #batch = Buffer.allocUnsafe(FLUSH_BYTES);
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
    if (this.#failed || this.#out.writableLength + this.#used > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    const line = JSON.stringify(record);
    // UTF-8 takes at most 3 bytes per UTF-16 unit, plus the newline.
    const worst = line.length * 3 + 1;
    if (this.#used + worst > this.#batch.length) {
      this.flush();
      if (worst > this.#batch.length) this.#batch = Buffer.allocUnsafe(worst);
    }
    this.#used += this.#batch.write(line, this.#used, 'utf8');
    this.#batch[this.#used++] = 0x0a;
    this.written++;
  }

  /** Hands what was gathered to the stream. */
  flush(): void {
    if (this.#used === 0 || this.#failed) return;
    // The stream keeps the chunk until written: hand it a copy and reuse the batch buffer.
    this.#out.write(Buffer.from(this.#batch.subarray(0, this.#used)));
    this.#used = 0;
    // A record larger than the batch grew it: do not keep that size for good.
    if (this.#batch.length > FLUSH_BYTES) this.#batch = Buffer.allocUnsafe(FLUSH_BYTES);
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
