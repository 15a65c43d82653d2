// End to end on the real kernel: nghttp and h2load (nghttp2-client) talk HTTP/2 to
// nginx, with prior knowledge (h2c) and over TLS with ALPN h2; every stream must
// appear exactly once per observing side with its exact method, path, authority
// and status.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../helpers/agent-process.js';
import { summary, both } from '../helpers/flow-summary.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);

let agent: AgentProcess;
const servers: Nginx[] = [];

/** nginx with an extra HTTP/2 listener (h2c prior knowledge, or TLS + ALPN h2). */
async function h2nginx(tls: boolean, locations = ''): Promise<{ server: Nginx; port: number; url: string }> {
  const port = await freePort();
  const server = await Nginx.start({
    tls,
    locations: `listen 127.0.0.1:${port}${tls ? ' ssl' : ''} http2;
      large_client_header_buffers 4 64k;
      location = /echo { return 200 "posted\\n"; }
      ${locations}`,
  });
  servers.push(server);
  return { server, port, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}` };
}

beforeAll(async () => {
  // Whole 20 KB header writes: a write cut by the capture cap is a gap, after which the
  // HPACK table is unknown and header fields are withheld (never guessed).
  agent = await AgentProcess.start(['--max-capture-bytes', '65536']);
});

afterAll(async () => {
  for (const s of servers) s.stop();
  const code = await agent?.stop();
  expect(code).toBe(0);
});

describe('HTTP/2 connections open before the agent started', () => {
  it('are recognised from their frames; flows carry the header fields that need no HPACK table, never a guessed one', async () => {
    await agent.stop();
    const { port, url } = await h2nginx(false);
    // One h2c session: a request before the agent, three more on it after.
    const client = spawn(process.execPath, ['-e', `
const http2 = require('node:http2');
const session = http2.connect('${url}');
const get = (path) => new Promise((resolve, reject) => {
  const req = session.request({ ':path': path });
  req.on('response', (h) => { req.resume(); req.on('end', () => resolve(h[':status'])); });
  req.on('error', reject);
  req.end();
});
get('/index.html?before=agent').then(() => {
  console.log('first done');
  process.stdin.once('data', async () => {
    for (const p of ['/index.html?after=1', '/status/201?after=2', '/status/404?after=3']) console.log('got', await get(p));
    console.log('second done');
    session.close();
  });
});
`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the first request', () => out.includes('first done'));
    agent = await AgentProcess.start(['--max-capture-bytes', '65536']);
    client.stdin!.write('\n');
    await waitFor('the later requests', () => out.includes('second done'));
    const flows = await agent.waitForFlows('mid-stream h2c', port, 6);
    // The HPACK tables were filled before the agent and are never emptied on this session, so
    // flows are marked untrusted and carry only fields that need no table: :method GET and
    // :status from the static table, each new :path as a literal. :authority was entered in
    // the client's table before the agent started: withheld, never guessed.
    expect(summary(flows)).toEqual(both([
      'HTTP2 GET /index.html?after=1 undefined 200 tls=false',
      'HTTP2 GET /status/201?after=2 undefined 201 tls=false',
      'HTTP2 GET /status/404?after=3 undefined 404 tls=false',
    ]));
    for (const f of flows) {
      expect(f.http.headersTrusted).toBe(false);
      expect(Number(f.durationNs)).toBeGreaterThan(0);
      expect(Number(f.http.requestBytes)).toBeGreaterThan(0);
      expect(Number(f.http.responseBytes)).toBeGreaterThan(0);
    }
    expect(new Set(flows.map((f) => f.http.streamId)).size).toBe(3);
    client.kill();
  });
});

describe('HTTP/2 capture against the real kernel', () => {
  it('reports each nghttp stream to nginx h2c (prior knowledge) once on each side', async () => {
    const { port, url } = await h2nginx(false);
    await run('nghttp', ['-n', `${url}/index.html`, `${url}/status/201`, `${url}/status/404`, `${url}/missing?q=1`]);
    const flows = await agent.waitForFlows('h2c', port, 8);
    const host = `127.0.0.1:${port}`;
    expect(summary(flows)).toEqual(both([
      `HTTP2 GET /index.html ${host} 200 tls=false`,
      `HTTP2 GET /missing?q=1 ${host} 404 tls=false`,
      `HTTP2 GET /status/201 ${host} 201 tls=false`,
      `HTTP2 GET /status/404 ${host} 404 tls=false`,
    ]));
    const client = flows.find((f) => f.observedAt === 'CLIENT')!;
    expect(client.source.process).toBe('nghttp');
    expect(client.destination.process).toBe('nginx');
    expect(client.http.headersTrusted).toBe(true);
    expect(new Set(flows.filter((f) => f.observedAt === 'CLIENT').map((f) => f.connId)).size).toBe(1);
    expect(Number(client.durationNs)).toBeGreaterThan(0);
  });

  it('decodes HTTP/2 over TLS (ALPN h2) from the OpenSSL plaintext of nghttp and nginx', async () => {
    const { port, url } = await h2nginx(true);
    await run('nghttp', ['-n', `${url}/index.html`, `${url}/status/201`]);
    const flows = await agent.waitForFlows('h2 TLS', port, 4);
    const host = `127.0.0.1:${port}`;
    expect(summary(flows)).toEqual(both([
      `HTTP2 GET /index.html ${host} 200 tls=true`,
      `HTTP2 GET /status/201 ${host} 201 tls=true`,
    ]));
  });

  it('pairs 20 concurrent streams on one connection by stream id (nghttp -m 20)', async () => {
    const { port, url } = await h2nginx(false);
    const paths = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? `/index.html?n=${i}` : `/status/404?n=${i}`));
    await run('nghttp', ['-n', ...paths.map((p) => `${url}${p}`)]);
    const flows = await agent.waitForFlows('concurrent', port, 40);
    const host = `127.0.0.1:${port}`;
    expect(summary(flows)).toEqual(both(paths.map((p) => `HTTP2 GET ${p} ${host} ${p.startsWith('/index') ? 200 : 404} tls=false`)));
  });

  it('reports all 200 requests of h2load -c 1 -m 20 over TLS exactly once per side', async () => {
    const { server, port, url } = await h2nginx(true);
    await run('h2load', ['-n', '200', '-c', '1', '-m', '20', `${url}/index.html`]);
    const flows = await agent.waitForFlows('h2load TLS', port, 400, 30_000);
    expect(server.accessLogLines()).toHaveLength(200);
    for (const side of ['CLIENT', 'SERVER'] as const) {
      const mine = flows.filter((f) => f.observedAt === side);
      expect(mine).toHaveLength(200);
      expect(mine.every((f) => f.protocol === 'HTTP2' && f.http.path === '/index.html' && f.http.status === 200 && f.tls)).toBe(true);
    }
  });

  it('decodes a 20 KB header value sent in HEADERS + CONTINUATION and the requests after it', async () => {
    const { port, url } = await h2nginx(false);
    const large = Array.from({ length: 20480 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 94))).join('').replace(/,/g, '.');
    await run('nghttp', ['-n', '-H', `x-large: ${large}`, `${url}/index.html?big=1`, `${url}/status/201`]);
    const flows = await agent.waitForFlows('large header', port, 4);
    const host = `127.0.0.1:${port}`;
    expect(summary(flows)).toEqual(both([`HTTP2 GET /index.html?big=1 ${host} 200 tls=false`, `HTTP2 GET /status/201 ${host} 201 tls=false`]));
    const big = flows.find((f) => f.http.path === '/index.html?big=1')!;
    expect(Number(big.http.requestBytes)).toBeGreaterThan(20480 * 0.7);
    expect(flows.every((f) => f.http.headersTrusted === true)).toBe(true);
  });

  it('reports a POST with its body size', async () => {
    const { port, url } = await h2nginx(false);
    const { stdout } = await run('bash', ['-c', `head -c 5000 /dev/zero | tr '\\0' a > /tmp/flowscope-h2-body.$$ && nghttp -n -d /tmp/flowscope-h2-body.$$ ${url}/echo; rm -f /tmp/flowscope-h2-body.$$`]);
    expect(stdout).toBe('');
    const flows = await agent.waitForFlows('POST', port, 2);
    expect(summary(flows)).toEqual(both([`HTTP2 POST /echo 127.0.0.1:${port} 200 tls=false`]));
    for (const f of flows) expect(Number(f.http.requestBytes)).toBeGreaterThan(5000);
  });
});
