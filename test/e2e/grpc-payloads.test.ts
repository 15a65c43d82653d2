// End to end on the real kernel with gRPC options: payloads decoded to JSON with the
// .proto files given by --proto-path, and progress records for a long-lived stream
// (--grpc-progress-interval 1).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const FIXTURES = fileURLToPath(new URL('../fixtures/grpc/', import.meta.url));

let agent: AgentProcess;
const children: ChildProcess[] = [];

async function grpcServer(): Promise<number> {
  const port = await freePort();
  const child = spawn(PYTHON, [`${FIXTURES}grpc-calls.py`, 'server', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the gRPC server', () => out.includes('serving'));
  return port;
}

beforeAll(async () => {
  agent = await AgentProcess.start(['--proto-path', FIXTURES, '--grpc-progress-interval', '1']);
});

afterAll(async () => {
  for (const c of children) c.kill();
  const code = await agent?.stop();
  expect(code).toBe(0);
});

describe('gRPC payloads and progress records against the real kernel', () => {
  it('decodes request and response messages with the .proto, gzip included', async () => {
    const port = await grpcServer();
    await run(PYTHON, [`${FIXTURES}grpc-calls.py`, 'client', String(port), 'gzip']);
    const flows = await agent.waitForFlows('gRPC', port, 12);
    const server = (method: string) => flows.find((f) => f.observedAt === 'SERVER' && f.grpc?.method === method)!;
    const text = 'hello flowscope '.repeat(40);
    expect(server('Say').grpc!.requestPayloads).toEqual([JSON.stringify({ text, seq: 7 })]);
    expect(server('Say').grpc!.responsePayloads).toEqual([JSON.stringify({ text: `echo:${text}`, seq: 1 })]);
    expect(server('Collect').grpc!.requestPayloads).toEqual(['a', 'b', 'c'].map((t, i) => JSON.stringify({ text: t, seq: i + 1 })));
    expect(server('Count').grpc!.responsePayloads).toEqual([1, 2, 3].map((seq) => JSON.stringify({ text: 'count', seq })));
    expect(server('Fail').grpc!.responsePayloads).toBeUndefined();
  });

  it('reports a bidi stream open for ~2.5 s with progress records, then once as final', async () => {
    const port = await grpcServer();
    await run(PYTHON, [`${FIXTURES}grpc-calls.py`, 'client', String(port), 'slow']);
    await waitFor('the final flows', () => agent.flowsTo(port).filter((f) => !f.grpc?.inProgress).length === 2);
    const flows = agent.flowsTo(port).filter((f) => f.observedAt === 'SERVER');
    const progress = flows.filter((f) => f.grpc!.inProgress);
    const final = flows.filter((f) => !f.grpc!.inProgress);
    expect(final).toHaveLength(1);
    expect(final[0]!.grpc).toMatchObject({ service: 'demo.Notes', method: 'Chat', status: 0, requestMessages: 3, responseMessages: 3 });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(4);
    for (const p of progress) {
      expect(p.grpc).toMatchObject({ service: 'demo.Notes', method: 'Chat' });
      expect(p.grpc!.status).toBeUndefined();
      expect(p.grpc!.requestMessages).toBeLessThanOrEqual(3);
    }
    expect(progress.map((p) => p.grpc!.requestMessages)).toEqual([...progress.map((p) => p.grpc!.requestMessages)].sort());
  });
});
