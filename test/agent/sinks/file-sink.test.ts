import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSinkConfigs } from '../../../agent/sinks/config.js';
import { SinkManager } from '../../../agent/sinks/sink-manager.js';
import { recordingLogger, sampleFlow } from './fixtures/records.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('file sink', () => {
  it('writes JSON lines and rotates by size, keeping N files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-file-sink-'));
    dirs.push(dir);
    const path = join(dir, 'records.jsonl');
    const { sinks, errors } = validateSinkConfigs([{ type: 'file', name: 'file', path, maxBytes: 8192, keep: 2 }]);
    expect(errors).toEqual([]);
    const manager = await SinkManager.create(sinks, { spoolDir: join(dir, 'spool'), logger: recordingLogger().logger });
    for (let i = 0; i < 100; i++) {
      manager.write('flow', sampleFlow({ connId: `n-${i}` }));
      if (i % 5 === 4) await manager.flush(); // several writes, so rotation happens between them
    }
    await manager.close();
    expect(readdirSync(dir).filter((f) => f.startsWith('records.jsonl')).sort()).toEqual(['records.jsonl', 'records.jsonl.1', 'records.jsonl.2']);
    expect(existsSync(`${path}.3`)).toBe(false);
    const newestFirst = [path, `${path}.1`, `${path}.2`].map((p) => readFileSync(p, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { flow: { connId: string } }).flow.connId));
    const kept = [...newestFirst[2]!, ...newestFirst[1]!, ...newestFirst[0]!];
    expect(kept.at(-1)).toBe('n-99');
    // What is kept is the most recent run of records, contiguous and in order.
    const first = Number(kept[0]!.slice(2));
    expect(kept).toEqual(Array.from({ length: 100 - first }, (_, i) => `n-${first + i}`));
    for (const p of [`${path}.1`, `${path}.2`]) expect(readFileSync(p).length).toBeGreaterThanOrEqual(8192);
    expect(manager.counters().file).toMatchObject({ delivered: 100, dropped: 0, rotations: expect.any(Number) });
  });

  it('counts lines it cannot write instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-file-sink-'));
    dirs.push(dir);
    const { sinks } = validateSinkConfigs([{ type: 'file', name: 'nowhere', path: join(dir, 'missing-dir', 'x.jsonl') }]);
    const { logger, lines } = recordingLogger();
    const manager = await SinkManager.create(sinks, { spoolDir: join(dir, 'spool'), logger });
    manager.write('flow', sampleFlow());
    manager.write('flow', sampleFlow());
    await manager.flush();
    expect(manager.counters().nowhere).toMatchObject({ delivered: 0, dropped: 2, connected: false });
    expect(lines.filter((l) => String(l.msg).includes('file sink write failed'))).toHaveLength(1);
    await manager.close();
  });
});
