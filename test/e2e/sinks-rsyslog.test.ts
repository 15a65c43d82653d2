// Syslog sinks against a real rsyslogd: RFC 5424 messages in RFC 6587
// octet-counting frames over TCP and over TLS (RFC 5425, gtls driver), with
// CEF and JSON payloads, must arrive byte for byte as one message each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSinkConfigs, type SyslogSinkConfig } from '../../agent/sinks/config.js';
import { recordEncoder } from '../../agent/sinks/record-encoder.js';
import { SinkManager } from '../../agent/sinks/sink-manager.js';
import { waitFor } from '../helpers/wait.mjs';
import { Rsyslog } from '../agent/sinks/fixtures/rsyslog.js';
import { recordingLogger, sampleAnomaly, sampleConnection, sampleFlow } from '../agent/sinks/fixtures/records.js';
import type { RecordKind, SinkRecord } from '../../agent/sinks/config.js';

let rsyslog: Rsyslog;
let spoolDir: string;
beforeAll(async () => {
  rsyslog = await Rsyslog.start();
  spoolDir = mkdtempSync(join(tmpdir(), 'flowscope-syslog-spool-'));
});
afterAll(async () => {
  await rsyslog?.dispose();
  rmSync(spoolDir, { recursive: true, force: true });
});

/** Records with content that breaks naive framing or escaping. */
function hostileRecords(tag: string): Array<[RecordKind, SinkRecord]> {
  return [
    ['flow', sampleFlow({ connId: `${tag}-1` })],
    ['flow', sampleFlow({ connId: `${tag}-2`, http: { ...sampleFlow().http, path: '/a|b\\c=d?q=日本語&x=ünï', host: 'h|o=st' } })],
    ['anomaly', sampleAnomaly({ id: `${tag}-3`, summary: 'multi\nline | summary = with \\ backslash', details: { note: 'line1\r\nline2' } })],
    ['connection', sampleConnection({ connId: `${tag}-4` })],
    ['flow', sampleFlow({ connId: `${tag}-5`, http: { ...sampleFlow().http, path: `/${'long-'.repeat(2000)}` } })],
  ];
}

async function runSink(raw: Record<string, unknown>, tag: string): Promise<{ expected: string[]; config: SyslogSinkConfig; manager: SinkManager }> {
  const { sinks, errors } = validateSinkConfigs([raw]);
  expect(errors).toEqual([]);
  const config = sinks[0] as SyslogSinkConfig;
  const manager = await SinkManager.create([config], { spoolDir, logger: recordingLogger().logger, hostname: 'node-1' });
  const records = hostileRecords(tag);
  const encode = recordEncoder(config, 'node-1');
  for (const [kind, record] of records) manager.write(kind, record);
  return { expected: records.map(([kind, record]) => encode(kind, record)), config, manager };
}

describe('syslog sink into rsyslog', () => {
  it('delivers CEF over TCP with octet counting, each message intact', async () => {
    const { expected, manager } = await runSink({
      type: 'syslog', name: 'tcp-cef', host: '127.0.0.1', port: rsyslog.tcpPort, transport: 'tcp', format: 'cef',
      batch: { flushIntervalMs: 50 },
    }, 'tcp');
    await waitFor('5 messages at rsyslog over TCP', () => rsyslog.lines().filter(([input]) => input === 'tcp').length >= 5);
    const got = rsyslog.lines().filter(([input]) => input === 'tcp').map(([, msg]) => msg);
    expect(got).toEqual(expected);
    expect(got[0]).toMatch(/^<134>1 2026-11-23T09:00:00\.123456Z node-1 flowscope \d+ FLOW - CEF:0\|flowscope\|flowscope\|/);
    expect(got[1]).toContain('request=http://h|o\\=st/a|b\\\\c\\=d?q\\=日本語&x\\=ünï');
    expect(got[2]).toMatch(/^<131>1 .* ANOMALY - CEF:0\|flowscope\|flowscope\|[^|]+\|anomaly:NEW_EDGE\|multi line \\\| summary = with \\\\ backslash\|8\|/);
    expect(got[2]).toContain('msg=multi\\nline | summary \\= with \\\\ backslash');
    expect(manager.counters()['tcp-cef']).toMatchObject({ delivered: 5, dropped: 0, connected: true });
    await manager.close();
  });

  it('delivers JSON over TLS (RFC 5425) verified against the test CA', async () => {
    const { expected, manager } = await runSink({
      type: 'syslog', name: 'tls-json', host: '127.0.0.1', port: rsyslog.tlsPort, transport: 'tls', format: 'json',
      tls: { caFile: rsyslog.certs.ca }, batch: { flushIntervalMs: 50 },
    }, 'tls');
    await waitFor('5 messages at rsyslog over TLS', () => rsyslog.lines().filter(([input]) => input === 'tls').length >= 5);
    const got = rsyslog.lines().filter(([input]) => input === 'tls').map(([, msg]) => msg);
    expect(got).toEqual(expected);
    const payloads = got.map((m) => JSON.parse(m.slice(m.indexOf(' - ') + 3)) as Record<string, any>);
    expect(payloads[1]!.flow.http.path).toBe('/a|b\\c=d?q=日本語&x=ünï');
    expect(payloads[2]!.anomaly.summary).toBe('multi\nline | summary = with \\ backslash');
    expect(payloads[3]!.connection.connId).toBe('tls-4');
    await manager.close();
  });

  it('refuses a TLS receiver whose certificate the configured CA did not sign, and queues meanwhile', async () => {
    const { manager } = await runSink({
      type: 'syslog', name: 'tls-untrusted', host: '127.0.0.1', port: rsyslog.tlsPort, transport: 'tls', format: 'json',
      batch: { flushIntervalMs: 20 }, retry: { initialBackoffMs: 20, maxBackoffMs: 50 },
    }, 'untrusted');
    await waitFor('a few failed attempts', () => manager.counters()['tls-untrusted']!.retries >= 2);
    expect(manager.counters()['tls-untrusted']).toMatchObject({ delivered: 0, queued: 5, connected: false });
    expect(rsyslog.lines().some(([, msg]) => msg.includes('untrusted-'))).toBe(false);
    await manager.close();
  });
});
