// Real kernel and real processes: the capture engine finds TLS binaries in
// processes started after it (Go, stripped Go, Node.js, nginx with libssl),
// reports a stripped Go binary whose function table cannot be found,
// probes each file once, reports per process what it found and why capture is
// not live when it is not, detaches when the last user exits, and stops at its
// cap with a counter.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelEngine, type TlsProcessStatus } from '../../agent/capture/kernel-engine.js';
import { createLogger } from '../../agent/log.js';
import { Pipeline } from '../../agent/pipeline.js';
import { buildGo, hideGoFunctionTable, selfSignedCert, TLS_FIXTURES } from '../fixtures/tls/programs.js';
import { Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';
import { buildNative, Capture, freePort, startProcess, stopAll, waitForListen } from './support.js';

const NODE = realpathSync(process.execPath);

describe('TLS discovery, status and probe lifecycle', () => {
  let dir: string;
  let goServer: string;
  let stripped: string;
  let noFunctionTable: string;
  let cert: string;
  let key: string;
  const engines: KernelEngine[] = [];

  async function startEngine(maxTlsBinaries?: number): Promise<KernelEngine> {
    const engine = new KernelEngine(new Pipeline({ selfTgid: process.pid }), createLogger('silent'), {
      maxCaptureBytes: 16384,
      tlsProbes: true,
      maxTlsBinaries,
    });
    engines.push(engine);
    engine.start();
    await engine.firstBatch();
    return engine;
  }

  async function startGo(exe: string): Promise<number> {
    const port = await freePort();
    const pid = startProcess(exe, [`127.0.0.1:${port}`, cert, key]).pid!;
    await waitForListen('127.0.0.1', port);
    return pid;
  }

  const rowOf = (engine: KernelEngine, pid: number): TlsProcessStatus | undefined => engine.tlsStatus().find((r) => r.pid === pid);

  beforeAll(() => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-discovery-'));
    goServer = buildGo('go-server', dir);
    stripped = buildGo('go-server', dir, 'go-server-stripped', true);
    noFunctionTable = hideGoFunctionTable(stripped, join(dir, 'go-server-no-pclntab'));
    ({ cert, key } = selfSignedCert(dir));
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    for (const engine of engines) await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('queues the pid of every exec for discovery', async () => {
    const capture = new Capture();
    try {
      const child = startProcess('sleep', ['30']);
      const seen: number[] = [];
      await waitFor('the exec of sleep', () => {
        seen.push(...capture.loader.execPids());
        return seen.includes(child.pid!);
      });
      child.kill();
    } finally {
      await capture.stop();
    }
  });

  it('lists each process’s TLS implementation, probes it, and detaches after the last user exits', async () => {
    const engine = await startEngine();
    const goPid = await startGo(goServer);
    const strippedPid = await startGo(stripped);
    const noTablePid = await startGo(noFunctionTable);
    const nodePort = await freePort();
    const nodePid = startProcess(NODE, [join(TLS_FIXTURES, 'node-server.mjs'), 'https', String(nodePort), cert, key]).pid!;
    await waitForListen('127.0.0.1', nodePort);
    const nginx = await Nginx.start({ tls: true });
    try {
      const go = await waitFor('Go server row', () => rowOf(engine, goPid));
      expect(go).toMatchObject({ comm: 'go-server', exe: goServer, library: 'go', path: goServer, active: true });
      expect(go.version).toMatch(/^go1\.\d+/);
      expect(go.reason).toBeUndefined();

      // Stripped: probed through Go's own function table.
      const bare = await waitFor('stripped Go server row', () => rowOf(engine, strippedPid));
      expect(bare).toMatchObject({ library: 'go', path: stripped, active: true });
      expect(bare.reason).toBeUndefined();
      const hidden = await waitFor('Go server without a function table row', () => rowOf(engine, noTablePid));
      expect(hidden).toMatchObject({ library: 'go', active: false, reason: 'stripped (no symbol table), no Go function table (.gopclntab) found' });

      const node = await waitFor('Node server row', () => rowOf(engine, nodePid));
      expect(node).toMatchObject({ library: 'node', path: NODE, active: true });
      expect(node.version).toMatch(/^OpenSSL \d+\.\d+\.\d+/);

      const ssl = await waitFor('nginx libssl row', () =>
        engine.tlsStatus().find((r) => r.comm === 'nginx' && r.library === 'openssl-dynamic' && r.active),
      );
      expect(ssl.path).toMatch(/\/libssl\.so\.3$/);

      // A library mapped after exec (python imports ssl later) is found by the next scan.
      const python = startProcess('python3', ['-c', 'import time; time.sleep(0.5); import ssl; time.sleep(60)']).pid!;
      const lazy = await waitFor('python libssl row', () => rowOf(engine, python), 15_000);
      expect(lazy).toMatchObject({ comm: 'python3', library: 'openssl-dynamic', active: true });

      // One probe set per file, however many processes use it.
      const goPid2 = await startGo(goServer);
      await waitFor('second Go server row', () => rowOf(engine, goPid2)?.active);
      expect(engine.tlsLibraries.filter((l) => l.path.endsWith(goServer))).toHaveLength(1);

      const detachedBefore = engine.tlsCounters().detached;
      process.kill(goPid, 'SIGKILL');
      await waitFor('first Go server gone from status', () => !rowOf(engine, goPid));
      expect(engine.tlsLibraries.filter((l) => l.path.endsWith(goServer))).toHaveLength(1); // still used
      process.kill(goPid2, 'SIGKILL');
      await waitFor('Go probes detached', () => engine.tlsCounters().detached > detachedBefore);
      expect(engine.tlsLibraries.filter((l) => l.path.endsWith(goServer))).toHaveLength(0);
    } finally {
      nginx.stop();
    }
  });

  it('stops probing at the cap and says so', async () => {
    const engine = await startEngine(1); // the host's libssl takes the only slot
    const goPid = await startGo(goServer);
    const row = await waitFor('capped Go server row', () => rowOf(engine, goPid));
    expect(row).toMatchObject({ library: 'go', active: false, reason: 'cap reached (1 probed binaries)' });
    expect(engine.tlsCounters()).toMatchObject({ probedBinaries: 1, maxProbedBinaries: 1 });
    expect(engine.tlsCounters().capRefused).toBeGreaterThan(0);
  });
});
