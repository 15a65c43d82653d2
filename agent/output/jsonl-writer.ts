// Writes flows as JSON lines to a file or stdout. Lines are gathered and
// written once per capture batch (flush), not one write per flow. A slow reader
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
  #pending = '';
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
    if (this.#failed || this.#out.writableLength + this.#pending.length > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    this.#pending += `${JSON.stringify(record)}\n`;
    this.written++;
    if (this.#pending.length >= FLUSH_BYTES) this.flush();
  }

  /** Hands what was gathered to the stream. */
  flush(): void {
    if (this.#pending === '' || this.#failed) return;
    this.#out.write(this.#pending);
    this.#pending = '';
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
