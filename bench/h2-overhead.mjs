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
import { countServerFlows, duringLoad, lossSummary, startAgent, stopAgent } from './harness.mjs';

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

/**
 * Requests nginx answered, from its access log lines. Streams still open when h2load's
 * time is up are reset by it; nginx logs those as 499 (client closed request) and sends
 * no response, so they are not requests served.
 */
function answered(lines) {
  return lines.filter((l) => !/" 499 /.test(l)).length;
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
let abortedTotal = 0;
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
  const run = duringLoad(agent, () => h2load(url, SECONDS));
  cpu = Math.max(cpu, run.cpu);
  rss = Math.max(rss, run.peakRssMb);
  withAgent.push(run.result.rps);
  completed += run.result.succeeded;
  const servedNow = answered(nginx.accessLogLines().slice(logBefore));
  // Let the agent finish its backlog before it stops. Every request counts, answered or not:
  // a response whose SSL_write failed as h2load hung up gives a flow without a status.
  await waitFor('flows to settle', async () => (await countServerFlows(flowsFile, port, '"protocol":"HTTP2"')) >= servedNow || undefined, 10_000).catch(() => undefined);
  lastStatus = await stopAgent(agent);
  const logged = nginx.accessLogLines().slice(logBefore);
  served += answered(logged);
  abortedTotal += logged.length - answered(logged);
  reported += await countServerFlows(flowsFile, port, '"protocol":"HTTP2"', '"tls":true');
  rmSync(flowsFile);
}
nginx.stop();
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x) => `${(100 * x).toFixed(2)}%`;
console.log(`HTTP/2 TLS  without ${mean(without).toFixed(0)} req/s  with ${mean(withAgent).toFixed(0)} req/s  ratio ${(mean(withAgent) / mean(without)).toFixed(3)} (target ≥ 0.93)`);
console.log(`            flows reported / requests completed (h2load) ${reported}/${completed} = ${pct(reported / completed)}; / requests nginx answered ${reported}/${served} = ${pct(reported / served)} (target ≥ 99.9%; ${abortedTotal} more were reset by h2load at its time limit, logged 499)`);
console.log(`            ${lossSummary(lastStatus)}`);
console.log(`            agent at saturation: ${cpu.toFixed(2)} cores, peak RSS ${rss.toFixed(0)} MB`);
rmSync(work, { recursive: true, force: true });
