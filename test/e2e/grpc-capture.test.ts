// End to end on the real kernel: python3-grpcio server and client (all four kinds
// of call, an error status in trailers, a trailers-only error, gzip) over
// plaintext; every call is one GRPC flow per observing side with its service,
// method, numeric status, message and message counts.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/schema/flow.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../fixtures/grpc/grpc-calls.py', import.meta.url));
const JS_SCRIPT = fileURLToPath(new URL('../fixtures/grpc/grpc-js-calls.mjs', import.meta.url));

let agent: AgentProcess;
const children: ChildProcess[] = [];
let certDir: string;

async function grpcServer(tls: boolean, implementation: 'grpcio' | 'grpc-js' = 'grpcio'): Promise<number> {
  const port = await freePort();
  const args = [implementation === 'grpcio' ? SCRIPT : JS_SCRIPT, 'server', String(port)];
  if (tls) args.push(join(certDir, 'cert.pem'), join(certDir, 'key.pem'));
  const child = spawn(implementation === 'grpcio' ? PYTHON : process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the gRPC server', () => out.includes('serving'));
  return port;
}

async function grpcClient(port: number, ...extra: string[]): Promise<string> {
  const { stdout } = await run(PYTHON, [SCRIPT, 'client', String(port), ...extra]);
  expect(stdout).toContain('done');
  return stdout;
}

async function grpcJsClient(port: number, ...extra: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [JS_SCRIPT, 'client', String(port), ...extra]);
  expect(stdout).toContain('done');
  return stdout;
}

function summary(flows: Flow[]): string[] {
  return flows
    .map((f) => {
      const g = f.grpc;
      return `${f.observedAt} ${f.protocol} ${f.http.method} ${f.http.path} ${f.http.status} ` +
        `${g?.service}/${g?.method} status=${g?.status} msg=${g?.message ?? ''} in=${g?.requestMessages} out=${g?.responseMessages} tls=${f.tls}`;
    })
    .sort();
}

/**
 * The expected summary on both sides. grpc-core writes its first request with one sendmsg
 * of 20+ iovec entries: the kernel walks up to 64 (FS_MAX_IOV), so the client side's
 * header fields must be decoded in full, like the server side's.
 */
function both(lines: string[], flows: Flow[]): string[] {
  expect(flows.every((f) => f.http.headersTrusted)).toBe(true);
  return [...lines.map((l) => `CLIENT ${l}`), ...lines.map((l) => `SERVER ${l}`)].sort();
}

/** What the clients do, one line per call. grpc-js servers send grpc-message "OK" with status 0. */
const CALLS = (tls: boolean, ok = ''): string[] => [
  `GRPC POST /demo.Notes/Say 200 demo.Notes/Say status=0 msg=${ok} in=1 out=1 tls=${tls}`,
  `GRPC POST /demo.Notes/Collect 200 demo.Notes/Collect status=0 msg=${ok} in=3 out=1 tls=${tls}`,
  `GRPC POST /demo.Notes/Count 200 demo.Notes/Count status=0 msg=${ok} in=1 out=3 tls=${tls}`,
  `GRPC POST /demo.Notes/Chat 200 demo.Notes/Chat status=0 msg=${ok} in=2 out=2 tls=${tls}`,
  `GRPC POST /demo.Notes/Fail 200 demo.Notes/Fail status=5 msg=no such note: 100% gone in=1 out=0 tls=${tls}`,
  `GRPC POST /demo.Notes/Partial 200 demo.Notes/Partial status=13 msg=broke after one in=1 out=1 tls=${tls}`,
];

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'flowscope-grpc-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
  agent = await AgentProcess.start();
});

afterAll(async () => {
  for (const c of children) c.kill();
  rmSync(certDir, { recursive: true, force: true });
  const code = await agent?.stop();
  expect(code).toBe(0);
});

describe('gRPC capture (python3-grpcio, @grpc/grpc-js) against the real kernel', () => {
  it('reports unary, client-, server- and bidi-streaming calls and both kinds of error once per side', async () => {
    const port = await grpcServer(false);
    await grpcClient(port);
    const flows = await agent.waitForFlows('gRPC', port, 12);
    expect(summary(flows)).toEqual(both(CALLS(false), flows));
    const server = flows.find((f) => f.observedAt === 'SERVER')!;
    expect(server.source.process).toMatch(/python3/);
    expect(server.http.host).toBe(`127.0.0.1:${port}`);
    expect(server.http.headersTrusted).toBe(true);
    expect(flows.every((f) => f.grpc!.inProgress === undefined)).toBe(true);
  });

  it('counts gzip-compressed messages the same way', async () => {
    const port = await grpcServer(false);
    await grpcClient(port, 'gzip');
    const flows = await agent.waitForFlows('gRPC gzip', port, 12);
    expect(summary(flows)).toEqual(both(CALLS(false), flows));
  });

  it('over TLS, reports every grpcio call exactly, on both sides, with tls true', async () => {
    // Debian's python3-grpcio links the system libssl.so.3 (not BoringSSL). gRPC's TSI layer
    // runs SSL_read/SSL_write on memory BIOs and does the socket I/O itself, so no socket
    // syscall happens inside the TLS call: the fd comes from the thread's preceding read of
    // TLS records (decrypting follows it), as for Node.js.
    const port = await grpcServer(true);
    await grpcClient(port, join(certDir, 'cert.pem'));
    const flows = await agent.waitForFlows('gRPC over TLS', port, 12);
    expect(summary(flows)).toEqual(both(CALLS(true), flows));
  });

  for (const gzip of [false, true]) {
    it(`reports @grpc/grpc-js calls${gzip ? ' (gzip)' : ''} exactly, on both sides, with every header field`, async () => {
      const port = await grpcServer(false, 'grpc-js');
      await grpcJsClient(port, ...(gzip ? ['gzip'] : []));
      const flows = await agent.waitForFlows('grpc-js', port, 12);
      expect(flows.every((f) => f.http.headersTrusted)).toBe(true);
      expect(summary(flows)).toEqual(both(CALLS(false, 'OK'), flows));
      expect(flows.every((f) => f.source.process === 'node' && f.destination.process === 'node')).toBe(true);
    });
  }

  it('over TLS, reports @grpc/grpc-js calls exactly (Node.js TLS), on both sides', async () => {
    const port = await grpcServer(true, 'grpc-js');
    await grpcJsClient(port, join(certDir, 'cert.pem'));
    const flows = await agent.waitForFlows('grpc-js over TLS', port, 12);
    expect(summary(flows)).toEqual(both(CALLS(true, 'OK'), flows));
  });

  it('reports a grpc-js client calling a grpcio server', async () => {
    const port = await grpcServer(false);
    await grpcJsClient(port);
    const flows = await agent.waitForFlows('grpc-js → grpcio', port, 12);
    expect(summary(flows)).toEqual(both(CALLS(false), flows));
    expect(flows.every((f) => f.http.headersTrusted)).toBe(true);
  });
});
