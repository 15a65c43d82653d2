// The agent's HTTP port as clients meet it: REST API with and without its
// providers, bearer tokens off loopback (reloadable), TLS, per-client stream caps.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentServer, type AgentServerOptions } from '../../../agent/server/http-server.js';
import { waitFor } from '../../helpers/wait.mjs';
import { sampleAnomaly } from '../stream/sample-records.js';
import { WsSubscriber } from '../stream/ws-subscriber.js';

const dir = mkdtempSync(join(tmpdir(), 'flowscope-server-test-'));
const servers: AgentServer[] = [];
const sockets: WsSubscriber[] = [];
const TOKEN = 'a'.repeat(32);

async function start(options: Partial<AgentServerOptions> = {}): Promise<AgentServer> {
  const s = await AgentServer.start({ host: '127.0.0.1', port: 0, status: () => ({ engine: 'test', flows: { HTTP1: 3 } }), ready: () => true, ...options });
  servers.push(s);
  return s;
}

function url(s: AgentServer, path: string): string {
  return `http://127.0.0.1:${s.address.port}${path}`;
}

afterEach(async () => {
  for (const c of sockets.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('REST API', () => {
  it('serves health, readiness, status with stream counters, and metrics', async () => {
    const registry = new client.Registry();
    let ready = false;
    const s = await start({ registry, ready: () => ready });
    s.registerMetrics(registry);
    expect((await fetch(url(s, '/healthz'))).status).toBe(200);
    expect((await fetch(url(s, '/readyz'))).status).toBe(503);
    ready = true;
    expect((await fetch(url(s, '/readyz'))).status).toBe(200);
    const status = await (await fetch(url(s, '/v1/status'))).json() as { engine: string; stream: { clients: number } };
    expect(status.engine).toBe('test');
    expect(status.stream.clients).toBe(0);
    const metrics = await (await fetch(url(s, '/metrics'))).text();
    expect(metrics).toMatch(/flowscope_stream_clients 0/);
    expect(metrics).toMatch(/flowscope_api_unauthorized_total 0/);
    expect((await fetch(url(s, '/nope'))).status).toBe(404);
    expect((await fetch(url(s, '/v1/status'), { method: 'DELETE' })).status).toBe(405);
  });

  it('answers 503 "not enabled" for API parts whose provider is missing', async () => {
    const s = await start();
    for (const [path, method] of [['/v1/map', 'GET'], ['/v1/anomalies', 'GET'], ['/v1/anomalies/x/accept', 'POST'], ['/v1/baseline/relearn?workload=web', 'POST']] as const) {
      const res = await fetch(url(s, path), { method });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/^not enabled/);
    }
  });

  it('passes queries to the providers and validates them', async () => {
    const s = await start();
    const queries: unknown[] = [];
    const anomaly = sampleAnomaly();
    s.provide({
      map: () => ({ nodes: [{ id: 'web' }], edges: [] }),
      anomalies: (q) => (queries.push(q), [anomaly]),
      accept: (id) => id === anomaly.id,
      relearn: (workload) => (workload === 'web' ? 7 : 0),
    });
    expect(await (await fetch(url(s, '/v1/map'))).json()).toEqual({ nodes: [{ id: 'web' }], edges: [] });
    expect(await (await fetch(url(s, '/v1/anomalies?state=all&severity=high'))).json()).toEqual({ anomalies: [anomaly] });
    expect(queries).toEqual([{ state: 'all', severity: 'HIGH' }]);
    expect((await fetch(url(s, '/v1/anomalies?severity=urgent'))).status).toBe(400);
    expect((await fetch(url(s, `/v1/anomalies/${anomaly.id}/accept`), { method: 'POST' })).status).toBe(200);
    expect((await fetch(url(s, '/v1/anomalies/unknown/accept'), { method: 'POST' })).status).toBe(404);
    expect(await (await fetch(url(s, '/v1/baseline/relearn?workload=web'), { method: 'POST' })).json()).toEqual({ workload: 'web', reset: 7 });
    expect((await fetch(url(s, '/v1/baseline/relearn'), { method: 'POST' })).status).toBe(400);
  });

  it('refuses cross-origin POSTs and WebSocket upgrades from other sites', async () => {
    const s = await start();
    s.provide({ accept: () => true });
    const res = await fetch(url(s, '/v1/anomalies/a/accept'), { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
    await expect(WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
    const same = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`, { origin: `http://127.0.0.1:${s.address.port}` });
    sockets.push(same);
  });

  it('hands unknown GET paths to the static handler', async () => {
    const s = await start({
      staticHandler: (req, res) => {
        if (req.url !== '/') return false;
        res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>map</h1>');
        return true;
      },
    });
    expect(await (await fetch(url(s, '/'))).text()).toBe('<h1>map</h1>');
    expect((await fetch(url(s, '/assets/missing.js'))).status).toBe(404);
  });
});

describe('access control', () => {
  it('will not listen off loopback without a token file', async () => {
    await expect(start({ host: '0.0.0.0' })).rejects.toThrow(/off loopback and needs a bearer token/);
    const short = join(dir, 'short-token');
    writeFileSync(short, 'abc\n');
    await expect(start({ host: '0.0.0.0', tokenFile: short })).rejects.toThrow(/shorter than 16/);
  });

  it('off loopback, needs the bearer token everywhere but the health checks, and counts refusals', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    // Bound to every address, reached only over loopback.
    const s = await start({ host: '0.0.0.0', tokenFile });
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(url(s, '/healthz'))).status).toBe(200);
    expect((await fetch(url(s, '/readyz'))).status).toBe(200);
    const refused = await fetch(url(s, '/v1/status'));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect((await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${'b'.repeat(32)}` } })).status).toBe(401);
    expect((await fetch(url(s, '/v1/status'), { headers: auth })).status).toBe(200);
    await expect(WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`)).rejects.toThrow(/401/);
    const ws = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`, { headers: auth });
    sockets.push(ws);
    await ws.waitFor('subscribed', 1);
    expect(s.counters.unauthorized).toBe(3);
  });

  it('re-reads the token file when it changes, and on reloadToken()', async () => {
    const tokenFile = join(dir, 'rotating-token');
    writeFileSync(tokenFile, TOKEN);
    const s = await start({ tokenFile });
    const second = 'c'.repeat(40);
    writeFileSync(tokenFile, second);
    await waitFor('the new token to be accepted', async () =>
      (await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${second}` } })).status === 200, 10_000, 200);
    expect((await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
    const third = 'd'.repeat(40);
    writeFileSync(tokenFile, third);
    expect(s.reloadToken()).toBe(true);
    expect((await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${third}` } })).status).toBe(200);
    writeFileSync(tokenFile, '');
    expect(s.reloadToken()).toBe(false);
    expect((await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${third}` } })).status).toBe(200);
  });

  it('switches token files on a config reload, never dropping the token off loopback', async () => {
    const first = join(dir, 'first-token');
    const second = join(dir, 'second-token');
    writeFileSync(first, TOKEN);
    writeFileSync(second, 'e'.repeat(40));
    const s = await start({ host: '0.0.0.0', tokenFile: first });
    const status = async (token: string): Promise<number> => (await fetch(url(s, '/v1/status'), { headers: { authorization: `Bearer ${token}` } })).status;
    s.useTokenFile(second);
    expect(await status('e'.repeat(40))).toBe(200);
    expect(await status(TOKEN)).toBe(401);
    expect(() => s.useTokenFile(join(dir, 'absent'))).toThrow(/cannot read --token-file/);
    expect(() => s.useTokenFile(undefined)).toThrow(/off loopback/);
    expect(await status('e'.repeat(40))).toBe(200);
    const local = await start({ tokenFile: first });
    local.useTokenFile(undefined);
    expect((await fetch(url(local, '/v1/status'))).status).toBe(200);
  });

  it('caps concurrent streams per client address and counts refusals', async () => {
    const s = await start({ maxStreamsPerClient: 2 });
    const streamUrl = `ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`;
    const first = await WsSubscriber.open(streamUrl);
    sockets.push(first, await WsSubscriber.open(streamUrl));
    await expect(WsSubscriber.open(streamUrl)).rejects.toThrow(/429/);
    expect(s.counters.streamsRefused).toBe(1);
    first.close();
    await waitFor('a slot to free up', async () => {
      try {
        sockets.push(await WsSubscriber.open(streamUrl));
        return true;
      } catch {
        return false;
      }
    });
  });

  it('serves HTTPS and WSS with the given certificate', async () => {
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    await expect(start({ tls: { certFile: join(dir, 'missing.pem'), keyFile } })).rejects.toThrow(/cannot use the TLS certificate or key/);
    await expect(start({ tls: { certFile: keyFile, keyFile: certFile } })).rejects.toThrow(/cannot use the TLS certificate or key/);
    const s = await start({ tls: { certFile, keyFile } });
    const body = await new Promise<string>((resolve, reject) => {
      httpsRequest({ host: '127.0.0.1', port: s.address.port, path: '/healthz', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject).end();
    });
    expect(body).toBe('ok\n');
    const ws = await WsSubscriber.open(`wss://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`, { rejectUnauthorized: false });
    sockets.push(ws);
    await ws.waitFor('subscribed', 1);
    expect(ws.ws.readyState).toBe(WebSocket.OPEN);
  });
});
