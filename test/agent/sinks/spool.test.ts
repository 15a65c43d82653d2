import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../../agent/sinks/spool.js';
import { recordingLogger } from './fixtures/records.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-spool-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Reads and acknowledges everything the spool holds, in batches. */
async function drain(spool: Spool, maxRecords = 7): Promise<string[]> {
  const out: string[] = [];
  for (let batch = await spool.read(maxRecords, 1 << 20); batch; batch = await spool.read(maxRecords, 1 << 20)) {
    out.push(...batch.records.map((r) => r.toString('utf8')));
    await spool.ack(batch);
  }
  return out;
}

const numbered = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `record-${from + i}-${'x'.repeat(100)}`);

describe('Spool', () => {
  it('gives records back in order across many segments and deletes delivered segments', async () => {
    const dir = tempDir();
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1024 });
    const records = numbered(200);
    for (const r of records) expect(spool.append(r)).toBe(true);
    await spool.flush();
    expect(spool.records).toBe(200);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBe(1); // one flush, one segment
    for (const r of numbered(200, 200)) {
      spool.append(r);
      await spool.flush(); // many small writes roll over segments
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(5);
    expect(await drain(spool)).toEqual([...records, ...numbered(200, 200)]);
    expect(spool.records).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(1);
    await spool.close();
  });

  it('drops records beyond maxBytes, counts them and logs once', async () => {
    const { logger, lines } = recordingLogger();
    const spool = await Spool.open({ dir: tempDir(), maxBytes: 10_000 }, logger);
    let accepted = 0;
    for (const r of numbered(200)) if (spool.append(r)) accepted++;
    await spool.flush();
    expect(accepted).toBeGreaterThan(50);
    expect(accepted).toBeLessThan(200);
    expect(spool.counters.dropped).toBe(200 - accepted);
    expect(spool.bytes).toBeLessThanOrEqual(10_000);
    expect(lines.filter((l) => String(l.msg).includes('spool is full'))).toHaveLength(1);
    expect(await drain(spool)).toEqual(numbered(accepted));
    await spool.close();
  });

  it('resumes after a restart at the first record that was not acknowledged', async () => {
    const dir = tempDir();
    const first = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    for (const r of numbered(50)) {
      first.append(r);
      await first.flush();
    }
    const batch = await first.read(13, 1 << 20);
    await first.ack(batch!);
    const unacknowledged = await first.read(5, 1 << 20); // read but never acknowledged: sent again
    expect(unacknowledged!.records).toHaveLength(5);
    await first.close();

    const second = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    expect(second.records).toBe(37);
    second.append('after-restart');
    await second.flush();
    expect(await drain(second)).toEqual([...numbered(37, 13), 'after-restart']);
    await second.close();
  });

  it('cuts a segment at a frame left half-written by a crash', async () => {
    const dir = tempDir();
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    for (const r of numbered(3)) spool.append(r);
    await spool.close();
    const segment = readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    appendFileSync(join(dir, segment), Buffer.from([0, 0, 1, 0, 65, 66])); // claims 256 bytes, has 2
    const reopened = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(reopened.counters.truncatedAtOpen).toBe(1);
    expect(await drain(reopened)).toEqual(numbered(3));
    await reopened.close();
  });

  it('hands out a record larger than the batch byte limit on its own', async () => {
    const spool = await Spool.open({ dir: tempDir(), maxBytes: 1 << 20 });
    spool.append('small');
    spool.append('y'.repeat(5000));
    spool.append('after');
    await spool.flush();
    const a = await spool.read(100, 1000);
    expect(a!.records.map(String)).toEqual(['small']);
    await spool.ack(a!);
    const b = await spool.read(100, 1000);
    expect(b!.records.map((r) => r.length)).toEqual([5000]);
    await spool.ack(b!);
    expect((await spool.read(100, 1000))!.records.map(String)).toEqual(['after']);
    await spool.close();
  });
});
