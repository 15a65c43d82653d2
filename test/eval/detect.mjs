#!/usr/bin/env node
// npm run eval:detect — the detection scenario. Builds a lab of services in
// network namespaces (198.18.10.0/24), runs normal traffic through a learn
// window, checks that a normal-only detect phase raises nothing, then injects
// each attack with real tools and reports, per kind: injected, detected and
// time to detect. Exit code 0 only when every attack was detected within the
// target and the normal phase raised no anomaly.
//
//   node test/eval/detect.mjs [--quick] [--learn SECONDS] [--normal SECONDS] [--json FILE]
import { spawn, spawnSync as runSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitFor } from '../helpers/wait.mjs';
import { apiModeSetter, attacks } from './attacks.mjs';
import { Lab } from './lab.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));
const DETECT_TARGET_MS = 10_000;

export async function runScenario({ learnSeconds, normalSeconds, log = console.error }) {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-eval-'));
  chmodSync(dir, 0o755);
  const lab = Lab.create();
  let agent;
  try {
    for (const [name, index] of [['web', 1], ['api', 2], ['inventory', 3], ['frontend', 4], ['attacker', 9]]) lab.addHost(name, index);
    const apiMode = apiModeSetter(dir);
    lab.spawn('api', process.execPath, [join(here, 'services/api.mjs'), '198.18.10.2', '8080', apiMode.file]);
    lab.spawn('inventory', '/usr/bin/python3', [join(here, 'services/inventory_server.py'), '198.18.10.3', '50051']);
    startNginx(lab, dir);
    await waitFor('the lab services', async () => (await lab.run('frontend', 'curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', 'https://198.18.10.1:8443/api/health'])).stdout === '200', 30_000);

    const anomaliesPath = join(dir, 'anomalies.jsonl');
    agent = await startAgent(dir, anomaliesPath, learnSeconds);
    log(`eval: agent started; learning for ${learnSeconds} s`);
    lab.spawn('frontend', '/usr/bin/python3', [join(here, 'services/traffic.py'), '198.18.10.1', '8443', '198.18.10.3:50051']);
    await waitFor('the baseline to switch to detect mode', () => agent.detecting(), (learnSeconds + 60) * 1000, 500);

    const readAnomalies = anomalyReader(anomaliesPath);
    log(`eval: normal-only detect phase for ${normalSeconds} s`);
    const normalEnd = Date.now() + normalSeconds * 1000;
    await waitFor('the normal-only phase to end', () => Date.now() >= normalEnd, normalSeconds * 1000 + 5000, 1000);
    const falsePositives = readAnomalies().filter((a) => a.state === 'OPEN');

    const results = [];
    for (const attack of attacks) {
      readAnomalies(); // Start clean: only what this attack raises counts.
      const seen = [];
      const detected = () => {
        seen.push(...readAnomalies());
        return seen.find((a) => a.kind === attack.kind);
      };
      const start = Date.now();
      log(`eval: ${attack.kind}: ${attack.what}`);
      await attack.run({
        lab, dir, setApiMode: apiMode.set,
        until: (ms) => waitFor(attack.kind, () => detected() !== undefined || Date.now() - start >= ms, ms + 1000, 100),
      });
      let anomaly;
      try {
        anomaly = await waitFor(`${attack.kind} to be detected`, detected, Math.max(0, DETECT_TARGET_MS * 2 - (Date.now() - start)), 100);
      } catch {
        anomaly = undefined;
      }
      const ms = anomaly ? Date.now() - start : undefined;
      results.push({ kind: attack.kind, what: attack.what, injected: 1, detected: anomaly ? 1 : 0, timeToDetectMs: ms, summary: anomaly?.summary });
      apiMode.set('normal');
    }
    return { learnSeconds, normalSeconds, results, falsePositives };
  } finally {
    await agent?.stop();
    await lab.close();
    // FLOWSCOPE_EVAL_KEEP=1 keeps the agent's flows, anomalies and logs for a look.
    if (process.env.FLOWSCOPE_EVAL_KEEP) log(`eval: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function startNginx(lab, dir) {
  const web = join(dir, 'web');
  mkdirSync(join(web, 'logs'), { recursive: true });
  mkdirSync(join(web, 'html'), { recursive: true });
  writeFileSync(join(web, 'html', 'index.html'), 'shop\n');
  spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=web',
    '-keyout', join(web, 'key.pem'), '-out', join(web, 'cert.pem')]);
  writeFileSync(join(web, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${web}/nginx.pid;
error_log ${web}/logs/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${web}/body; proxy_temp_path ${web}/proxy; fastcgi_temp_path ${web}/fcgi;
  uwsgi_temp_path ${web}/uwsgi; scgi_temp_path ${web}/scgi;
  upstream api { server 198.18.10.2:8080; keepalive 8; }
  server {
    listen 198.18.10.1:8443 ssl;
    ssl_certificate ${web}/cert.pem; ssl_certificate_key ${web}/key.pem;
    root ${web}/html;
    location /api/ { proxy_pass http://api/; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}`);
  lab.spawn('web', 'nginx', ['-c', join(web, 'nginx.conf'), '-p', web]);
}

function spawnSync(command, args) {
  const r = runSync(command, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${command} failed`);
}

async function startAgent(dir, anomaliesPath, learnSeconds) {
  const config = join(dir, 'flowscope.yaml');
  writeFileSync(config, `
capture:
  maxBodyBytes: 4096
identity:
  namingRules:
    - { match: { cgroup: "/flowscope-eval/web$" }, workload: web }
    - { match: { cgroup: "/flowscope-eval/api$" }, workload: api }
    - { match: { cgroup: "/flowscope-eval/inventory$" }, workload: inventory }
    - { match: { cgroup: "/flowscope-eval/frontend$" }, workload: frontend }
    - { match: { cgroup: "/flowscope-eval/attacker$" }, workload: attacker }
    - { match: { cidr: "198.18.10.9/32" }, workload: attacker }
baseline:
  dbPath: ${join(dir, 'baseline.db')}
  learnWindow: ${learnSeconds}s
outputs:
  anomaliesOut: ${anomaliesPath}
  flowsOut: ${process.env.FLOWSCOPE_EVAL_KEEP ? join(dir, 'flows.jsonl') : '""'}
`);
  const child = spawn(process.execPath, [bin, 'agent', '--config', config, '--listen', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let detecting = false;
  let started = false;
  child.stderr.on('data', (d) => {
    if (process.env.FLOWSCOPE_EVAL_KEEP) appendFileSync(join(dir, 'agent.log'), d);
    stderr = (stderr + d.toString()).slice(-20_000);
    if (stderr.includes('"capture started"')) started = true;
    if (stderr.includes('"baseline learnt; detecting"')) detecting = true;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor('the agent to start', () => {
    if (child.exitCode !== null) throw new Error(`agent exited: ${stderr}`);
    return started;
  }, 30_000);
  return {
    detecting: () => detecting,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Returns a function giving the anomaly records about the lab appended since
 * its last call. The agent watches the whole host: what other processes on it
 * do (a test runner polling an agent, say) is not part of the scenario.
 */
function anomalyReader(path) {
  const inLab = (a) => [a.source?.ip, a.destination?.ip].some((ip) => typeof ip === 'string' && ip.startsWith('198.18.10.'));
  const read = allAnomalies(path);
  return () => read().filter(inLab);
}

function allAnomalies(path) {
  let offset = 0;
  let partial = '';
  return () => {
    if (!existsSync(path)) return [];
    const text = readFileSync(path).subarray(offset).toString('utf8');
    offset += Buffer.byteLength(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  };
}

export function formatReport({ results, falsePositives, learnSeconds, normalSeconds }) {
  const rows = results.map((r) =>
    `${r.kind.padEnd(20)} ${String(r.injected).padStart(8)} ${String(r.detected).padStart(8)} ${(r.timeToDetectMs === undefined ? '-' : `${(r.timeToDetectMs / 1000).toFixed(1)} s`).padStart(14)}`);
  const fpByKind = new Map();
  for (const a of falsePositives) fpByKind.set(a.kind, (fpByKind.get(a.kind) ?? 0) + 1);
  return [
    `flowscope detection scenario: learn ${learnSeconds} s, normal-only detect phase ${normalSeconds} s`,
    '',
    `${'kind'.padEnd(20)} ${'injected'.padStart(8)} ${'detected'.padStart(8)} ${'time to detect'.padStart(14)}`,
    ...rows,
    '',
    `false positives during the normal-only phase: ${falsePositives.length}${fpByKind.size ? ` (${[...fpByKind].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
    ...falsePositives.slice(0, 10).map((a) => `  ${a.kind}: ${a.summary}`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, learn: { type: 'string' }, normal: { type: 'string' }, json: { type: 'string' } } });
  const learnSeconds = Number(values.learn ?? (values.quick ? 120 : 300));
  const normalSeconds = Number(values.normal ?? (values.quick ? 60 : 600));
  const report = await runScenario({ learnSeconds, normalSeconds });
  console.log(formatReport(report));
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
  const ok = report.falsePositives.length === 0 && report.results.every((r) => r.detected && r.timeToDetectMs <= DETECT_TARGET_MS);
  process.exitCode = ok ? 0 : 1;
}
