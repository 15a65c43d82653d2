#!/usr/bin/env node
// npm run bench:replay — pipeline throughput offline: records a few seconds of
// wrk → nginx traffic with the agent, then replays the recording at full speed
// (flows written as JSON lines to /dev/null) and prints records/s and flows/s.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Nginx } from '../test/helpers/nginx.mjs';
import { recordTraffic } from './harness.mjs';

const bin = fileURLToPath(new URL('../bin/flowscope.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-replay-'));
const file = join(dir, 'capture.fsrec');
const nginx = await Nginx.start();
await recordTraffic(file, () => execFileSync('wrk', ['-t1', '-c20', '-d3s', `${nginx.url}/index.html`]));
nginx.stop();
console.log(`recorded ${(statSync(file).size / 1e6).toFixed(1)} MB of wrk → nginx traffic`);
const results = [];
for (let i = 0; i < 3; i++) {
  const r = spawn(process.execPath, [bin, 'replay', file, '--flows-out', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let summary = '';
  r.stderr.on('data', (d) => (summary += d));
  await new Promise((res) => r.once('exit', res));
  const m = /(\d+) records in \d+ batches → (\d+) flows in ([\d.]+) s/.exec(summary);
  results.push({ records: Number(m[1]), flows: Number(m[2]), seconds: Number(m[3]) });
}
const best = results.reduce((a, b) => (a.seconds < b.seconds ? a : b));
console.log(`replay (best of 3): ${best.records} records → ${best.flows} flows in ${best.seconds.toFixed(2)} s = ${Math.round(best.records / best.seconds)} records/s, ${Math.round(best.flows / best.seconds)} flows/s (target ≥ 200,000 events/s)`);
rmSync(dir, { recursive: true, force: true });
