import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSinkConfigs } from '../../../agent/sinks/config.js';
import { SinkManager } from '../../../agent/sinks/sink-manager.js';
import { waitFor } from '../../helpers/wait.mjs';
import { makeCertificates } from './fixtures/certificates.js';
import { RecordingServer } from './fixtures/recording-server.js';
import { recordingLogger, sampleAnomaly, sampleFlow } from './fixtures/records.js';
import { validateOcsfEvent } from './fixtures/ocsf-1.3-classes.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(rawSinks: unknown[]): Promise<{ manager: SinkManager; lines: Array<Record<string, unknown>> }> {
  const { sinks, errors } = validateSinkConfigs(rawSinks);
  expect(errors).toEqual([]);
  const spoolDir = mkdtempSync(join(tmpdir(), 'flowscope-http-sinks-'));
  const { logger, lines } = recordingLogger();
  const manager = await SinkManager.create(sinks, { spoolDir, logger, hostname: 'node-1' });
  cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }));
  cleanups.push(() => manager.close());
  return { manager, lines };
}

async function server(): Promise<RecordingServer> {
  const s = await RecordingServer.start();
  cleanups.push(() => s.stop());
  return s;
}

const flowNumber = (n: number) => sampleFlow({ connId: `conn-${n}`, http: { ...sampleFlow().http, path: `/items/${n}` } });

describe('Splunk HEC sink', () => {
  it('posts gzip batches of HEC events with the Splunk token', async () => {
    const hec = await server();
    const { manager } = await setup([{
      type: 'splunk_hec', name: 'hec', url: hec.url, token: 'secret-token', format: 'ocsf', index: 'netsec', sourcetype: 'flowscope:ocsf',
      batch: { maxRecords: 10, flushIntervalMs: 200 },
    }]);
    for (let i = 0; i < 25; i++) manager.write('flow', flowNumber(i));
    await waitFor('25 records delivered', () => manager.counters().hec!.delivered === 25);
    expect(hec.requests.map((r) => r.body.trim().split('\n').length)).toEqual([10, 10, 5]);
    const request = hec.requests[0]!;
    expect(request.path).toBe('/services/collector/event');
    expect(request.headers.authorization).toBe('Splunk secret-token');
    expect(request.headers['content-encoding']).toBe('gzip');
    const events = hec.requests.flatMap((r) => r.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>));
    expect(events[0]).toMatchObject({ time: 1795424400.123, host: 'node-1', index: 'netsec', sourcetype: 'flowscope:ocsf', source: 'flowscope' });
    expect(events.map((e) => e.event.http_request.url.path)).toEqual(Array.from({ length: 25 }, (_, i) => `/items/${i}`));
    for (const e of events) expect(validateOcsfEvent(e.event)).toEqual([]);
    expect(manager.counters().hec).toMatchObject({ queued: 0, retries: 0, dropped: 0, connected: true });
  });
});

describe('Elasticsearch bulk sink', () => {
  it('sends NDJSON action and document pairs and sends again only the items refused with 429', async () => {
    const es = await server();
    es.script.push({
      status: 200,
      body: JSON.stringify({ errors: true, items: [
        { create: { status: 201 } }, { create: { status: 429 } }, { create: { status: 400, error: { type: 'mapper_parsing_exception' } } }, { create: { status: 201 } },
      ] }),
    });
    const { manager, lines } = await setup([{
      type: 'elasticsearch', name: 'es', url: `${es.url}/`, index: 'flowscope-flows', apiKey: 'a2V5', format: 'ecs',
      batch: { maxRecords: 4, flushIntervalMs: 100 }, retry: { initialBackoffMs: 20, maxBackoffMs: 50 },
    }]);
    for (let i = 0; i < 4; i++) manager.write('flow', flowNumber(i));
    await waitFor('bulk settled', () => manager.counters().es!.delivered === 3);
    expect(es.requests).toHaveLength(2);
    const [first, second] = es.requests;
    expect(first!.path).toBe('/_bulk');
    expect(first!.headers['content-type']).toBe('application/x-ndjson');
    expect(first!.headers.authorization).toBe('ApiKey a2V5');
    const lines1 = first!.body.split('\n');
    expect(lines1.at(-1)).toBe(''); // bulk bodies end with a newline
    expect(lines1).toHaveLength(9);
    expect(JSON.parse(lines1[0]!)).toEqual({ create: { _index: 'flowscope-flows' } });
    expect(JSON.parse(lines1[1]!)).toMatchObject({ url: { path: '/items/0' }, http: { request: { method: 'GET' }, response: { status_code: 200 } }, event: { kind: 'event' } });
    const resent = second!.body.trim().split('\n');
    expect(resent).toHaveLength(2);
    expect(JSON.parse(resent[1]!).url.path).toBe('/items/1');
    expect(manager.counters().es).toMatchObject({ delivered: 3, retries: 1, dropped: 1, droppedReasons: { rejected: 1 } });
    expect(lines.some((l) => String(l.msg).includes('refused records'))).toBe(true);
  });
});

describe('webhook sink', () => {
  it('honours Retry-After on 503 and 429 and delivers each record once, in order', async () => {
    const hook = await server();
    hook.script.push({ status: 503, headers: { 'retry-after': '1' } }, { status: 429, headers: { 'retry-after': '1' } });
    const { manager } = await setup([{
      type: 'webhook', name: 'hook', url: `${hook.url}/events`, gzip: false, bearerToken: 't0k',
      batch: { maxRecords: 100, flushIntervalMs: 50 }, retry: { initialBackoffMs: 10, maxBackoffMs: 20 },
    }]);
    for (let i = 0; i < 5; i++) manager.write('flow', flowNumber(i));
    await waitFor('delivered after two refusals', () => manager.counters().hook!.delivered === 5);
    expect(hook.requests.map((r) => r.status)).toEqual([503, 429, 200]);
    // Retry-After (1 s) wins over the configured 10-20 ms backoff.
    expect(hook.requests[1]!.at - hook.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(hook.requests[2]!.at - hook.requests[1]!.at).toBeGreaterThanOrEqual(950);
    const body = JSON.parse(hook.accepted()[0]!.body) as Array<{ flow: { connId: string } }>;
    expect(body.map((r) => r.flow.connId)).toEqual(['conn-0', 'conn-1', 'conn-2', 'conn-3', 'conn-4']);
    expect(hook.requests[0]!.headers.authorization).toBe('Bearer t0k');
    expect(manager.counters().hook).toMatchObject({ retries: 2, dropped: 0, queued: 0 });
  });

  it('drops and counts a batch refused with 400, logs once, and goes on with the next', async () => {
    const hook = await server();
    hook.script.push({ status: 400, body: '{"error":"bad"}' });
    const { manager, lines } = await setup([{ type: 'webhook', name: 'hook', url: hook.url, batch: { maxRecords: 2, flushIntervalMs: 20 } }]);
    for (let i = 0; i < 4; i++) manager.write('flow', flowNumber(i));
    await waitFor('second batch delivered', () => manager.counters().hook!.delivered === 2);
    expect(manager.counters().hook).toMatchObject({ dropped: 2, droppedReasons: { rejected: 2 }, retries: 0 });
    expect(lines.filter((l) => String(l.msg).includes('refused records'))).toHaveLength(1);
  });
});

describe('several sinks at once', () => {
  it('gives each sink only what its filter passes', async () => {
    const all = await server();
    const alerts = await server();
    const { manager } = await setup([
      { type: 'webhook', name: 'everything', url: all.url, batch: { flushIntervalMs: 20 } },
      { type: 'webhook', name: 'alerts', url: alerts.url, kinds: ['anomalies'], minSeverity: 'high', format: 'ocsf', batch: { flushIntervalMs: 20 } },
    ]);
    manager.write('flow', flowNumber(1));
    manager.write('anomaly', sampleAnomaly({ id: 'low', severity: 'LOW' }));
    manager.write('anomaly', sampleAnomaly({ id: 'critical', severity: 'CRITICAL' }));
    await waitFor('both delivered', () => manager.counters().everything!.delivered === 3 && manager.counters().alerts!.delivered === 1);
    const alertBody = JSON.parse(alerts.requests[0]!.body) as Array<Record<string, any>>;
    expect(alertBody.map((e) => [e.class_uid, e.finding_info.uid, e.severity_id])).toEqual([[2004, 'critical', 5]]);
  });
});

describe('HTTPS', () => {
  it('posts to an https receiver whose certificate the configured CA signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-https-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const certs = makeCertificates(dir);
    const bodies: string[] = [];
    const server = https.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const port = (server.address() as { port: number }).port;
    const { manager } = await setup([{ type: 'webhook', name: 'secure', url: `https://127.0.0.1:${port}/in`, gzip: false, tls: { caFile: certs.ca }, batch: { flushIntervalMs: 20 } }]);
    manager.write('flow', flowNumber(1));
    await waitFor('delivered over https', () => manager.counters().secure!.delivered === 1);
    expect((JSON.parse(bodies[0]!) as Array<{ flow: { connId: string } }>)[0]!.flow.connId).toBe('conn-1');
  });
});
