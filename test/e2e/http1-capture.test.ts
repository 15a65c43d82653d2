// End to end on the real kernel: the agent runs for real, real clients talk to
// real servers on loopback, and every request must appear exactly once per
// observing side with its exact method, path, host and status.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/schema/flow.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

let agent: AgentProcess;
const servers: Nginx[] = [];

async function nginx(options: Parameters<typeof Nginx.start>[0] = {}): Promise<Nginx> {
  const server = await Nginx.start(options);
  servers.push(server);
  return server;
}

function summary(flows: Flow[]): string[] {
  return flows
    .map((f) => `${f.observedAt} ${f.http.method} ${f.http.path} ${f.http.host} ${f.http.status} tls=${f.tls}`)
    .sort();
}

function both(lines: string[]): string[] {
  return [...lines.map((l) => `CLIENT ${l}`), ...lines.map((l) => `SERVER ${l}`)].sort();
}

beforeAll(async () => {
  agent = await AgentProcess.start();
});

afterAll(async () => {
  for (const s of servers) s.stop();
  const code = await agent?.stop();
  expect(code).toBe(0);
});

describe('HTTP/1.x capture against the real kernel', () => {
  it('reports each keep-alive request from curl to nginx once on each side', async () => {
    const server = await nginx();
    const host = `127.0.0.1:${server.port}`;
    await run('curl', ['-s', '-o', '/dev/null', `${server.url}/index.html`, `${server.url}/status/201`, `${server.url}/status/404`, `${server.url}/missing?q=1`]);
    const flows = await agent.waitForFlows('keep-alive', server.port, 8);
    expect(summary(flows)).toEqual(both([
      `GET /index.html ${host} 200 tls=false`,
      `GET /missing?q=1 ${host} 404 tls=false`,
      `GET /status/201 ${host} 201 tls=false`,
      `GET /status/404 ${host} 404 tls=false`,
    ]));
    const client = flows.find((f) => f.observedAt === 'CLIENT')!;
    expect(client.source.process).toBe('curl');
    expect(client.destination.process).toBe('nginx');
    expect(client.destination.ip).toBe('127.0.0.1');
    expect(new Set(flows.filter((f) => f.observedAt === 'CLIENT').map((f) => f.connId)).size).toBe(1);
    expect(Date.parse(client.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(client.durationNs)).toBeGreaterThan(0);
    expect(flows.filter((f) => f.observedAt === 'SERVER').every((f) => f.source.process === 'curl')).toBe(true);
  });

  it('decodes TLS plaintext from OpenSSL in curl and nginx and never the ciphertext', async () => {
    const server = await nginx({ tls: true });
    const host = `127.0.0.1:${server.port}`;
    await run('curl', ['-sk', '-o', '/dev/null', `${server.url}/index.html`, `${server.url}/status/404`]);
    const flows = await agent.waitForFlows('TLS', server.port, 4);
    expect(summary(flows)).toEqual(both([
      `GET /index.html ${host} 200 tls=true`,
      `GET /status/404 ${host} 404 tls=true`,
    ]));
  });

  it('decodes python ssl (SSL_read_ex / SSL_write_ex) as the client of nginx TLS', async () => {
    const server = await nginx({ tls: true });
    const script = `
import http.client, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection('127.0.0.1', ${server.port}, context=ctx)
for path in ('/index.html', '/status/201'):
    c.request('GET', path); r = c.getresponse(); r.read()
c.request('POST', '/status/404', body=b'x' * 3000, headers={'Content-Type': 'text/plain'}); c.getresponse().read()
`;
    await run(PYTHON, ['-c', script]);
    const flows = await agent.waitForFlows('python TLS', server.port, 6);
    const host = `127.0.0.1:${server.port}`;
    expect(summary(flows)).toEqual(both([
      `GET /index.html ${host} 200 tls=true`,
      `GET /status/201 ${host} 201 tls=true`,
      `POST /status/404 ${host} 404 tls=true`,
    ]));
    const client = flows.find((f) => f.observedAt === 'CLIENT' && f.http.method === 'POST')!;
    expect(client.source.process).toMatch(/^python3/);
    expect(Number(client.http.requestBytes)).toBeGreaterThan(3000);
  });

  it('pairs pipelined requests sent in one write on a raw socket', async () => {
    const server = await nginx();
    const script = `
import socket
s = socket.create_connection(('127.0.0.1', ${server.port}))
reqs = b''.join(b'GET /status/%d HTTP/1.1\\r\\nHost: pipelined\\r\\n\\r\\n' % n for n in (201, 404))
s.sendall(reqs + b'GET /index.html HTTP/1.1\\r\\nHost: pipelined\\r\\nConnection: close\\r\\n\\r\\n')
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
assert data.count(b'HTTP/1.1 ') == 3, data
`;
    await run(PYTHON, ['-c', script]);
    const flows = await agent.waitForFlows('pipelined', server.port, 6);
    expect(summary(flows)).toEqual(both([
      'GET /index.html pipelined 200 tls=false',
      'GET /status/201 pipelined 201 tls=false',
      'GET /status/404 pipelined 404 tls=false',
    ]));
  });

  it('decodes a chunked (gzip) response and the request after it on the same connection', async () => {
    const server = await nginx();
    const host = `127.0.0.1:${server.port}`;
    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '--compressed', `${server.url}/gz/notes.txt`, `${server.url}/status/201`]);
    expect(stdout.toLowerCase()).toContain('transfer-encoding: chunked');
    const flows = await agent.waitForFlows('chunked', server.port, 4);
    expect(summary(flows)).toEqual(both([`GET /gz/notes.txt ${host} 200 tls=false`, `GET /status/201 ${host} 201 tls=false`]));
  });

  for (const variant of [{ sendfile: true, tls: false }, { sendfile: false, tls: false }, { sendfile: false, tls: true }]) {
    it(`reports a 1 MiB response (${variant.tls ? 'TLS' : variant.sendfile ? 'sendfile' : 'write'}) with its full size and keeps decoding after it`, async () => {
      const server = await nginx(variant);
      const host = `127.0.0.1:${server.port}`;
      await run('curl', ['-sk', '-o', '/dev/null', `${server.url}/big.bin`, `${server.url}/status/201`], { maxBuffer: 4 << 20 });
      const flows = await agent.waitForFlows('1 MiB', server.port, 4);
      expect(summary(flows)).toEqual(both([`GET /big.bin ${host} 200 tls=${variant.tls}`, `GET /status/201 ${host} 201 tls=${variant.tls}`]));
      for (const f of flows.filter((x) => x.http.path === '/big.bin')) {
        expect(Number(f.http.responseBytes)).toBeGreaterThan(1 << 20);
        expect(Number(f.http.responseBytes)).toBeLessThan((1 << 20) + 1024);
      }
    });
  }

  it('serves an IPv6 client', async () => {
    const server = await nginx({ ipv6: true });
    await run('curl', ['-s', '-o', '/dev/null', `http://[::1]:${server.port}/index.html`]);
    const flows = await agent.waitForFlows('IPv6', server.port, 2);
    expect(summary(flows)).toEqual(both([`GET /index.html [::1]:${server.port} 200 tls=false`]));
    expect(flows.every((f) => f.source.ip === '::1' && f.destination.ip === '::1')).toBe(true);
  });

  it('reports every request of 500 concurrent connections exactly once per side', async () => {
    const server = await nginx();
    await run('curl', ['-s', '-Z', '--parallel-max', '500', '-o', '/dev/null', `${server.url}/index.html?n=[1-500]`], { maxBuffer: 16 << 20 });
    const flows = await agent.waitForFlows('concurrent', server.port, 1000, 30_000);
    expect(server.accessLogLines()).toHaveLength(500);
    for (const side of ['CLIENT', 'SERVER'] as const) {
      const paths = flows.filter((f) => f.observedAt === side).map((f) => f.http.path);
      expect(paths).toHaveLength(500);
      expect(new Set(paths).size).toBe(500);
    }
    expect(flows.every((f) => f.http.status === 200)).toBe(true);
  });
});

describe('connections open before the agent started', () => {
  it('are tracked with the role inferred from the first bytes', async () => {
    await agent.stop();
    const server = await nginx();
    // A keep-alive client that makes one request, then a second one when told.
    const client = spawn(PYTHON, ['-u', '-c', `
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', ${server.port})
c.request('GET', '/status/201'); c.getresponse().read()
print('first done', flush=True)
sys.stdin.readline()
c.request('GET', '/index.html?after=agent'); r = c.getresponse(); r.read()
print('second', r.status, flush=True)
`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the first request', () => out.includes('first done'));
    agent = await AgentProcess.start();
    client.stdin.write('\n');
    await waitFor('the second request', () => out.includes('second 200'));
    const flows = await agent.waitForFlows('pre-existing', server.port, 2);
    expect(summary(flows)).toEqual(both([`GET /index.html?after=agent 127.0.0.1:${server.port} 200 tls=false`]));
    client.kill();
  });
});
