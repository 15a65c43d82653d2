// A recording made during a live run replays, without privileges, to exactly
// the flows the live run produced.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/schema/flow.js';
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

describe('record and replay', () => {
  it('replays a live recording to exactly the live flows, unprivileged', async () => {
    const file = join(dir, 'capture.fsrec');
    const agent = await AgentProcess.start(['--record', file]);
    const plain = await Nginx.start();
    const tls = await Nginx.start({ tls: true });
    servers.push(plain, tls);
    await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', `${plain.url}/index.html`, `${plain.url}/status/404`, `${plain.url}/big.bin`]);
    await run('curl', ['-sk', '-o', '/dev/null', `${tls.url}/status/201?token=secret`]);
    await agent.waitForFlows('plaintext', plain.port, 6);
    await agent.waitForFlows('TLS', tls.port, 2);
    expect(await agent.stop()).toBe(0);
    // The final status still carries the kernel's loss counters, read before the loader closed.
    const stopped = (await waitFor('the final status log', () => agent.logs.find((l) => l.msg === 'stopped'))) as { engine: string; kernelLosses: Record<string, number> };
    expect(stopped.engine).toBe('libbpf');
    expect(stopped.kernelLosses).toMatchObject({ ringbuf_full: 0, conn_map_full: 0 });

    const { stdout, stderr } = await run(...unprivileged(process.execPath, [bin, 'replay', file]), { maxBuffer: 64 << 20 });
    const replayed = stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Flow);
    expect(replayed.length).toBeGreaterThanOrEqual(8);
    expect(replayed).toEqual(agent.flows);
    expect(stderr).toMatch(/records in \d+ batches/);
  });

  it('refuses a file that is not a recording, in one line', async () => {
    const r = await run(process.execPath, [bin, 'replay', bin]).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);
    expect((r as { stderr: string }).stderr).toMatch(/is not a flowscope recording/);
  });
});
