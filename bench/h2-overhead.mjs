#!/usr/bin/env node
// npm run bench:h2-overhead — what the agent costs nginx serving HTTP/2 over
// TLS at saturation (issue target: throughput with/without ≥ 0.93, flows
// reported / requests completed ≥ 99.9%).
//
// h2load drives nginx (TLS, ALPN h2) for a fixed time, alternately without and
// with the agent, in one run. Both ends use the system OpenSSL, so the agent
// sees the plaintext of both (one CLIENT and one SERVER flow per request); the
// SERVER flows are compared with nginx's access log. Loopback only; stops by
// itself. Prints ratios; asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Nginx } from '../test/helpers/nginx.mjs';
import { waitFor } from '../test/helpers/wait.mjs';
import { CLK_TCK, countServerFlows, cpuTicks, lossSummary, rssMb, startAgent, stopAgent } from './harness.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 10);
const work = mkdtempSync(join(tmpdir(), 'flowscope-bench-h2-'));

function h2load(url, seconds) {
  const out = execFileSync('h2load', ['-D', String(seconds), '-c', String(CLIENTS), '-m', String(STREAMS), url], { encoding: 'utf8' });
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)[1]);
  const succeeded = Number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out)[1]);
  if (!/application protocol: h2/i.test(out)) throw new Error(`h2load did not negotiate h2:\n${out}`);
  return { rps, succeeded };
}

const port = await freePort();
const nginx = await Nginx.start({ tls: true, locations: `listen 127.0.0.1:${port} ssl http2;` });
const url = `https://127.0.0.1:${port}/index.html`;
console.log(`flowscope HTTP/2 over TLS overhead: h2load -c${CLIENTS} -m${STREAMS}, ${ROUNDS} alternating rounds of ${SECONDS}s, nginx 1 worker, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores\n`);
h2load(url, 2); // warm-up
const without = [];
const withAgent = [];
let completed = 0;
let served = 0;
let reported = 0;
let cpu = 0;
let rss = 0;
let lastStatus;
for (let round = 0; round < ROUNDS; round++) {
  without.push(h2load(url, SECONDS).rps);
  const flowsFile = join(work, `flows-${round}.jsonl`);
  writeFileSync(flowsFile, '');
  const agent = await startAgent(flowsFile);
  const logBefore = nginx.accessLogLines().length;
  const ticks0 = cpuTicks(agent.child.pid);
  const t0 = process.hrtime.bigint();
  const r = h2load(url, SECONDS);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  cpu = Math.max(cpu, (cpuTicks(agent.child.pid) - ticks0) / CLK_TCK / elapsed);
  rss = Math.max(rss, rssMb(agent.child.pid, 'VmHWM'));
  withAgent.push(r.rps);
  completed += r.succeeded;
  const servedNow = nginx.accessLogLines().length - logBefore;
  // Let the agent finish its backlog before it stops.
  await waitFor('flows to settle', async () => (await countServerFlows(flowsFile, port, '"protocol":"HTTP2"')) >= servedNow || undefined, 10_000).catch(() => undefined);
  lastStatus = await stopAgent(agent);
  served += nginx.accessLogLines().length - logBefore;
  reported += await countServerFlows(flowsFile, port, '"protocol":"HTTP2"', '"tls":true');
  rmSync(flowsFile);
}
nginx.stop();
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x) => `${(100 * x).toFixed(2)}%`;
console.log(`HTTP/2 TLS  without ${mean(without).toFixed(0)} req/s  with ${mean(withAgent).toFixed(0)} req/s  ratio ${(mean(withAgent) / mean(without)).toFixed(3)} (target ≥ 0.93)`);
console.log(`            flows reported / requests completed (h2load) ${reported}/${completed} = ${pct(reported / completed)}; / requests nginx logged ${reported}/${served} = ${pct(reported / served)} (target ≥ 99.9%)`);
console.log(`            ${lossSummary(lastStatus)}`);
console.log(`            agent at saturation: ${cpu.toFixed(2)} cores, peak RSS ${rss.toFixed(0)} MB`);
rmSync(work, { recursive: true, force: true });
