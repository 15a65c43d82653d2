// A recording made during a live run replays, without privileges, to exactly
// the flows the live run produced. Identity (users, executables, containers,
// workloads) is host state read at capture time, not part of the capture, so
// the comparison leaves it out; everything the pipeline derives must match.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { anomalyThroughSchema, type Anomaly, type Flow } from '../../agent/schema/flow.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { Nginx } from '../helpers/nginx.mjs';
import { unprivileged } from '../helpers/unprivileged.js';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'flowscope-rec-'));
const servers: Nginx[] = [];

afterAll(() => {
  for (const s of servers) s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const IDENTITY = ['exe', 'user', 'containerId', 'pod', 'namespace', 'workload', 'workloadKind', 'serviceAccount'] as const;

function withoutIdentity(flow: Flow): Flow {
  const strip = (end: Flow['source']) => Object.fromEntries(Object.entries(end).filter(([k]) => !(IDENTITY as readonly string[]).includes(k))) as Flow['source'];
  return { ...flow, source: strip(flow.source), destination: strip(flow.destination) };
}

describe('record and replay', () => {
  it('replays a live recording to exactly the live flows, unprivileged', async () => {
    const file = join(dir, 'capture.fsrec');
    const agent = await AgentProcess.start(['--record', file]);
    const plain = await Nginx.start();
    const tls = await Nginx.start({ tls: true });
    servers.push(plain, tls);
    await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', `${plain.url}/index.html`, `${plain.url}/status/404`, `${plain.url}/big.bin`,
      `${plain.url}/index.html?q=1%27%20OR%20%271%27%3D%271`]);
    await run('curl', ['-sk', '-o', '/dev/null', `${tls.url}/status/201?token=secret`]);
    await agent.waitForFlows('plaintext', plain.port, 8);
    await agent.waitForFlows('TLS', tls.port, 2);
    expect(await agent.stop()).toBe(0);
    // The final status still carries the kernel's loss counters, read before the loader closed.
    const stopped = (await waitFor('the final status log', () => agent.logs.find((l) => l.msg === 'stopped'))) as { engine: string; kernelLosses: Record<string, number> };
    expect(stopped.engine).toBe('libbpf');
    expect(stopped.kernelLosses).toMatchObject({ ringbuf_full: 0, conn_map_full: 0 });

    const { stdout, stderr } = await run(...unprivileged(process.execPath, [bin, 'replay', file]), { maxBuffer: 64 << 20 });
    const replayed = stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Flow);
    expect(replayed.length).toBeGreaterThanOrEqual(10);
    expect(replayed.map(withoutIdentity)).toEqual(agent.flows.map(withoutIdentity));
    expect(stderr).toMatch(/records in \d+ batches/);

    // Detection on the recording's clock: the same anomalies on every replay.
    const detectOnce = async (name: string) => {
      const out = join(dir, name);
      await run(...unprivileged(process.execPath, [bin, 'replay', file, '--flows-out', '/dev/null', '--anomalies-out', out, '--learn-window', '1s']), { maxBuffer: 64 << 20 });
      return readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Anomaly);
    };
    const first = await detectOnce('a1.jsonl');
    expect(first.map((a) => a.kind)).toContain('INJECTION');
    for (const a of first) expect(anomalyThroughSchema(a)).toEqual(a);
    expect(await detectOnce('a2.jsonl')).toEqual(first);
  });

  it('refuses a file that is not a recording, in one line', async () => {
    const r = await run(process.execPath, [bin, 'replay', bin]).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);
    expect((r as { stderr: string }).stderr).toMatch(/is not a flowscope recording/);
  });
});
