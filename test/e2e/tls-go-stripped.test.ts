// End to end on the real kernel: a stripped Go HTTPS server (-ldflags='-s -w',
// the usual release build, plain and position-independent) started after the
// agent is probed through Go's own function table. curl's requests appear on
// the server side with their exact method, path and status and tls=true, and
// `flowscope tls` shows capture active for it (and for Debian's caddy, stripped
// and externally linked, when installed); a stripped server whose
// function table cannot be found is listed with the reason instead.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsReport } from '../../agent/cli/tls-command.js';
import { buildGo, hideGoFunctionTable, httpsListening, selfSignedCert } from '../fixtures/tls/programs.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { summary } from '../helpers/flow-summary.js';
import { freePort } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const CADDY = '/usr/bin/caddy';
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));

describe('stripped Go TLS servers through the agent', () => {
  let agent: AgentProcess;
  let apiPort: number;
  let dir: string;
  let cert: string;
  let key: string;
  const children: ChildProcess[] = [];

  function startGo(exe: string, port: number): number {
    const child = spawn(exe, [`127.0.0.1:${port}`, cert, key], { stdio: 'ignore' });
    children.push(child);
    return child.pid!;
  }

  async function tlsReport(): Promise<TlsReport> {
    const { stdout } = await run(process.execPath, [bin, 'tls', '-o', 'json', '--server', `127.0.0.1:${apiPort}`]);
    return JSON.parse(stdout) as TlsReport;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowscope-e2e-tls-stripped-'));
    buildGo('go-server', dir, 'go-server-stripped', true);
    buildGo('go-server', dir, 'go-server-stripped-pie', true, true);
    hideGoFunctionTable(join(dir, 'go-server-stripped'), join(dir, 'go-server-no-pclntab'));
    ({ cert, key } = selfSignedCert(dir));
    apiPort = await freePort();
    agent = await AgentProcess.start(['--listen', `127.0.0.1:${apiPort}`]);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill();
    const code = await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  for (const exeName of ['go-server-stripped', 'go-server-stripped-pie']) {
    it(`${exeName}: curl's requests on the server side, and capture active in flowscope tls`, async () => {
      const exe = join(dir, exeName);
      const port = await freePort();
      const pid = startGo(exe, port);
      const row = await waitFor(`${exeName} active in flowscope tls`, async () =>
        (await tlsReport()).processes.find((p) => p.pid === pid && p.active),
      );
      expect(row).toMatchObject({ library: 'go', version: expect.stringMatching(/^go1\.\d+/), active: true });
      expect(row.reason).toBeUndefined();
      await httpsListening(port);
      const host = `127.0.0.1:${port}`;
      await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `https://${host}/hello/stripped`, `https://${host}/nothing-here`]);
      await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-d', 'ping', `https://${host}/echo`]);
      const server = await waitFor('server side of the three requests', () => {
        const got = agent.flowsTo(port).filter((f) => f.observedAt === 'SERVER' && f.http.path !== '/ready');
        return got.length >= 3 ? got : undefined;
      });
      expect(summary(server)).toEqual([
        `SERVER HTTP1 GET /hello/stripped ${host} 200 tls=true`,
        `SERVER HTTP1 GET /nothing-here ${host} 404 tls=true`,
        `SERVER HTTP1 POST /echo ${host} 200 tls=true`,
      ].sort());
      // The server side came from the Go probes in the server process (curl's own libssl gives the client side).
      for (const f of server) expect(f.destination.pid).toBe(pid);
    });
  }

  // Debian's caddy: stripped, built by Debian's Go and linked by the system linker (cgo).
  it.skipIf(!existsSync(CADDY))('Debian caddy (stripped, externally linked): requests on the server side, capture active', async () => {
    const port = await freePort();
    const home = join(dir, 'caddy');
    mkdirSync(home);
    const caddyfile = join(home, 'Caddyfile');
    writeFileSync(caddyfile, [
      '{', '\tadmin off', '\tauto_https disable_redirects', `\tstorage file_system ${join(home, 'data')}`, '\tskip_install_trust', '}',
      `https://127.0.0.1:${port} {`, `\ttls ${cert} ${key}`, '\trespond /hello/* "hello caddy" 200', '\trespond 404', '}', '',
    ].join('\n'));
    const child = spawn(CADDY, ['run', '--adapter', 'caddyfile', '--config', caddyfile], {
      stdio: 'ignore',
      env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CONFIG_HOME: join(home, 'config') },
    });
    children.push(child);
    const row = await waitFor('caddy active in flowscope tls', async () =>
      (await tlsReport()).processes.find((p) => p.pid === child.pid && p.active),
    );
    expect(row).toMatchObject({ library: 'go', version: expect.stringMatching(/^go1\.\d+/), active: true });
    await httpsListening(port);
    const host = `127.0.0.1:${port}`;
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `https://${host}/hello/caddy`, `https://${host}/missing`]);
    const server = await waitFor('server side of both requests', () => {
      const got = agent.flowsTo(port).filter((f) => f.observedAt === 'SERVER' && f.http.path !== '/ready');
      return got.length >= 2 ? got : undefined;
    });
    expect(summary(server)).toEqual([`SERVER HTTP1 GET /hello/caddy ${host} 200 tls=true`, `SERVER HTTP1 GET /missing ${host} 404 tls=true`]);
    for (const f of server) expect(f.destination.pid).toBe(child.pid);
  });

  it('lists a stripped server whose function table cannot be found, with the reason, and no flows from it', async () => {
    const port = await freePort();
    const pid = startGo(join(dir, 'go-server-no-pclntab'), port);
    const row = await waitFor('the unreadable stripped server in flowscope tls', async () =>
      (await tlsReport()).processes.find((p) => p.pid === pid),
    );
    expect(row).toMatchObject({ library: 'go', active: false, reason: 'stripped (no symbol table), no Go function table (.gopclntab) found' });
    await httpsListening(port);
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', `https://127.0.0.1:${port}/hello/unseen`]);
    // curl's side is still seen through libssl; the server side cannot be, and nothing is decoded from ciphertext.
    const client = await waitFor('client side of the request', () =>
      agent.flowsTo(port).find((f) => f.observedAt === 'CLIENT' && f.http.path === '/hello/unseen'),
    );
    expect(client.tls).toBe(true);
    expect(agent.flowsTo(port).filter((f) => f.observedAt === 'SERVER')).toEqual([]);
  });
});
