// Writes flows as JSON lines to a file or stdout. A slow reader never stalls
// capture: past `maxQueuedBytes` waiting in the stream, lines are dropped and
// counted instead of buffered without bound.
import { createWriteStream, type WriteStream } from 'node:fs';
import { FlowscopeError, ErrorCodes } from '../errors.js';

export class JsonLinesWriter {
  dropped = 0;
  written = 0;
  readonly #out: NodeJS.WritableStream & { writableLength: number };
  readonly #ownsStream: boolean;

  constructor(
    target: string,
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

  write(record: unknown): void {
    if (this.#out.writableLength > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    this.#out.write(`${JSON.stringify(record)}\n`);
    this.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ownsStream) (this.#out as WriteStream).end(resolve);
      else if (this.#out.writableLength === 0) resolve();
      else this.#out.once('drain', () => resolve());
    });
  }
}
