import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
