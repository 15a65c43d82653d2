#!/usr/bin/env node
// npm run bench:tls-overhead — what TLS plaintext capture costs a busy Node.js
// https server and a Go crypto/tls server, measured side by side in one run.
//
// Each server answers GET /hello/bench over HTTPS keep-alive; wrk drives it at
// saturation, alternately without and with the agent. With the agent, the
// server's flows are counted to show the plaintext really was captured.
// Everything stays on loopback and stops by itself. Prints ratios; asserts
// nothing. Env: BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CONNECTIONS (50).
// Pass --quick for a short run that only checks the script works.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/nginx.mjs';
import { waitFor } from '../test/helpers/wait.mjs';
import { countServerFlows, startAgent, stopAgent } from './harness.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 10));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const fixtures = fileURLToPath(new URL('../test/fixtures/tls/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'flowscope-tls-bench-'));
const NODE = realpathSync(process.execPath);

function wrk(url, seconds) {
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
}

function certificate() {
  const cert = join(work, 'cert.pem');
  const key = join(work, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function buildGoServer() {
  const out = join(work, 'go-server');
  execFileSync('go', ['build', '-o', out, join(fixtures, 'go-server', 'main.go')], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GOCACHE: join(work, 'gocache'), GOPATH: join(work, 'gopath'), GO111MODULE: 'off', GOPROXY: 'off', GOFLAGS: '' },
  });
  return out;
}

async function startServer(cmd, args, port) {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  await waitFor(`server on ${port}`, () => {
    if (child.exitCode !== null) throw new Error(`${cmd} exited with ${child.exitCode}`);
    try {
      execFileSync('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/hello/up`]);
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  return child;
}

async function measure(name, cmd, args, port, probedPath) {
  const server = await startServer(cmd, args, port);
  const url = `https://127.0.0.1:${port}/hello/bench`;
  wrk(url, quick ? 1 : 2); // warm-up
  const without = [];
  const withAgent = [];
  let flows = 0;
  for (let round = 0; round < ROUNDS; round++) {
    without.push(wrk(url, SECONDS));
    const flowsFile = join(work, `flows-${name}-${round}.jsonl`);
    writeFileSync(flowsFile, '');
    // Ready once it has probed the server's binary: only then is its TLS captured.
    const agent = await startAgent(flowsFile, (l) => l.includes('"TLS binary probed"') && l.includes(probedPath));
    withAgent.push(wrk(url, SECONDS));
    await stopAgent(agent);
    flows += await countServerFlows(flowsFile, port, '"tls":true');
  }
  server.kill();
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { without: mean(without), with: mean(withAgent), flows };
}

console.log(`flowscope TLS overhead: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} alternating rounds of ${SECONDS}s, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, node ${process.version}, ${execFileSync('go', ['version'], { encoding: 'utf8' }).trim()}\n`);
const { cert, key } = certificate();
const goServer = buildGoServer();
const nodePort = await freePort();
const goPort = await freePort();
const results = [
  ['Node.js https', await measure('node', NODE, [join(fixtures, 'node-server.mjs'), 'https', String(nodePort), cert, key], nodePort, NODE)],
  ['Go crypto/tls', await measure('go', goServer, [`127.0.0.1:${goPort}`, cert, key], goPort, goServer)],
];
for (const [name, r] of results) {
  console.log(`${name.padEnd(14)} without ${r.without.toFixed(0)} req/s  with ${r.with.toFixed(0)} req/s  ratio ${(r.with / r.without).toFixed(3)} (target ≥ 0.93); TLS server flows captured ${r.flows}`);
}
rmSync(work, { recursive: true, force: true });
