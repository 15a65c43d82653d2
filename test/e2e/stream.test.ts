// The stream end to end: the real agent captures curl → nginx on loopback and
// serves it over /v1/stream; real WebSocket clients subscribe, filter, ask for
// history, read slowly, and meet the token check off loopback.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';
import { WsSubscriber } from '../agent/stream/ws-subscriber.js';

const run = promisify(execFile);
let agent: AgentProcess;
let port: number;
let nginx: Nginx;
const sockets: WsSubscriber[] = [];

async function subscribe(query: string): Promise<WsSubscriber> {
  const s = await WsSubscriber.open(`ws://127.0.0.1:${port}/v1/stream?${query}`);
  sockets.push(s);
  await s.waitFor('subscribed', 1);
  return s;
}

async function streamStatus(): Promise<{ clients: number; queued: number; queuedBytes: number; dropped: number }> {
  const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { stream: { clients: number; queued: number; queuedBytes: number; dropped: number } };
  return status.stream;
}

beforeAll(async () => {
  port = await freePort();
  agent = await AgentProcess.start(['--listen', `127.0.0.1:${port}`]);
  nginx = await Nginx.start();
});

afterAll(async () => {
  for (const s of sockets) s.close();
  nginx?.stop();
  expect(await agent?.stop()).toBe(0);
});

describe('the /v1/stream WebSocket on the real agent', () => {
  it('streams the flows of real calls, filtered by destination and status', async () => {
    const all = await subscribe(`kinds=flows&f.to=port:${nginx.port}`);
    const errors = await subscribe(`kinds=flows&f.to=port:${nginx.port}&f.status=4xx`);
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html`, `${nginx.url}/status/404`, `${nginx.url}/status/201`]);
    const flows = (await all.waitFor('flow', 6)).map((m) => m.flow);
    expect(flows.map((f) => `${f.observedAt} ${f.http.method} ${f.http.path} ${f.http.status}`).sort()).toEqual([
      'CLIENT GET /index.html 200', 'CLIENT GET /status/201 201', 'CLIENT GET /status/404 404',
      'SERVER GET /index.html 200', 'SERVER GET /status/201 201', 'SERVER GET /status/404 404',
    ]);
    expect(flows.every((f) => f.destination.port === nginx.port && f.source.process === 'curl')).toBe(true);
    const notFound = (await errors.waitFor('flow', 2)).map((m) => m.flow);
    expect(notFound.map((f) => f.http.path)).toEqual(['/status/404', '/status/404']);
    // Same stream, same order: what the filter let through is a subsequence of the unfiltered stream.
    expect(notFound.map((f) => f.connId)).toEqual(flows.filter((f) => f.http.status === 404).map((f) => f.connId));
  });

  it('replays the last N matching flows, then follows live', async () => {
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/status/201?n=1`, `${nginx.url}/status/201?n=2`, `${nginx.url}/status/201?n=3`]);
    await agent.waitForFlows('history', nginx.port, 12);
    const s = await subscribe(`kinds=flows&last=2&f.to=port:${nginx.port}&f.path=/status/201&f.from=process:curl`);
    expect(s.of('subscribed')[0]!.history).toBe(2);
    const history = await s.waitFor('flow', 2);
    expect(history.map((m) => m.flow.http.path)).toEqual(['/status/201?n=3', '/status/201?n=3']);
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/status/201?n=4`]);
    const live = await s.waitFor('flow', 4);
    expect(live.slice(2).map((m) => m.flow.http.path)).toEqual(['/status/201?n=4', '/status/201?n=4']);
  });

  it('sends protobuf frames that decode to the same flows', async () => {
    const json = await subscribe(`kinds=flows&f.to=port:${nginx.port}&f.path=/index.html`);
    const binary = await subscribe(`kinds=flows&format=protobuf&f.to=port:${nginx.port}&f.path=/index.html`);
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html?proto=1`]);
    const a = (await json.waitFor('flow', 2)).map((m) => m.flow);
    const b = (await binary.waitFor('flow', 2)).map((m) => m.flow);
    expect(b).toEqual(a);
  });

  it('streams connection records when connections end', async () => {
    const s = await subscribe(`kinds=connections&f.to=port:${nginx.port}`);
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html?conn`]);
    const records = (await s.waitFor('connection', 2)).map((m) => m.connection);
    expect(records.map((c) => c.observedAt).sort()).toEqual(['CLIENT', 'SERVER']);
    expect(records.every((c) => c.protocol === 'CONN_HTTP1' && c.destination.port === nginx.port && Number(c.bytesFromSource) > 0)).toBe(true);
  });

  it('does not stream the calls made to its own port', async () => {
    const own = await subscribe(`kinds=flows,connections&f.to=port:${port}`);
    const other = await subscribe(`kinds=flows&f.to=port:${nginx.port}`);
    // A status request and another stream subscription: both calls to the agent itself.
    await fetch(`http://127.0.0.1:${port}/v1/status`);
    await subscribe('kinds=anomalies');
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html?after-own`]);
    await other.waitFor('flow', 2);
    expect(own.messages.filter((m) => m.type !== 'subscribed')).toEqual([]);
  });

  it('gives a stalled reader a dropped record and bounded memory while a live reader keeps up', async () => {
    for (const s of sockets.splice(0)) s.close();
    await waitFor('earlier subscribers to be gone', async () => (await streamStatus()).clients === 0);
    const stalled = await subscribe(`kinds=flows&f.to=port:${nginx.port}`);
    stalled.ws.pause();
    await run('wrk', ['-t1', '-c4', '-d3s', `${nginx.url}/index.html`]);
    await waitFor('the agent to drop flows for the stalled reader', async () => (await streamStatus()).dropped > 0, 20_000);
    const stats = await streamStatus();
    expect(stats.clients).toBe(1);
    // Default caps: 20,000 records and 16 MiB per subscriber.
    expect(stats.queued).toBeLessThanOrEqual(20_000);
    expect(stats.queuedBytes).toBeLessThanOrEqual(16 << 20);
    const probe = await subscribe(`kinds=flows&f.to=port:${nginx.port}&f.path=/status/404`);
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/status/404?after-stall`]);
    await probe.waitFor('flow', 2);
    stalled.ws.resume();
    const [dropped] = await stalled.waitFor('dropped', 1, 30_000);
    expect(dropped!.count).toBeGreaterThan(0);
    await waitFor('the stalled reader to reach the newest flow',
      () => stalled.of('flow').some((m) => m.flow.http.path === '/status/404?after-stall'), 30_000);
  });
});

describe('the stream off loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-e2e-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start off loopback without a token file, in one line', async () => {
    const offPort = await freePort();
    const bin = new URL('../../bin/flowscope.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'agent', '--listen', `0.0.0.0:${offPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/stream\.tokenFile: must be set when .*\(fix: .*FLOWSCOPE_ERR_CONFIG/);
  });

  it('answers 401 without the token (counted) and streams with it', async () => {
    const tokenFile = join(dir, 'token');
    const token = execFileSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' }).trim();
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const offPort = await freePort();
    // Listens on every address; the test only ever connects over loopback.
    const guarded = await AgentProcess.start(['--listen', `0.0.0.0:${offPort}`, '--token-file', tokenFile]);
    try {
      const base = `http://127.0.0.1:${offPort}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/v1/status`)).status).toBe(401);
      await expect(WsSubscriber.open(`ws://127.0.0.1:${offPort}/v1/stream?kinds=flows`)).rejects.toThrow(/401/);
      const auth = { authorization: `Bearer ${token}` };
      const s = await WsSubscriber.open(`ws://127.0.0.1:${offPort}/v1/stream?kinds=flows&f.to=port:${nginx.port}`, { headers: auth });
      sockets.push(s);
      await s.waitFor('subscribed', 1);
      await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html?guarded`]);
      await waitFor('the guarded flows', () => s.of('flow').filter((m) => m.flow.http.path === '/index.html?guarded').length === 2);
      const status = (await (await fetch(`${base}/v1/status`, { headers: auth })).json()) as { stream: { unauthorized: number } };
      expect(status.stream.unauthorized).toBe(2);
      const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      expect(metrics).toMatch(/flowscope_api_unauthorized_total 2/);
    } finally {
      expect(await guarded.stop()).toBe(0);
    }
  });
});
