import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSinkConfigs, type RecordKind, type SinkRecord } from '../../../agent/sinks/config.js';
import { SinkManager } from '../../../agent/sinks/sink-manager.js';
import { recordingLogger, sampleFlow } from './fixtures/records.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const broken: Array<[RecordKind, unknown]> = [
  ['flow', {}], ['flow', { http: null, source: null }], ['flow', { time: 'yesterday', durationNs: 'many', http: { method: 7 } }],
  ['connection', {}], ['connection', { protocol: 42 }],
  ['anomaly', {}], ['anomaly', { kind: null, severity: 'WHATEVER', evidence: 'not a list' }],
  ['flow', null], ['anomaly', 'text'],
];

describe('records a sink cannot read', () => {
  it.each(['cef', 'json', 'ocsf', 'ecs'])('never make write throw, are counted or sent, and leave the sink working (%s)', async (format) => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'flowscope-bad-input-'));
    dirs.push(spoolDir);
    const { sinks, errors } = validateSinkConfigs([{ type: 'syslog', name: 's', host: '127.0.0.1', port: 9, format }]);
    expect(errors).toEqual([]);
    const manager = await SinkManager.create(sinks, { spoolDir, logger: recordingLogger().logger });
    for (const [kind, record] of broken) expect(() => manager.write(kind, record as SinkRecord)).not.toThrow();
    manager.write('flow', sampleFlow());
    await manager.flush();
    const c = manager.counters().s!;
    // Every record is either queued (encoded as well as it could be) or counted as a format error.
    expect(c.queued + c.droppedReasons.formatError).toBe(broken.length + 1);
    expect(c.queued).toBeGreaterThanOrEqual(1);
    await manager.close();
  });
});
