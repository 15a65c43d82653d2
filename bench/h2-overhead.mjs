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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Nginx } from '../test/helpers/nginx.mjs';
import { alternatingRounds, lossSummary } from './harness.mjs';

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
// nginx closes a connection after keepalive_requests (100,000 in the helper's
// config); h2load does not reconnect, so 10 connections would stop at 1M requests.
const nginx = await Nginx.start({ tls: true, locations: `listen 127.0.0.1:${port} ssl http2; keepalive_requests 1000000000;` });
const url = `https://127.0.0.1:${port}/index.html`;
console.log(`flowscope HTTP/2 over TLS overhead: h2load -c${CLIENTS} -m${STREAMS}, ${ROUNDS} alternating rounds of ${SECONDS}s, nginx 1 worker, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores\n`);
h2load(url, 2); // warm-up
// Every request counts, answered or not: a response whose SSL_write failed as h2load hung up
// gives a flow without a status.
const r = await alternatingRounds({ rounds: ROUNDS, nginx, port, work, load: () => h2load(url, SECONDS), needles: ['"protocol":"HTTP2"', '"tls":true'], answered });
const completed = r.results.reduce((n, x) => n + x.succeeded, 0);
nginx.stop();
const pct = (x) => `${(100 * x).toFixed(2)}%`;
console.log(`HTTP/2 TLS  without ${r.without.toFixed(0)} req/s  with ${r.with.toFixed(0)} req/s  ratio ${(r.with / r.without).toFixed(3)} (target ≥ 0.93)`);
console.log(`            flows reported / requests completed (h2load) ${r.reported}/${completed} = ${pct(r.reported / completed)}; / requests nginx answered ${r.reported}/${r.served} = ${pct(r.reported / r.served)} (target ≥ 99.9%; ${r.unanswered} more were reset by h2load at its time limit, logged 499)`);
console.log(`            ${lossSummary(r.lastStatus)}`);
console.log(`            agent at saturation: ${r.cpu.toFixed(2)} cores, peak RSS ${r.rss.toFixed(0)} MB`);
rmSync(work, { recursive: true, force: true });
