// Recordings: raw capture batches saved to a file, for bug reports, offline
// analysis and tests. `flowscope replay` feeds them through the same reader and
// pipeline as live capture.
//
// Layout (little-endian):
//   header  magic "FLOWSCOPE-REC\n" (14 bytes) | u16 format version | u16 record version
//           | f64 wall-minus-monotonic ns | u16 key length | redaction key
//   block*  u32 batch length | f64 wall-clock ms of the drain | batch (loader framing)
// The file holds payloads in clear (and the redaction key): treat it as secret.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { FS_RECORD_VERSION } from './record-layout.generated.js';

const MAGIC = Buffer.from('FLOWSCOPE-REC\n', 'latin1');
export const RECORDING_FORMAT_VERSION = 1;
const BLOCK_HEADER = 12;
/** A batch larger than this is corruption, not data (the agent drains 4 MiB at most). */
const MAX_BATCH = 64 << 20;

export interface RecordingHeader {
  formatVersion: number;
  recordVersion: number;
  wallMinusMonoNs: number;
  redactionKey: Buffer;
}

export class RecordingWriter {
  readonly #fd: number;
  readonly #blockHeader = Buffer.alloc(BLOCK_HEADER);
  bytes = 0;

  constructor(path: string, header: Omit<RecordingHeader, 'formatVersion' | 'recordVersion'>) {
    try {
      this.#fd = openSync(path, 'w', 0o600);
    } catch (err) {
      throw new FlowscopeError(ErrorCodes.OUTPUT, `cannot create recording ${path}: ${(err as Error).message}`, 'choose a writable path');
    }
    const fixed = Buffer.alloc(2 + 2 + 8 + 2);
    fixed.writeUInt16LE(RECORDING_FORMAT_VERSION, 0);
    fixed.writeUInt16LE(FS_RECORD_VERSION, 2);
    fixed.writeDoubleLE(header.wallMinusMonoNs, 4);
    fixed.writeUInt16LE(header.redactionKey.length, 12);
    this.#write(Buffer.concat([MAGIC, fixed, header.redactionKey]));
  }

  /** Appends one drained batch (`length` bytes of `batch`). */
  append(batch: Uint8Array, length: number, wallMs: number): void {
    this.#blockHeader.writeUInt32LE(length, 0);
    this.#blockHeader.writeDoubleLE(wallMs, 4);
    this.#write(this.#blockHeader);
    this.#write(batch.subarray(0, length));
  }

  close(): void {
    closeSync(this.#fd);
  }

  #write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    this.bytes += bytes.length;
  }
}

export interface RecordedBatch {
  batch: Buffer;
  length: number;
  wallMs: number;
}

export class RecordingReader {
  readonly header: RecordingHeader;
  /** Set when the file ends inside a block (a recording cut short): what came before is kept. */
  truncated = false;
  readonly #fd: number;
  #buffer = Buffer.alloc(1 << 20);

  constructor(readonly path: string) {
    try {
      this.#fd = openSync(path, 'r');
    } catch (err) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `cannot open recording ${path}: ${(err as Error).message}`, 'pass a file written by flowscope record');
    }
    const fixed = this.#readExactly(MAGIC.length + 14);
    if (!fixed || !fixed.subarray(0, MAGIC.length).equals(MAGIC)) {
      closeSync(this.#fd);
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `${path} is not a flowscope recording`, 'pass a file written by flowscope record');
    }
    const formatVersion = fixed.readUInt16LE(MAGIC.length);
    const recordVersion = fixed.readUInt16LE(MAGIC.length + 2);
    if (formatVersion !== RECORDING_FORMAT_VERSION || recordVersion !== FS_RECORD_VERSION) {
      closeSync(this.#fd);
      throw new FlowscopeError(
        ErrorCodes.BAD_FLAG,
        `${path} is recording format ${formatVersion} with record version ${recordVersion}; this flowscope reads format ${RECORDING_FORMAT_VERSION}, records ${FS_RECORD_VERSION}`,
        'replay it with the flowscope version that recorded it',
      );
    }
    const keyLength = fixed.readUInt16LE(MAGIC.length + 12);
    const key = this.#readExactly(keyLength);
    this.header = {
      formatVersion, recordVersion,
      wallMinusMonoNs: fixed.readDoubleLE(MAGIC.length + 4),
      redactionKey: Buffer.from(key ?? Buffer.alloc(0)),
    };
  }

  /** Batches in file order. The returned buffer is reused by the next call. */
  *batches(): Generator<RecordedBatch> {
    try {
      for (;;) {
        const head = this.#readExactly(BLOCK_HEADER);
        if (!head) return;
        const length = head.readUInt32LE(0);
        const wallMs = head.readDoubleLE(4);
        if (length > MAX_BATCH) {
          this.truncated = true;
          return;
        }
        if (length > this.#buffer.length) this.#buffer = Buffer.alloc(length);
        const got = readSync(this.#fd, this.#buffer, 0, length, null);
        if (got < length) {
          this.truncated = true;
          return;
        }
        yield { batch: this.#buffer, length, wallMs };
      }
    } finally {
      closeSync(this.#fd);
    }
  }

  #readExactly(n: number): Buffer | undefined {
    const out = Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const got = readSync(this.#fd, out, done, n - done, null);
      if (got === 0) {
        if (done > 0) this.truncated = true;
        return undefined;
      }
      done += got;
    }
    return out;
  }
}
