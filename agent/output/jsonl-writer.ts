// Writes flows as JSON lines to a file or stdout. Lines are gathered and
// written once per capture batch (flush), not one write per flow. A slow reader
// never stalls capture: past `maxQueuedBytes` waiting in the stream, lines are
// dropped and counted instead of buffered without bound.
import { createWriteStream, type WriteStream } from 'node:fs';
import { FlowscopeError, ErrorCodes } from '../errors.js';

const FLUSH_BYTES = 256 << 10;

export class JsonLinesWriter<T> {
  dropped = 0;
  written = 0;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  readonly #ownsStream: boolean;
  #pending = '';

  constructor(
    target: string,
    readonly toJson: (record: T) => string,
    readonly maxQueuedBytes = 64 << 20,
  ) {
    if (target === '-') {
      this.#out = process.stdout;
      this.#ownsStream = false;
    } else {
      const stream: WriteStream = createWriteStream(target, { flags: 'a' });
      stream.on('error', (err) => {
        throw new FlowscopeError(ErrorCodes.OUTPUT, `cannot write flows to ${target}: ${err.message}`, 'check the path and its permissions');
      });
      this.#out = stream;
      this.#ownsStream = true;
    }
  }

  write(record: T): void {
    if (this.#out.writableLength + this.#pending.length > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    this.#pending += `${this.toJson(record)}\n`;
    this.written++;
    if (this.#pending.length >= FLUSH_BYTES) this.flush();
  }

  /** Hands what was gathered to the stream. */
  flush(): void {
    if (this.#pending === '') return;
    this.#out.write(this.#pending);
    this.#pending = '';
  }

  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      if (this.#ownsStream) (this.#out as WriteStream).end(resolve);
      else if (this.#out.writableLength === 0) resolve();
      else this.#out.once('drain', () => resolve());
    });
  }
}
