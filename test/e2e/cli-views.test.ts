// `flowscope map` and `flowscope anomalies` against a real agent HTTP server
// whose map and anomaly providers hold known data (the baseline and detectors
// fill them in a full agent).
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Anomaly } from '../../agent/schema/flow.js';
import { AgentServer } from '../../agent/server/http-server.js';
import { waitFor } from '../helpers/wait.mjs';
import { sampleAnomaly } from '../agent/stream/sample-records.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));
let server: AgentServer;
let bare: AgentServer;

const map = {
  nodes: [
    { id: 'shop/web', workload: 'web', namespace: 'shop', kind: 'Deployment' },
    { id: 'shop/db', workload: 'db', namespace: 'shop', kind: 'StatefulSet' },
    { id: 'ext:203.0.113.9', workload: '203.0.113.9', namespace: '', kind: 'External' },
  ],
  edges: [
    { source: 'shop/web', destination: 'shop/db', port: 5432, protocol: 'HTTP1', tls: true, requests: 1200, errors: 12, p50Ms: 2.5, p99Ms: 40, rps: 20 },
    { source: 'shop/web', destination: 'ext:203.0.113.9', port: 443, protocol: 'HTTP2', tls: false, requests: 30, errors: 0, p50Ms: 80, p99Ms: 300, rps: 0.5 },
  ],
};

const anomalies: Anomaly[] = [
  { ...sampleAnomaly('CRITICAL'), id: 'an-1', lastSeen: '2026-11-23T10:00:02Z', endpoint: 'GET /admin', summary: 'web called /admin on db for the first time' },
  { ...sampleAnomaly('LOW'), id: 'an-2', lastSeen: '2026-11-23T10:00:01Z', kind: 'PLAINTEXT', summary: 'plaintext call between web and db' },
];

async function flowscope(args: string[], target: AgentServer = server): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args, '--server', `127.0.0.1:${target.address.port}`]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  const options = { host: '127.0.0.1', port: 0, status: () => ({}), ready: () => true };
  server = await AgentServer.start({
    ...options,
    providers: {
      map: () => map,
      anomalies: (q) => anomalies.filter((a) => q.state === 'all' || a.state.toLowerCase() === q.state)
        .filter((a) => !q.severity || ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].indexOf(a.severity) >= ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].indexOf(q.severity)),
    },
  });
  bare = await AgentServer.start(options);
});

afterAll(async () => {
  await server?.close();
  await bare?.close();
});

describe('flowscope map', () => {
  it('prints one line per edge, busiest first', async () => {
    const r = await flowscope(['map']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SOURCE\s+DESTINATION\s+PORT\s+PROTOCOL\s+TLS\s+RPS\s+REQUESTS\s+ERRORS\s+P50\s+P99$/);
    expect(lines[1]).toMatch(/^shop\/web\s+shop\/db\s+5432\s+HTTP1\s+yes\s+20\.0\s+1200\s+1\.0%\s+2\.5ms\s+40ms$/);
    expect(lines[2]).toMatch(/^shop\/web\s+203\.0\.113\.9\s+443\s+HTTP2\s+NO\s+0\.5\s+30\s+0\.0%\s+80ms\s+300ms$/);
    expect(lines[3]).toBe('3 nodes, 2 edges');
  });

  it('prints json, Graphviz dot and Mermaid', async () => {
    expect(JSON.parse((await flowscope(['map', '-o', 'json'])).stdout)).toEqual(map);
    const dot = (await flowscope(['map', '-o', 'dot'])).stdout;
    expect(dot).toMatch(/^digraph flowscope \{/);
    expect(dot).toContain('"shop/web" -> "shop/db" [label="HTTP1 :5432, 20.0 rps, 1.0% err, p99 40ms", color=red];');
    expect(dot).toContain('"shop/web" -> "ext:203.0.113.9" [label="HTTP2 :443, 0.5 rps, p99 300ms, plaintext", style=dashed];');
    const mermaid = (await flowscope(['map', '-o', 'mermaid'])).stdout.trim().split('\n');
    expect(mermaid).toEqual([
      'graph LR',
      '  n0["shop/web"]',
      '  n1["shop/db"]',
      '  n2["203.0.113.9"]',
      '  n0 -->|"HTTP1 :5432, 20.0 rps, 1.0% err, p99 40ms"| n1',
      '  n0 -.->|"HTTP2 :443, 0.5 rps, p99 300ms, plaintext"| n2',
    ]);
  });

  it('says in one line when the agent has no map', async () => {
    const r = await flowscope(['map'], bare);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^flowscope: fetching the service map: not enabled: .* \(fix: .*\) \[FLOWSCOPE_ERR_OUTPUT\]$/);
  });
});

describe('flowscope anomalies', () => {
  it('lists open anomalies oldest first, filtered by severity', async () => {
    const all = await flowscope(['anomalies', '-o', 'jsonl']);
    expect(all.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Anomaly).id)).toEqual(['an-2', 'an-1']);
    const high = await flowscope(['anomalies', '--severity', 'high']);
    const lines = high.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d CRITICAL NEW_EDGE web -> bastion:22 GET \/admin web called \/admin on db for the first time \(×1, open\) an-1$/);
  });

  it('follows new anomalies from the stream', async () => {
    const child = spawn(process.execPath, [bin, 'anomalies', '-f', '-o', 'jsonl', '--severity', 'medium', '--server', `127.0.0.1:${server.address.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor('the CLI to subscribe', () => server.hub.clients === 1);
    server.publish('anomaly', { ...sampleAnomaly('LOW'), id: 'quiet' });
    server.publish('anomaly', { ...sampleAnomaly('HIGH'), id: 'loud' });
    await waitFor('the high anomaly', () => stdout.includes('"loud"'));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n').map((l) => (JSON.parse(l) as Anomaly).id)).toEqual(['loud']);
  });
});
