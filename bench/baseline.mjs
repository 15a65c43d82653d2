#!/usr/bin/env node
// npm run bench:baseline — the baseline's cost per flow and its memory at the caps.
//   update: Baseline.lookup + record per flow (what the anomaly engine adds to
//           every flow before detectors), over 1,000 edges × 20 endpoints, then
//           the whole AnomalyEngine.observe per flow for comparison; target ≤ 2 µs.
//   memory: heap used by a baseline holding 10,000 edges and 100,000 endpoints,
//           each endpoint with traffic in 40 windows (full sketches and histories).
// Run after `npm run build:ts` (FLOWSCOPE_DIST=<dir> points at another build).
// Pass --quick for a short run that only checks the script works.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

const dist = process.env.FLOWSCOPE_DIST ? resolve(process.env.FLOWSCOPE_DIST) : resolve(import.meta.dirname, '../dist');
const load = (path) => import(pathToFileURL(resolve(dist, path)).href);
const { Baseline } = await load('agent/baseline/baseline.js');
const { AnomalyEngine } = await load('agent/detect/engine.js');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const quick = process.argv.includes('--quick');
const T0 = Date.parse('2026-11-23T10:00:00Z');

function flowFor(i, edges, endpointsPerEdge, timeMs) {
  const e = i % edges;
  const p = Math.floor(i / edges) % endpointsPerEdge;
  const flow = {
    time: new Date(timeMs).toISOString(),
    durationNs: String(1_000_000 + (i % 997) * 10_000),
    protocol: 'HTTP1',
    tls: (e & 1) === 1,
    observedAt: 'CLIENT',
    source: { ip: '198.18.0.2', port: 40000, workload: `client${e % 100}`, namespace: 'bench' },
    destination: { ip: '198.18.0.3', port: 8000 + Math.floor(e / 100), workload: `server${e % 37}`, namespace: 'bench' },
    http: { method: 'GET', path: `/api/r${p}/${i}`, status: i % 50 === 0 ? 503 : 200, requestBytes: '0', responseBytes: String(200 + (i % 5000)) },
    connId: '1:2:3',
  };
  const exchange = { protocol: 'HTTP1', request: { type: 'request', method: 'GET', target: flow.http.path, version: 'HTTP/1.1', headers: [['Authorization', 'Bearer x']] } };
  return { flow, exchange, endpoint: `GET /api/r${p}/{id}`, timeMs };
}

/** CPU µs per item of `run` (CPU time: other processes on a busy host do not inflate it) and wall µs. */
function timed(items, run) {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  run();
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / items, wallUs: ((performance.now() - wall0) * 1000) / items };
}

function measureUpdate() {
  const n = quick ? 50_000 : 400_000;
  const flows = Array.from({ length: n }, (_, i) => flowFor(i, 1000, 20, T0 + Math.floor(i / 20)));
  const baseline = new Baseline({ learnWindowMs: 3_600_000, now: () => T0 });
  const sample = { nowMs: 0, latencyMs: 0, responseBytes: 0, error: false };
  const feed = (f) => baseline.record(baseline.lookup(f.flow, f.endpoint, f.timeMs), Baseline.sampleOf(f.flow, f.exchange, f.timeMs, sample));
  // A warm-up pass creates the edges and endpoints and lets the JIT settle, so the timed pass measures the steady state.
  for (const f of flows) feed(f);
  // Reference in the same run: one Map counter per (source, destination, endpoint) string, the least a per-flow tally costs.
  const counts = new Map();
  const reference = timed(n, () => {
    for (const f of flows) {
      const key = `${f.flow.source.workload}|${f.flow.destination.workload}|${f.endpoint}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  });
  const update = timed(n, () => {
    for (const f of flows) feed(f);
  });
  const engine = new AnomalyEngine({ baseline: new Baseline({ learnWindowMs: 3_600_000, now: () => T0 }), now: () => T0 });
  for (const f of flows) engine.observe(f.flow, f.exchange);
  const observe = timed(n, () => {
    for (const f of flows) engine.observe(f.flow, f.exchange);
  });
  return { n, update, reference, observe, edges: baseline.edgeCount, endpoints: baseline.endpointCount };
}

function measureMemory() {
  const edges = quick ? 1000 : 10_000;
  const endpointsPerEdge = 10;
  const windows = quick ? 5 : 40;
  gc();
  const before = process.memoryUsage().heapUsed;
  const baseline = new Baseline({ learnWindowMs: 3_600_000, now: () => T0 });
  let i = 0;
  for (let w = 0; w < windows; w++) {
    for (let k = 0; k < edges * endpointsPerEdge; k++, i++) {
      const f = flowFor(k, edges, endpointsPerEdge, T0 + w * 10_000 + (k % 9000));
      f.flow.durationNs = String(1_000_000 + (i % 9973) * 1000);
      baseline.record(baseline.lookup(f.flow, f.endpoint, f.timeMs), Baseline.sampleOf(f.flow, f.exchange, f.timeMs));
    }
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  return { edges: baseline.edgeCount, endpoints: baseline.endpointCount, flows: i, heapMB: (after - before) / 1e6, keep: baseline };
}

const r = measureUpdate();
const us = (t) => `${t.cpuUs.toFixed(3)} µs CPU (${t.wallUs.toFixed(3)} µs wall)`;
console.log(`baseline update (lookup + sample + record): ${us(r.update)} per flow over ${r.n} flows, ${r.edges} edges, ${r.endpoints} endpoints; target ≤ 2 µs: ${r.update.cpuUs <= 2 ? 'met' : 'NOT met'}`);
console.log(`reference Map tally: ${us(r.reference)} per flow; baseline / reference ${(r.update.cpuUs / r.reference.cpuUs).toFixed(2)}`);
console.log(`anomaly engine observe (templating + baseline + detectors): ${us(r.observe)} per flow; engine / baseline ${(r.observe.cpuUs / r.update.cpuUs).toFixed(2)}`);
const memory = measureMemory();
console.log(`memory: ${memory.heapMB.toFixed(1)} MB heap used for ${memory.edges} edges and ${memory.endpoints} endpoints after ${memory.flows} flows (${((memory.heapMB * 1e6) / (memory.edges + memory.endpoints)).toFixed(0)} B per edge or endpoint)`);
