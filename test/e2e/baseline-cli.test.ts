// The real agent learns for a second, then a call it never saw raises
// NEW_EDGE; `flowscope accept` takes it into the baseline (closed, and the same
// call raises nothing more) and `flowscope relearn` resets a workload.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Anomaly } from '../../agent/schema/flow.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'flowscope-baseline-cli-'));
let agent: AgentProcess;
let nginx: Nginx;
let server: string;

async function anomalies(state: 'open' | 'closed'): Promise<Anomaly[]> {
  const res = await fetch(`${server}/v1/anomalies?state=${state}`);
  const body = (await res.json()) as Anomaly[] | { anomalies: Anomaly[] };
  return Array.isArray(body) ? body : body.anomalies;
}

beforeAll(async () => {
  const port = await freePort();
  server = `http://127.0.0.1:${port}`;
  agent = await AgentProcess.start(['--listen', `127.0.0.1:${port}`, '--learn-window', '1s', '--baseline-db', join(dir, 'baseline.db')]);
  nginx = await Nginx.start();
  await waitFor('the baseline to start detecting', () => agent.logs.some((l) => l.msg === 'baseline learnt; detecting'), 15_000);
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  nginx?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('flowscope accept and relearn', () => {
  it('accepts a NEW_EDGE anomaly into the baseline and relearns a workload', async () => {
    const toNginx = (a: Anomaly) => a.kind === 'NEW_EDGE' && a.destinationPort === nginx.port;
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html`]);
    const anomaly = await waitFor('NEW_EDGE for the first call to nginx', async () => (await anomalies('open')).find(toNginx), 15_000);

    const accepted = await run(process.execPath, [bin, 'accept', anomaly.id, '--server', server]);
    expect(accepted.stdout).toMatch(new RegExp(`^accepted ${anomaly.id}: it is part of the baseline now`));
    expect((await anomalies('closed')).some((a) => a.id === anomaly.id)).toBe(true);
    expect((await anomalies('open')).some(toNginx)).toBe(false);

    const unknown = await run(process.execPath, [bin, 'accept', 'no-such-id', '--server', server]).catch((e: { code: number; stderr: string }) => e);
    expect((unknown as { code: number }).code).toBe(1);
    expect((unknown as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);

    const relearn = await run(process.execPath, [bin, 'relearn', 'curl', '--server', server]);
    expect(relearn.stdout).toMatch(/^relearning curl: \d+ baseline edges? reset/);
  });
});
