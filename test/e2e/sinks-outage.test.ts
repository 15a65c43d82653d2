// The durability target: a receiver that goes away for a while loses nothing.
// Records written during the outage queue on disk and arrive in order, exactly
// once, when it returns; past the spool bound the excess is dropped, counted
// and logged; an agent restarted mid-outage resumes from its spool.
// (bench/sinks.mjs runs the same scenario with the full 30 s outage.)
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSinkConfigs, type SinkConfig } from '../../agent/sinks/config.js';
import { SinkManager } from '../../agent/sinks/sink-manager.js';
import { waitFor } from '../helpers/wait.mjs';
import { RecordingServer } from '../agent/sinks/fixtures/recording-server.js';
import { Rsyslog } from '../agent/sinks/fixtures/rsyslog.js';
import { recordingLogger, sampleFlow } from '../agent/sinks/fixtures/records.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-outage-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(raw: Record<string, unknown>): SinkConfig {
  const { sinks, errors } = validateSinkConfigs([raw]);
  expect(errors).toEqual([]);
  return sinks[0]!;
}

const flowNumber = (n: number) => sampleFlow({ connId: `seq-${n}` });

/** Writes `perTick` records every 20 ms for `ms`, like capture batches; returns the next sequence number. */
async function writeFor(manager: SinkManager, from: number, ms: number, perTick = 20): Promise<number> {
  let next = from;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (let i = 0; i < perTick; i++) manager.write('flow', flowNumber(next++));
    await new Promise((r) => setTimeout(r, 20)); // pacing the producer, not waiting for a result
  }
  return next;
}

function webhookSequence(server: RecordingServer): string[] {
  return server.accepted().flatMap((r) => (JSON.parse(r.body) as Array<{ flow: { connId: string } }>).map((x) => x.flow.connId));
}

const expectedSequence = (n: number): string[] => Array.from({ length: n }, (_, i) => `seq-${i}`);

describe('a webhook receiver outage', () => {
  it('delivers every record written during a 5 s outage, in order and once', async () => {
    let receiver = await RecordingServer.start();
    const port = receiver.port;
    const { logger, lines } = recordingLogger();
    const manager = await SinkManager.create([config({
      type: 'webhook', name: 'hook', url: receiver.url, batch: { maxRecords: 200, flushIntervalMs: 50 },
      retry: { initialBackoffMs: 100, maxBackoffMs: 1000 },
    })], { spoolDir: tempDir(), logger });
    cleanups.push(() => manager.close());

    let next = await writeFor(manager, 0, 300);
    await waitFor('first records delivered', () => manager.counters().hook!.delivered === next);
    const beforeOutage = webhookSequence(receiver);
    await receiver.stop();

    const outageStart = Date.now();
    next = await writeFor(manager, next, 5000);
    const during = manager.counters().hook!;
    expect(during.connected).toBe(false);
    expect(during.queued).toBeGreaterThan(1000);
    expect(during.spoolBytes).toBeGreaterThan(0);
    expect(Date.now() - outageStart).toBeGreaterThanOrEqual(5000);

    receiver = await RecordingServer.start(port);
    cleanups.push(() => receiver.stop());
    await waitFor('every record delivered after the outage', () => manager.counters().hook!.delivered === next, 30_000);
    expect([...beforeOutage, ...webhookSequence(receiver)]).toEqual(expectedSequence(next));
    const counters = manager.counters().hook!;
    expect(counters).toMatchObject({ queued: 0, dropped: 0, connected: true });
    expect(counters.retries).toBeGreaterThan(0);
    expect(lines.some((l) => String(l.msg).includes('sink unreachable'))).toBe(true);
    expect(lines.some((l) => String(l.msg).includes('reachable again'))).toBe(true);
  });

  it('drops beyond the spool bound, counts and logs it, and delivers the rest in order', async () => {
    const receiver = await RecordingServer.start();
    const port = receiver.port;
    await receiver.stop();
    const { logger, lines } = recordingLogger();
    const manager = await SinkManager.create([config({
      type: 'webhook', name: 'small', url: `http://127.0.0.1:${port}`, spool: { maxBytes: 65536 },
      batch: { maxRecords: 100, flushIntervalMs: 20 }, retry: { initialBackoffMs: 50, maxBackoffMs: 200 },
    })], { spoolDir: tempDir(), logger });
    cleanups.push(() => manager.close());
    const total = 1000; // about 1 KB each: far more than 64 KiB
    for (let i = 0; i < total; i++) manager.write('flow', flowNumber(i));
    await manager.flush();
    const { dropped, queued, spoolBytes } = manager.counters().small!;
    expect(dropped).toBeGreaterThan(0);
    expect(queued + dropped).toBe(total);
    expect(spoolBytes).toBeLessThanOrEqual(65536);
    expect(lines.filter((l) => String(l.msg).includes('spool is full'))).toHaveLength(1);

    const back = await RecordingServer.start(port);
    cleanups.push(() => back.stop());
    await waitFor('the queued records delivered', () => manager.counters().small!.delivered === queued, 20_000);
    expect(webhookSequence(back)).toEqual(expectedSequence(queued)); // the oldest were kept, in order
  });

  it('resumes from the spool when the agent restarts during the outage', async () => {
    const receiver = await RecordingServer.start();
    const port = receiver.port;
    await receiver.stop();
    const spoolDir = tempDir();
    const sink = config({
      type: 'webhook', name: 'resume', url: `http://127.0.0.1:${port}`, batch: { maxRecords: 50, flushIntervalMs: 20 },
      retry: { initialBackoffMs: 50, maxBackoffMs: 200 },
    });
    const first = await SinkManager.create([sink], { spoolDir, logger: recordingLogger().logger });
    for (let i = 0; i < 300; i++) first.write('flow', flowNumber(i));
    await first.flush();
    await first.close();

    const second = await SinkManager.create([sink], { spoolDir, logger: recordingLogger().logger });
    cleanups.push(() => second.close());
    expect(second.counters().resume!.queued).toBe(300);
    for (let i = 300; i < 400; i++) second.write('flow', flowNumber(i));
    const back = await RecordingServer.start(port);
    cleanups.push(() => back.stop());
    await waitFor('all 400 delivered', () => second.counters().resume!.delivered === 400, 20_000);
    expect(webhookSequence(back)).toEqual(expectedSequence(400));
  });
});

describe('an rsyslog outage', () => {
  it('delivers every syslog message written while rsyslog was stopped, in order', async () => {
    const rsyslog = await Rsyslog.start();
    cleanups.push(() => rsyslog.dispose());
    const manager = await SinkManager.create([config({
      type: 'syslog', name: 'syslog', host: '127.0.0.1', port: rsyslog.tcpPort, format: 'json',
      batch: { flushIntervalMs: 20 }, retry: { initialBackoffMs: 100, maxBackoffMs: 1000 },
    })], { spoolDir: tempDir(), logger: recordingLogger().logger });
    cleanups.push(() => manager.close());

    let next = await writeFor(manager, 0, 200, 10);
    await waitFor('first messages at rsyslog', () => rsyslog.lines().length === next);
    await rsyslog.stop();
    // rsyslog closed its end on the way out; the sink notices before writing again.
    await waitFor('sink sees the receiver gone', () => !manager.counters().syslog!.connected);
    next = await writeFor(manager, next, 5000, 10);
    expect(manager.counters().syslog!.queued).toBeGreaterThan(0);
    await rsyslog.restart();
    await waitFor('every message at rsyslog', () => rsyslog.lines().length >= next, 30_000);
    const ids = rsyslog.lines().map(([, msg]) => (JSON.parse(msg.slice(msg.indexOf(' - ') + 3)) as { flow: { connId: string } }).flow.connId);
    expect(ids).toEqual(expectedSequence(next));
  });
});
