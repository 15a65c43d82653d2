import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonLinesWriter } from '../../../agent/output/jsonl-writer.js';

describe('JsonLinesWriter', () => {
  const dirs: string[] = [];
  const scratchFile = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-jsonl-'));
    dirs.push(dir);
    return join(dir, 'out.jsonl');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes every record as one line, in order, across batch boundaries and with non-ASCII text', async () => {
    const file = scratchFile();
    const writer = new JsonLinesWriter(file, (err) => expect.fail(err.message));
    const records = Array.from({ length: 5000 }, (_, i) => ({ i, path: `/ünïcødé/${'x'.repeat(i % 97)}/😀` }));
    // One record bigger than the batch buffer (256 KiB) in the middle.
    records.splice(2500, 0, { i: -1, path: 'é'.repeat(300_000) });
    for (const r of records) writer.write(r);
    await writer.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(records);
    expect(writer.written).toBe(records.length);
    expect(writer.dropped).toBe(0);
  });

  it('reuses a batch buffer once the stream has written it', async () => {
    const file = scratchFile();
    const writer = new JsonLinesWriter(file, (err) => expect.fail(err.message));
    const records: { i: number; pad: string }[] = [];
    let expectedBytes = 0;
    // ~40 batch buffers' worth in rounds of ~1/3 buffer, each written out before
    // the next: a full buffer is free again by the time its successor fills.
    // (The test above fills buffers faster than the stream writes them.)
    for (let round = 0; round < 120; round++) {
      for (let i = 0; i < 100; i++) {
        const record = { i: records.length, pad: String(round % 10).repeat(800 + (i % 50)) };
        records.push(record);
        expectedBytes += Buffer.byteLength(JSON.stringify(record)) + 1;
        writer.write(record);
      }
      writer.flush();
      const deadline = Date.now() + 10_000;
      while (statSync(file).size < expectedBytes) {
        if (Date.now() > deadline) expect.fail(`file has ${statSync(file).size} of ${expectedBytes} bytes`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    await writer.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(records);
    expect(writer.buffersAllocated).toBe(2);
  });

  it('counts records as dropped past the queue cap instead of buffering them', async () => {
    const file = scratchFile();
    const writer = new JsonLinesWriter(file, (err) => expect.fail(err.message), 1000);
    for (let i = 0; i < 100; i++) writer.write({ i, pad: 'y'.repeat(50) });
    await writer.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(writer.dropped).toBeGreaterThan(0);
    expect(lines.length).toBe(writer.written);
    expect(writer.written + writer.dropped).toBe(100);
  });
});
