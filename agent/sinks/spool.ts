// The disk queue in front of one sink. Records are appended to segment files
// (`<seq>.seg`, frames of u32 big-endian length + payload) in a directory of
// their own, read back in order, and a segment is deleted once every record in
// it was delivered. A `cursor` file remembers the first undelivered record, so
// a restarted agent resumes where delivery stopped (at least once: a batch sent
// but not yet acknowledged when the agent died is sent again).
//
// Appending never waits for the disk: frames gather in memory and one write
// per turn of the event loop hands them to the file. Past `maxBytes` on disk
// (plus what waits in memory) new records are dropped and counted.
import { mkdir, open, readdir, readFile, rename, rm, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** A segment is closed and a new one started past this size. */
  segmentBytes?: number;
  /** Bytes that may wait in memory for the disk. */
  maxPendingBytes?: number;
  /** Largest single record; larger ones are dropped and counted. */
  maxRecordBytes?: number;
}

export interface SpoolCounters {
  appended: number;
  dropped: number;
  droppedBytes: number;
  /** Frames found damaged at open (a crash mid-write); the segment is cut there. */
  truncatedAtOpen: number;
  writeErrors: number;
}

export interface SpoolBatch {
  records: Buffer[];
  bytes: number;
  /** Where the first record after this batch starts. */
  readonly seq: number;
  readonly endOffset: number;
}

interface Segment {
  seq: number;
  path: string;
  /** Bytes on disk (durable as far as the page cache goes). */
  size: number;
  /** Records not yet delivered in this segment. */
  records: number;
}

const FRAME_HEADER = 4;
const SEGMENT_PATTERN = /^(\d{16})\.seg$/;
const CURSOR_FILE = 'cursor';

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

export class Spool {
  readonly counters: SpoolCounters = { appended: 0, dropped: 0, droppedBytes: 0, truncatedAtOpen: 0, writeErrors: 0 };
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #maxPendingBytes: number;
  readonly #maxRecordBytes: number;
  readonly #log: Logger | undefined;
  readonly #segments: Segment[];
  #cursorOffset: number;
  #diskBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #pendingRecords = 0;
  #active: { segment: Segment; handle: FileHandle } | undefined;
  #flushing: Promise<void> | undefined;
  #flushScheduled = false;
  #waiters: Array<() => void> = [];
  #closed = false;
  #loggedDrop = false;

  private constructor(opts: SpoolOptions, segments: Segment[], cursorOffset: number, log: Logger | undefined) {
    this.#dir = opts.dir;
    this.#maxBytes = opts.maxBytes;
    this.#segmentBytes = opts.segmentBytes ?? Math.min(16 << 20, Math.max(64 << 10, Math.floor(opts.maxBytes / 8)));
    this.#maxPendingBytes = opts.maxPendingBytes ?? Math.min(16 << 20, opts.maxBytes);
    this.#maxRecordBytes = opts.maxRecordBytes ?? Math.min(4 << 20, this.#segmentBytes);
    this.#segments = segments;
    this.#cursorOffset = cursorOffset;
    this.#diskBytes = segments.reduce((n, s) => n + s.size, 0);
    this.#log = log;
  }

  /** Opens (or creates) the spool directory and picks up what a previous run left. */
  static async open(opts: SpoolOptions, log?: Logger): Promise<Spool> {
    await mkdir(opts.dir, { recursive: true });
    const [cursorSeq, cursorOffset] = await readCursor(opts.dir);
    const seqs = (await readdir(opts.dir))
      .map((name) => SEGMENT_PATTERN.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    let truncated = 0;
    let offset = 0;
    for (const seq of seqs) {
      const path = join(opts.dir, segmentName(seq));
      if (seq < cursorSeq) {
        await rm(path, { force: true }); // delivered before the last stop
        continue;
      }
      const bytes = await readFile(path);
      const start = seq === cursorSeq && segments.length === 0 ? Math.min(cursorOffset, bytes.length) : 0;
      const { validEnd, records, damaged } = scanFrames(bytes, start);
      if (damaged) {
        truncated++;
        await truncate(path, validEnd);
      }
      if (records === 0) {
        await rm(path, { force: true });
        continue;
      }
      if (segments.length === 0) offset = start;
      segments.push({ seq, path, size: validEnd, records });
    }
    const spool = new Spool(opts, segments, offset, log);
    spool.counters.truncatedAtOpen = truncated;
    if (truncated > 0) log?.warn({ dir: opts.dir, segments: truncated }, 'spool segments were cut at a damaged frame (the agent stopped mid-write)');
    return spool;
  }

  /** Records waiting (on disk and in memory). */
  get records(): number {
    return this.#segments.reduce((n, s) => n + s.records, 0) + this.#pendingRecords;
  }

  /** Bytes used on disk plus bytes waiting to be written. */
  get bytes(): number {
    return this.#diskBytes + this.#pendingBytes;
  }

  /** Queues one record; false when it was dropped (bound reached or record too large). */
  append(payload: string | Buffer): boolean {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const frameBytes = FRAME_HEADER + body.length;
    if (
      this.#closed || body.length > this.#maxRecordBytes
      || this.#diskBytes + this.#pendingBytes + frameBytes > this.#maxBytes
      || this.#pendingBytes + frameBytes > this.#maxPendingBytes
    ) {
      this.#drop(1, frameBytes);
      return false;
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    header.writeUInt32BE(body.length, 0);
    this.#pending.push(header, body);
    this.#pendingBytes += frameBytes;
    this.#pendingRecords++;
    this.counters.appended++;
    if (!this.#flushScheduled && !this.#flushing) {
      this.#flushScheduled = true;
      setImmediate(() => void this.flush());
    }
    return true;
  }

  #drop(records: number, bytes: number): void {
    this.counters.dropped += records;
    this.counters.droppedBytes += bytes;
    if (!this.#loggedDrop) {
      this.#loggedDrop = true;
      this.#log?.warn({ dir: this.#dir, maxBytes: this.#maxBytes }, 'sink spool is full: records are dropped and counted until it drains');
    }
  }

  /** Writes what waits in memory; resolves when it is in the segment file. */
  flush(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#flushing) return this.#flushing.then(() => (this.#pendingBytes > 0 ? this.flush() : undefined));
    if (this.#pendingBytes === 0) return Promise.resolve();
    this.#flushing = this.#writePending().finally(() => {
      this.#flushing = undefined;
      if (this.#pendingBytes > 0 && !this.#closed) void this.flush();
    });
    return this.#flushing;
  }

  async #writePending(): Promise<void> {
    const chunk = Buffer.concat(this.#pending);
    const records = this.#pendingRecords;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingRecords = 0;
    try {
      if (!this.#active || this.#active.segment.size >= this.#segmentBytes) await this.#startSegment();
      const active = this.#active!;
      await active.handle.write(chunk, 0, chunk.length, null);
      active.segment.size += chunk.length;
      active.segment.records += records;
      this.#diskBytes += chunk.length;
      if (this.#loggedDrop && this.bytes < this.#maxBytes / 2) this.#loggedDrop = false;
    } catch (err) {
      this.counters.writeErrors++;
      this.#drop(records, chunk.length);
      this.#log?.error({ dir: this.#dir, err: (err as Error).message }, 'sink spool write failed: records dropped');
      await this.#closeActive();
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #startSegment(): Promise<void> {
    await this.#closeActive();
    const last = this.#segments.at(-1);
    const seq = last ? last.seq + 1 : await this.#nextSeqFromCursor();
    const segment: Segment = { seq, path: join(this.#dir, segmentName(seq)), size: 0, records: 0 };
    const handle = await open(segment.path, 'a');
    this.#segments.push(segment);
    this.#active = { segment, handle };
  }

  async #nextSeqFromCursor(): Promise<number> {
    const [seq] = await readCursor(this.#dir);
    return seq + 1;
  }

  async #closeActive(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    await active?.handle.close().catch(() => undefined);
  }

  /** Resolves when records are readable (immediately if some are), or after `timeoutMs`. */
  waitForData(timeoutMs: number): Promise<void> {
    if (this.#readable() || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve();
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
    });
  }

  /** Wakes every waitForData caller now (the reader is stopping). */
  interrupt(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Records on disk that were not delivered. */
  get readableRecords(): number {
    return this.#segments.reduce((n, s) => n + s.records, 0);
  }

  #readable(): boolean {
    return this.readableRecords > 0;
  }

  /**
   * The oldest undelivered records on disk, in order, within one segment, at
   * most `maxRecords` and about `maxBytes` (one record always fits). Nothing is
   * removed until `ack`.
   */
  async read(maxRecords: number, maxBytes: number): Promise<SpoolBatch | undefined> {
    await this.#dropFinishedHead();
    const head = this.#segments[0];
    if (!head || head.records === 0) return undefined;
    const available = head.size - this.#cursorOffset;
    let want = Math.min(available, maxBytes + FRAME_HEADER);
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const handle = await open(head.path, 'r');
      let got: number;
      try {
        ({ bytesRead: got } = await handle.read(buf, 0, want, this.#cursorOffset));
      } finally {
        await handle.close();
      }
      const records: Buffer[] = [];
      let at = 0;
      let bytes = 0;
      while (records.length < maxRecords && at + FRAME_HEADER <= got) {
        const len = buf.readUInt32BE(at);
        if (at + FRAME_HEADER + len > got) break;
        if (records.length > 0 && bytes + len > maxBytes) break;
        records.push(buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len));
        bytes += len;
        at += FRAME_HEADER + len;
      }
      if (records.length > 0) return { records, bytes, seq: head.seq, endOffset: this.#cursorOffset + at };
      if (got < FRAME_HEADER) return undefined;
      // One record larger than maxBytes: read exactly that record.
      const len = buf.readUInt32BE(0);
      if (want >= FRAME_HEADER + len || FRAME_HEADER + len > available) return undefined;
      want = FRAME_HEADER + len;
    }
  }

  /** Marks a batch delivered: moves the cursor past it and deletes finished segments. */
  async ack(batch: SpoolBatch): Promise<void> {
    const head = this.#segments[0];
    if (!head || head.seq !== batch.seq || batch.endOffset <= this.#cursorOffset) return;
    head.records -= batch.records.length;
    this.#cursorOffset = batch.endOffset;
    await this.#dropFinishedHead();
    await this.#writeCursor();
  }

  /** Counts a batch the receiver refused for good (it is not retried). */
  async discard(batch: SpoolBatch): Promise<void> {
    await this.ack(batch);
  }

  async #dropFinishedHead(): Promise<void> {
    for (;;) {
      const head = this.#segments[0];
      if (!head || head.records > 0 || this.#active?.segment === head) return;
      this.#segments.shift();
      this.#diskBytes -= head.size;
      this.#cursorOffset = 0;
      await rm(head.path, { force: true });
      await this.#writeCursor();
    }
  }

  async #writeCursor(): Promise<void> {
    const head = this.#segments[0];
    const seq = head ? head.seq : (this.#active?.segment.seq ?? 0);
    const tmp = join(this.#dir, `${CURSOR_FILE}.tmp`);
    await writeFile(tmp, `${seq} ${head ? this.#cursorOffset : 0}\n`);
    await rename(tmp, join(this.#dir, CURSOR_FILE));
  }

  /** Writes what is pending and closes the files; the spool can be opened again later. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#closeActive();
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

async function readCursor(dir: string): Promise<[number, number]> {
  try {
    const [seq, offset] = (await readFile(join(dir, CURSOR_FILE), 'utf8')).trim().split(' ').map(Number);
    if (Number.isSafeInteger(seq) && Number.isSafeInteger(offset) && seq! >= 0 && offset! >= 0) return [seq!, offset!];
  } catch {
    // no cursor yet: start at the oldest segment
  }
  return [0, 0];
}

/** Counts whole frames from `start`; a frame running past the end marks damage. */
function scanFrames(bytes: Buffer, start: number): { validEnd: number; records: number; damaged: boolean } {
  let at = start;
  let records = 0;
  while (at + FRAME_HEADER <= bytes.length) {
    const len = bytes.readUInt32BE(at);
    if (at + FRAME_HEADER + len > bytes.length) break;
    at += FRAME_HEADER + len;
    records++;
  }
  return { validEnd: at, records, damaged: at !== bytes.length };
}
