#!/usr/bin/env node
// npm run bench:flow-cost [-- RECORDING] — what each stage of the agent costs per
// flow, measured in one process on the same recorded traffic: decoding and flow
// assembly alone, then with JSON-lines output, then with RED metrics and the
// default detection stack (baseline, anomaly engine, every detector), as the
// agent runs them. Stages alternate over BENCH_ROUNDS rounds and the best round
// of each is printed, so a busy machine inflates nothing but the spread.
//
// Without a recording argument it records one itself: wrk paced at ~10,000
// req/s against nginx for a few seconds (needs root, like the agent).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import promClient from 'prom-client';
import { Nginx } from '../test/helpers/nginx.mjs';
import { recordTraffic } from './harness.mjs';

const dist = (p) => new URL(`../dist/agent/${p}`, import.meta.url).href;
const { Pipeline } = await import(dist('pipeline.js'));
const { RecordReader } = await import(dist('capture/record-reader.js'));
const { RecordingReader } = await import(dist('capture/recording.js'));
const { JsonLinesWriter } = await import(dist('output/jsonl-writer.js'));
const { flowJsonBytes } = await import(dist('output/flow-json.js'));
const { RedMetrics } = await import(dist('metrics/red-metrics.js'));
const { detectionFromConfig } = await import(dist('detect/from-config.js'));
const { loadConfigOrThrow } = await import(dist('config/load-config.js'));

/** As agent/agent.ts: the body prefix kept for the content detectors. */
const DETECTOR_BODY_BYTES = 4096;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const work = mkdtempSync(join(tmpdir(), 'flowscope-flow-cost-'));

async function record() {
  const file = join(work, 'fixed.fsrec');
  const nginx = await Nginx.start();
  const pace = join(work, 'pace.lua');
  writeFileSync(pace, 'function delay() return 10 end\n'); // 100 connections × 100 req/s
  await recordTraffic(file, () => execFileSync('wrk', ['-t1', '-c100', '-d5s', '-s', pace, `${nginx.url}/index.html`]));
  nginx.stop();
  return file;
}

const path = process.argv[2] ?? (await record());
const config = await loadConfigOrThrow({ env: {}, flags: {} });
const recording = new RecordingReader(path);
const { header } = recording;
// The reader reuses one buffer: copy each batch as it comes.
const batches = [];
for (const b of recording.batches()) batches.push({ batch: Buffer.from(b.batch.subarray(0, b.length)), length: b.length, wallMs: b.wallMs });

/** One pass over the recording with the listeners a stage adds; returns flows and seconds. */
async function pass(stage) {
  const pipeline = new Pipeline({
    wallMinusMonoNs: header.wallMinusMonoNs,
    redactionKey: header.redactionKey,
    // The agent keeps a body prefix for the content detectors.
    maxBodyCapture: stage.detect ? DETECTOR_BODY_BYTES : 0,
  });
  const out = stage.output ? new JsonLinesWriter('/dev/null', () => {}) : undefined;
  const red = stage.red ? new RedMetrics(new promClient.Registry(), { endpointLabels: config.metrics.redEndpointLabels, maxSeries: config.metrics.maxSeries }) : undefined;
  // The baseline's learn window starts at the recording's start, as a starting agent's does at its own.
  let nowMs = batches[0]?.wallMs ?? 0;
  const detect = stage.detect ? detectionFromConfig(config, { now: () => nowMs }) : undefined;
  if (out) pipeline.onFlow((flow) => out.writeJson(flowJsonBytes(flow)));
  if (red) pipeline.onFlow((flow) => red.observe(flow));
  if (detect) {
    pipeline.onFlow(detect.detection.onFlow);
    pipeline.onConnection((r) => detect.observeConnection(r));
    pipeline.onTick(() => detect.detection.onTick());
  }
  const reader = new RecordReader();
  const t0 = process.hrtime.bigint();
  for (const { batch, length, wallMs } of batches) {
    nowMs = wallMs;
    pipeline.handleBatch(reader, batch, length, wallMs);
    if (out) {
      out.flush();
      // The agent awaits the kernel between batches: the file stream writes and hands its buffers back.
      await new Promise(setImmediate);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  detect?.detection.close();
  void out?.close();
  return { flows: Object.values(pipeline.counters.flows).reduce((a, b) => a + b, 0), seconds };
}

const stages = [
  { name: 'decode + flow assembly', output: false, red: false, detect: false },
  { name: '+ JSON-lines output', output: true, red: false, detect: false },
  { name: '+ RED metrics', output: true, red: true, detect: false },
  { name: '+ detection (default config)', output: true, red: true, detect: true },
];
const best = stages.map(() => Infinity);
let flows = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, stage] of stages.entries()) {
    const r = await pass(stage);
    flows = r.flows;
    best[i] = Math.min(best[i], r.seconds);
  }
}
const us = (s) => (1e6 * s) / flows;
console.log(`flowscope per-flow cost: ${flows} flows from ${path}, best of ${ROUNDS} alternating rounds`);
stages.forEach((stage, i) => {
  const added = i === 0 ? '' : `  (stage adds ${(us(best[i]) - us(best[i - 1])).toFixed(2)} µs)`;
  console.log(`  ${stage.name.padEnd(28)} ${us(best[i]).toFixed(2)} µs/flow${added}`);
});
// At 10,000 req/s with both ends on this host, the agent reports 20,000 flows/s.
console.log(`  at 20,000 flows/s the full stack is ${((us(best[stages.length - 1]) * 20_000) / 1e6).toFixed(3)} cores of JavaScript, before the event loop and kernel costs of a live agent`);
if (!process.argv[2]) rmSync(work, { recursive: true, force: true });
