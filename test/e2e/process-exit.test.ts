// A client that exits right after its last request: the kernel closes its
// socket without a close() syscall, so the agent ends the connection itself
// when it finds the process gone. When the agent runs behind, the last
// request's records are still queued at that moment; they must still become
// flows, not a connection restarted mid-stream.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentProcess } from '../helpers/agent-process.js';
import { Nginx } from '../helpers/nginx.mjs';

const PYTHON = '/usr/bin/python3';
/** Longer than the agent's housekeeping period (HOUSEKEEPING_MS in kernel-engine.ts). */
const PAUSE_MS = 2_500;

let agent: AgentProcess;
let nginx: Nginx;

beforeAll(async () => {
  nginx = await Nginx.start();
  agent = await AgentProcess.start();
});

afterAll(async () => {
  nginx?.stop();
  expect(await agent?.stop()).toBe(0);
});

it('reports the last requests of a client that exited while the agent was behind', async () => {
  const client = spawn(PYTHON, ['-u', '-c', `
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', ${nginx.port})
c.request('GET', '/status/201'); c.getresponse().read()
print('first done', flush=True)
sys.stdin.readline()
for i in range(3):
    c.request('GET', f'/index.html?last={i}'); c.getresponse().read()
print('done', flush=True)
`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => client.once('exit', resolve));
  // The agent has the connection open before it falls behind.
  await agent.waitForFlows('first', nginx.port, 2);
  process.kill(agent.pid, 'SIGSTOP');
  try {
    client.stdin.write('\n');
    await exited;
    expect(out).toContain('done');
    // Paused past a housekeeping period: when it resumes, the agent finds the
    // client gone with the last requests still in its ring buffer.
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
  const flows = await agent.waitForFlows('all', nginx.port, 8);
  const host = `127.0.0.1:${nginx.port}`;
  const seen = flows.map((f) => `${f.observedAt} ${f.http.method} ${f.http.path} ${f.http.host} ${f.http.status}${f.issues ? ` ${f.issues.join(',')}` : ''}`).sort();
  const expected = ['/status/201 201', '/index.html?last=0 200', '/index.html?last=1 200', '/index.html?last=2 200']
    .map((p) => `GET ${p.split(' ')[0]} ${host} ${p.split(' ')[1]}`);
  expect(seen).toEqual([...expected.map((e) => `CLIENT ${e}`), ...expected.map((e) => `SERVER ${e}`)].sort());
});
