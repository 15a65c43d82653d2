// End to end on the real kernel: the agent finds Go and Node.js TLS programs
// started after it, and every request over their TLS connections appears once
// per observing side with its exact method, path, host and status, tls=true,
// and nothing decoded from the ciphertext.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGo, DEBIAN_NODE, DEBIAN_NODE_ENV, httpsListening, selfSignedCert, TLS_FIXTURES } from '../fixtures/tls/programs.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { summary, both } from '../helpers/flow-summary.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const NODE = realpathSync(process.execPath);

describe('TLS plaintext of Go and Node.js programs through the agent', () => {
  let agent: AgentProcess;
  let dir: string;
  let goServer: string;
  let goClient: string;
  let cert: string;
  let key: string;
  const children: ChildProcess[] = [];
  const servers: Nginx[] = [];

  function start(cmd: string, args: string[], env = process.env): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
    children.push(child);
    child.stdout!.resume();
    return child;
  }

  /** Waits for the agent to say it probed the file at path (discovery runs on exec and every 2 s). */
  async function probed(path: string): Promise<void> {
    await waitFor(`the agent to probe ${path}`, () =>
      agent.logs.some((l) => l.msg === 'TLS binary probed' && typeof l.path === 'string' && l.path.endsWith(path)),
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowscope-e2e-tls-'));
    goServer = buildGo('go-server', dir);
    goClient = buildGo('go-client', dir);
    ({ cert, key } = selfSignedCert(dir));
    agent = await AgentProcess.start();
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill();
    for (const s of servers) s.stop();
    const code = await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it('Go HTTPS server started after the agent, curl as client', async () => {
    const port = await freePort();
    start(goServer, [`127.0.0.1:${port}`, cert, key]);
    await probed(goServer);
    await httpsListening(port);
    const host = `127.0.0.1:${port}`;
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', `https://${host}/hello/e2e`]);
    const flows = await waitFor('both sides of /hello/e2e', () => {
      const got = agent.flowsTo(port).filter((f) => f.http.path !== '/ready');
      return got.length >= 2 ? got : undefined;
    });
    expect(summary(flows)).toEqual(both([`HTTP1 GET /hello/e2e ${host} 200 tls=true`]));
  });

  it('Go HTTPS server: a 1 MiB response written in one call, then the next request on the connection', async () => {
    const port = await freePort();
    start(goServer, [`127.0.0.1:${port}`, cert, key]);
    await probed(goServer);
    await httpsListening(port);
    const host = `127.0.0.1:${port}`;
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `https://${host}/big?n=1048576`, `https://${host}/hello/after`], { maxBuffer: 4 << 20 });
    const flows = await waitFor('both sides of both requests', () => {
      const got = agent.flowsTo(port).filter((f) => f.http.path !== '/ready');
      return got.length >= 4 ? got : undefined;
    });
    expect(summary(flows)).toEqual(both([`HTTP1 GET /big?n=1048576 ${host} 200 tls=true`, `HTTP1 GET /hello/after ${host} 200 tls=true`]));
    for (const f of flows.filter((x) => x.http.path.startsWith('/big'))) {
      expect(Number(f.http.responseBytes)).toBeGreaterThan(1 << 20);
      expect(Number(f.http.responseBytes)).toBeLessThan((1 << 20) + 1024);
    }
  });

  it('Go HTTPS server speaking HTTP/2 (ALPN h2) to curl', async () => {
    const port = await freePort();
    start(goServer, [`127.0.0.1:${port}`, cert, key]);
    await probed(goServer);
    await httpsListening(port);
    const host = `127.0.0.1:${port}`;
    await run('curl', ['-sk', '--http2', '-o', '/dev/null', '-o', '/dev/null', `https://${host}/hello/h2`, `https://${host}/big?n=70000`]);
    const flows = await waitFor('both sides of both requests', () => {
      const got = agent.flowsTo(port).filter((f) => f.http.path !== '/ready');
      return got.length >= 4 ? got : undefined;
    });
    expect(summary(flows)).toEqual(both([`HTTP2 GET /hello/h2 ${host} 200 tls=true`, `HTTP2 GET /big?n=70000 ${host} 200 tls=true`]));
  });

  it('Go client against nginx TLS', async () => {
    const nginx = await Nginx.start({ tls: true });
    servers.push(nginx);
    const client = start(goClient, []);
    await probed(goClient);
    const host = `127.0.0.1:${nginx.port}`;
    client.stdin!.end(`https://${host}/index.html\nhttps://${host}/status/404\n`);
    await new Promise((resolve) => client.once('exit', resolve));
    const flows = await agent.waitForFlows('Go client', nginx.port, 4);
    expect(summary(flows)).toEqual(both([`HTTP1 GET /index.html ${host} 200 tls=true`, `HTTP1 GET /status/404 ${host} 404 tls=true`]));
  });

  // The Node that runs flowscope (OpenSSL linked into the node binary) and Debian 12's own
  // Node.js 18 (shared libnode over the system libssl.so.3): both encrypt into memory BIOs.
  const runtimes = [
    { name: `Node.js ${process.version}`, node: NODE, env: process.env, tlsFile: NODE },
    { name: "Debian 12's Node.js 18 (libnode, system OpenSSL)", node: DEBIAN_NODE, env: DEBIAN_NODE_ENV, tlsFile: 'libssl.so.3' },
  ];
  for (const runtime of runtimes) {
    for (const mode of ['https', 'http2'] as const) {
      it(`${runtime.name}: ${mode} server and client started after the agent`, async () => {
        const port = await freePort();
        const node = (args: string[]) => run(runtime.node, args, { env: runtime.env });
        start(runtime.node, [join(TLS_FIXTURES, 'node-server.mjs'), mode, String(port), cert, key], runtime.env);
        await probed(runtime.tlsFile);
        await waitFor('the Node server', async () => {
          try {
            await node([join(TLS_FIXTURES, 'node-client.mjs'), mode, `https://127.0.0.1:${port}/ready`]);
            return true;
          } catch {
            return false;
          }
        });
        const host = `127.0.0.1:${port}`;
        const { stdout } = await node([join(TLS_FIXTURES, 'node-client.mjs'), mode, `https://${host}/hello/a`, `https://${host}/hello/b`]);
        expect(stdout).toBe('hello a\nhello b\n');
        const flows = await waitFor('both sides of both requests', () => {
          const got = agent.flowsTo(port).filter((f) => f.http.path !== '/ready');
          return got.length >= 4 ? got : undefined;
        });
        const proto = mode === 'http2' ? 'HTTP2' : 'HTTP1';
        expect(summary(flows)).toEqual(both([`${proto} GET /hello/a ${host} 200 tls=true`, `${proto} GET /hello/b ${host} 200 tls=true`]));
        if (runtime.node === DEBIAN_NODE) expect(flows.every((f) => f.source.process === 'node' && f.destination.process === 'node')).toBe(true);
      });
    }
  }
});
