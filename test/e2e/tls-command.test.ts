// `flowscope tls` for real: per process, the TLS implementation found and
// whether capture is live. From the running agent's /v1/status, and from a
// scan of its own when no agent answers.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsReport } from '../../agent/cli/tls-command.js';
import { buildGo, hideGoFunctionTable, selfSignedCert } from '../fixtures/tls/programs.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));

async function tls(args: string[]): Promise<{ stdout: string }> {
  return run(process.execPath, [bin, 'tls', ...args]);
}

describe('flowscope tls', () => {
  let dir: string;
  let goPid: number;
  let strippedPid: number;
  const children: ChildProcess[] = [];

  function startGo(exe: string, port: number, cert: string, key: string): number {
    const child = spawn(exe, [`127.0.0.1:${port}`, cert, key], { stdio: 'ignore' });
    children.push(child);
    return child.pid!;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-command-'));
    const goServer = buildGo('go-server', dir);
    // Stripped, and its function table hidden: a Go binary flowscope cannot probe.
    const stripped = hideGoFunctionTable(buildGo('go-server', dir, 'go-server-stripped', true), join(dir, 'go-server-no-pclntab'));
    const { cert, key } = selfSignedCert(dir);
    goPid = startGo(goServer, await freePort(), cert, key);
    strippedPid = startGo(stripped, await freePort(), cert, key);
  }, 120_000);

  afterAll(() => {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scans the host itself when no agent answers, and says so', async () => {
    const port = await freePort();
    const report = await waitFor('both Go servers in the report', async () => {
      const r = JSON.parse((await tls(['-o', 'json', '--server', `127.0.0.1:${port}`])).stdout) as TlsReport;
      return r.processes.some((p) => p.pid === goPid) && r.processes.some((p) => p.pid === strippedPid) ? r : undefined;
    });
    expect(report.source).toBe('local');
    expect(report.note).toBe(`no agent at http://127.0.0.1:${port}: scanned this host itself`);
    expect(report.processes.find((p) => p.pid === goPid)).toMatchObject({
      comm: 'go-server', library: 'go', version: expect.stringMatching(/^go1\.\d+/), active: false, reason: 'no agent running',
    });
    expect(report.processes.find((p) => p.pid === strippedPid)).toMatchObject({ library: 'go', active: false, reason: 'stripped (no symbol table), no Go function table (.gopclntab) found' });

    const text = (await tls(['--local', '--no-color'])).stdout.split('\n');
    expect(text[0]).toBe('--local: scanned this host itself');
    expect(text[1]).toMatch(/^PID\s+COMM\s+LIBRARY\s+VERSION\s+CAPTURE\s+PATH \/ REASON$/);
    expect(text.find((l) => l.startsWith(`${strippedPid} `))).toMatch(/ go +go1\.\d+\S* +no +stripped \(no symbol table\), no Go function table \(\.gopclntab\) found \(\/.*go-server-no-pclntab\)$/);
  });

  it('shows the running agent’s view: capture active for the Go server, and why not for the stripped one', async () => {
    const port = await freePort();
    const agent = await AgentProcess.start(['--listen', `127.0.0.1:${port}`]);
    try {
      const report = await waitFor('the Go server probed', async () => {
        const r = JSON.parse((await tls(['-o', 'json', '--server', `127.0.0.1:${port}`])).stdout) as TlsReport;
        return r.processes.some((p) => p.pid === goPid && p.active) ? r : undefined;
      });
      expect(report.source).toBe('agent');
      expect(report.note).toBeUndefined();
      expect(report.processes.find((p) => p.pid === goPid)).toMatchObject({ library: 'go', active: true });
      expect(report.processes.find((p) => p.pid === goPid)?.reason).toBeUndefined();
      expect(report.processes.find((p) => p.pid === strippedPid)).toMatchObject({ library: 'go', active: false, reason: 'stripped (no symbol table), no Go function table (.gopclntab) found' });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});
