#!/usr/bin/env node
// npm run bench:startup — agent start to first flow: the time from spawning
// `flowscope agent` to its first flow line, while curl calls a local nginx
// every 50 ms. Prints the figure for each of --rounds runs (target ≤ 3 s).
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Nginx } from '../test/helpers/nginx.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const bin = fileURLToPath(new URL('../bin/flowscope.js', import.meta.url));
const nginx = await Nginx.start();
const results = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const started = process.hrtime.bigint();
  const agent = spawn(process.execPath, [bin, 'agent', '--flows-out', '-', '--listen', 'off', '--baseline-db', `/tmp/flowscope-startup-${process.pid}.db`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const traffic = setInterval(() => execFile('curl', ['-s', '-o', '/dev/null', `${nginx.url}/index.html`], () => {}), 50);
  const ms = await new Promise((resolve) => {
    createInterface({ input: agent.stdout }).once('line', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
  });
  clearInterval(traffic);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  results.push(ms);
  console.log(`round ${round + 1}: first flow ${ms.toFixed(0)} ms after start`);
}
nginx.stop();
results.sort((a, b) => a - b);
console.log(`agent start to first flow: median ${results[Math.floor(results.length / 2)].toFixed(0)} ms, worst ${results.at(-1).toFixed(0)} ms (target ≤ 3000 ms)`);
