#!/usr/bin/env node
// npm run bench:overhead — what the agent costs a busy HTTP server, measured
// side by side in one run.
//
// nginx serves a small response over HTTP/1.1 keep-alive; wrk drives it at
// saturation for a fixed time, alternately without and with the agent
// (plaintext, then TLS). The "floor" part alternates without and with the
// kernel side of capture alone (bench/capture-only.mjs: the agent's programs
// and probes, batches thrown away), the cost no user-space work can win back.
// Then a rate-limited wrk (~10,000 req/s) measures the
// agent's CPU and RSS at a fixed load, after a warm-up at that rate.
// Everything stays on loopback and stops by itself. Prints ratios; asserts
// nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nginx } from '../test/helpers/nginx.mjs';
import { alternatingRounds, duringLoad, lossSummary, startAgent, startCaptureOnly, stopAgent } from './harness.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_SECONDS = 5;
const work = mkdtempSync(join(tmpdir(), 'flowscope-bench-'));

function wrk(url, seconds, extra = [], connections = CONNECTIONS) {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...extra, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const total = Number(/(\d+) requests in/.exec(out)[1]);
  return { rps, total };
}

async function saturation(tls) {
  const nginx = await Nginx.start({ tls });
  const url = `${nginx.url}/index.html`;
  wrk(url, 2); // warm-up
  // Every request nginx logged was answered: count the flows that carry a response status.
  const r = await alternatingRounds({ rounds: ROUNDS, nginx, work, load: () => wrk(url, SECONDS), needles: ['"status":'] });
  nginx.stop();
  return r;
}

/** The same saturation with only the kernel side of capture running. */
async function kernelFloor(tls) {
  const nginx = await Nginx.start({ tls });
  const url = `${nginx.url}/index.html`;
  wrk(url, 2); // warm-up
  let without = 0;
  let withCapture = 0;
  let cpu = 0;
  let stopped;
  for (let round = 0; round < ROUNDS; round++) {
    without += wrk(url, SECONDS).rps / ROUNDS;
    const capture = await startCaptureOnly();
    const run = duringLoad(capture, () => wrk(url, SECONDS));
    withCapture += run.result.rps / ROUNDS;
    cpu = Math.max(cpu, run.cpu);
    stopped = await stopAgent(capture);
  }
  nginx.stop();
  return { without, with: withCapture, cpu, stopped };
}

async function fixedRate(targetRps) {
  const nginx = await Nginx.start();
  // wrk's delay() (whole milliseconds) paces each connection; calibrate the
  // connection count (without the agent) until the total is about targetRps.
  const script = join(work, 'pace.lua');
  const delayMs = 10;
  writeFileSync(script, `function delay() return ${delayMs} end\n`);
  let connections = Math.round(targetRps / (1000 / delayMs));
  for (let i = 0; i < 4; i++) {
    const { rps } = wrk(`${nginx.url}/index.html`, 2, ['-s', script], connections);
    if (Math.abs(rps - targetRps) / targetRps < 0.03) break;
    connections = Math.round((connections * targetRps) / rps);
  }
  const flowsFile = join(work, 'flows-fixed.jsonl');
  const agent = await startAgent(flowsFile);
  // The agent compiles its code under the first load (0.72 cores over the
  // first half second of a cold agent, 0.26 once warm): warm it at the same
  // rate, then measure a fresh wrk (a new process, new connections) against
  // the agent as it runs for good.
  wrk(`${nginx.url}/index.html`, WARMUP_SECONDS, ['-s', script], connections);
  const run = duringLoad(agent, () => wrk(`${nginx.url}/index.html`, SECONDS * 2, ['-s', script], connections));
  await stopAgent(agent);
  nginx.stop();
  return { ...run, rps: run.result.rps };
}

const pct = (x) => `${(100 * x).toFixed(2)}%`;
console.log(`flowscope overhead: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} alternating rounds of ${SECONDS}s, nginx 1 worker, ${process.env.CI ? 'CI' : 'local'} host with ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores\n`);
// BENCH_PARTS=plaintext,tls,floor,fixed (the default: all four) runs a subset.
const parts = new Set((process.env.BENCH_PARTS ?? 'plaintext,tls,floor,fixed').split(','));
for (const tls of [false, true]) {
  if (!parts.has(tls ? 'tls' : 'plaintext')) continue;
  const r = await saturation(tls);
  console.log(`${tls ? 'TLS      ' : 'plaintext'}  without ${r.without.toFixed(0)} req/s  with ${r.with.toFixed(0)} req/s  ratio ${(r.with / r.without).toFixed(3)} (target ≥ ${tls ? '0.93' : '0.95'})`);
  console.log(`           flows reported / requests served ${r.reported}/${r.served} = ${pct(r.reported / r.served)} (target ≥ 99.9%); ${lossSummary(r.lastStatus)}`);
  console.log(`           agent at saturation: ${r.cpu.toFixed(2)} cores, peak RSS ${r.rss.toFixed(0)} MB`);
}
for (const tls of parts.has('floor') ? [false, true] : []) {
  const r = await kernelFloor(tls);
  const losses = Object.entries(r.stopped?.kernelLosses ?? {}).filter(([, v]) => v > 0);
  console.log(`${tls ? 'TLS      ' : 'plaintext'}  kernel side only: without ${r.without.toFixed(0)} req/s  with ${r.with.toFixed(0)} req/s  ratio ${(r.with / r.without).toFixed(3)} (the best any user space could do)`);
  console.log(`           drained ${((r.stopped?.bytes ?? 0) / 2 ** 20).toFixed(0)} MiB in ${r.stopped?.batches ?? 0} batches in the last round and thrown away; capture process ${r.cpu.toFixed(2)} cores at most; kernel losses ${JSON.stringify(Object.fromEntries(losses))}`);
}
if (parts.has('fixed')) {
  const fixed = await fixedRate(10_000);
  console.log(`fixed load ${fixed.rps.toFixed(0)} req/s (after ${WARMUP_SECONDS} s at that rate): agent ${fixed.cpu.toFixed(3)} cores (user ${fixed.user.toFixed(3)}, system ${fixed.system.toFixed(3)}; target ≤ 0.15), RSS ${fixed.rssMb.toFixed(0)} MB at the end of the load, peak ${fixed.peakRssMb.toFixed(0)} MB (target ≤ 150)`);
}
rmSync(work, { recursive: true, force: true });
