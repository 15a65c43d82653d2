import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordingReader, RecordingWriter } from '../../../agent/capture/recording.js';

const dir = mkdtempSync(join(tmpdir(), 'flowscope-recording-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Batch texts; copied as read, because the reader reuses its buffer. */
function texts(r: RecordingReader): [string, number][] {
  const out: [string, number][] = [];
  for (const b of r.batches()) out.push([b.batch.subarray(0, b.length).toString(), b.wallMs]);
  return out;
}

function record(path: string, batches: string[]): void {
  const w = new RecordingWriter(path, { wallMinusMonoNs: 1.5e18, redactionKey: Buffer.alloc(32, 7) });
  batches.forEach((b, i) => w.append(Buffer.from(`${b}-padding`), b.length, 1000 + i));
  w.close();
}

describe('recordings', () => {
  it('keep the header and every batch in order', () => {
    const path = join(dir, 'a.fsrec');
    record(path, ['one', 'second', 'third batch']);
    const r = new RecordingReader(path);
    expect(r.header.wallMinusMonoNs).toBe(1.5e18);
    expect(r.header.redactionKey).toEqual(Buffer.alloc(32, 7));
    expect(texts(r)).toEqual([['one', 1000], ['second', 1001], ['third batch', 1002]]);
    expect(r.truncated).toBe(false);
  });

  it('replay what precedes a cut-short block and say so', () => {
    const path = join(dir, 'b.fsrec');
    record(path, ['one', 'second']);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    const r = new RecordingReader(path);
    expect(texts(r).map(([t]) => t)).toEqual(['one']);
    expect(r.truncated).toBe(true);
  });

  it('refuse other versions with the fix', () => {
    const path = join(dir, 'c.fsrec');
    record(path, ['x']);
    const bytes = readFileSync(path);
    bytes.writeUInt16LE(99, 14);
    writeFileSync(path, bytes);
    expect(() => new RecordingReader(path)).toThrow(/recording format 99/);
  });
});
