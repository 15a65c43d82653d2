// Shared by the overhead benchmarks: start and stop a real agent writing flows
// to a file, count the server-side flows it reported, read a process's CPU and
// memory from /proc, and alternate runs without and with the agent.
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../test/helpers/wait.mjs';

const bin = fileURLToPath(new URL('../bin/flowscope.js', import.meta.url));
const captureOnly = fileURLToPath(new URL('./capture-only.mjs', import.meta.url));
const CLK_TCK = 100;

/**
 * Starts `flowscope agent --flows-out flowsFile` with its HTTP port on a free
 * loopback port (the stream history is part of the cost), ready once a log
 * line passes `ready` (default: capture started). Refuses a bpftrace fallback:
 * the figures are about the libbpf engine. BENCH_AGENT_ARGS adds agent flags
 * (e.g. --config FILE) and BENCH_AGENT_NODE_FLAGS node flags (e.g. --cpu-prof).
 */
export async function startAgent(flowsFile, ready = (line) => line.includes('"capture started"')) {
  const nodeFlags = (process.env.BENCH_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const agentArgs = (process.env.BENCH_AGENT_ARGS ?? '').split(' ').filter(Boolean);
  return startCapturing([...nodeFlags, bin, 'agent', '--flows-out', flowsFile, '--listen', '127.0.0.1:0', ...agentArgs], ready);
}

/** Starts bench/capture-only.mjs: the agent's kernel side, every batch thrown away. */
export function startCaptureOnly() {
  return startCapturing([captureOnly], (line) => line.includes('"capture started"'));
}

/** Runs `node args` until it logs `ready` and which capture engine it runs (libbpf only). */
async function startCapturing(args, ready) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  // A benchmark that dies mid-run must not leave its agent tracing the host.
  const killAtExit = () => child.kill('SIGKILL');
  process.on('exit', killAtExit);
  child.once('exit', () => process.off('exit', killAtExit));
  let stderr = '';
  let engine;
  let isReady = false;
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr += `${l}\n`;
    if (l.includes('"capture started"')) engine = JSON.parse(l).engine;
    if (ready(l)) isReady = true;
  });
  await waitFor('agent start', () => {
    if (child.exitCode !== null) throw new Error(`agent exited: ${stderr}`);
    return isReady && engine !== undefined;
  }, 30_000);
  if (engine !== 'libbpf') {
    child.kill('SIGKILL');
    throw new Error(`agent runs the ${engine} engine, not libbpf: ${stderr}`);
  }
  return { child, stderrText: () => stderr };
}

/**
 * Saves `load()` (synchronous: a load generator run to its end) as seen by
 * `flowscope record --out file`, for the offline benchmarks.
 */
export async function recordTraffic(file, load) {
  const recorder = spawn(process.execPath, [bin, 'record', '--out', file, '--listen', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  recorder.stderr.on('data', (d) => (log += d));
  await waitFor('recorder start', () => {
    if (recorder.exitCode !== null) throw new Error(`flowscope record exited: ${log}`);
    return log.includes('capture started');
  }, 30_000);
  load();
  recorder.kill('SIGTERM');
  await new Promise((r) => recorder.once('exit', r));
}

/** Stops the agent; returns its final "stopped" status line (counters), if it logged one. */
export async function stopAgent(agent) {
  agent.child.kill('SIGTERM');
  await new Promise((r) => agent.child.once('exit', r));
  const stopped = agent.stderrText().split('\n').filter((l) => l.includes('"stopped"')).pop();
  return stopped ? JSON.parse(stopped) : undefined;
}

/** Server-side flows to `port` whose JSON line holds every needle given. */
export async function countServerFlows(file, port, ...needles) {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (line.includes('"observedAt":"SERVER"') && line.includes(`"port":${port},`) && needles.every((s) => line.includes(s))) n++;
  }
  return n;
}

/** User and system CPU of a process so far, in ticks. */
function cpuSplit(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/**
 * Runs `load()` (synchronous: a load generator run to its end) while the agent
 * runs, and returns its result with the agent's CPU over that time in cores
 * (user, system and both) and its memory at the end (resident and peak, MB).
 */
export function duringLoad(agent, load) {
  const pid = agent.child.pid;
  const before = cpuSplit(pid);
  const t0 = process.hrtime.bigint();
  const result = load();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = cpuSplit(pid);
  const user = (after.user - before.user) / CLK_TCK / seconds;
  const system = (after.system - before.system) / CLK_TCK / seconds;
  return { result, cpu: user + system, user, system, rssMb: rssMb(pid), peakRssMb: rssMb(pid, 'VmHWM') };
}

/** A memory figure of /proc/PID/status in MB (VmRSS by default; VmHWM is the peak). */
function rssMb(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The agent's final status as one line: kernel losses, stream gaps, decode errors. */
export function lossSummary(stopped) {
  if (!stopped) return 'agent status unavailable';
  const losses = Object.entries(stopped.kernelLosses ?? {}).filter(([, v]) => v > 0);
  const c = stopped.conntrack ?? {};
  return `kernel losses ${JSON.stringify(Object.fromEntries(losses))}, stream gaps ${c.gaps ?? 0}, decode errors ${JSON.stringify(stopped.decodeErrors ?? {})}`;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * `rounds` times: `load()` (returning at least { rps }) against nginx without the
 * agent, then with it. With the agent, its SERVER flows to `port` holding every
 * needle are counted against the requests nginx answered: `answered(lines)` picks
 * those from the round's access-log lines (default: all of them). Flow files go
 * to `work` and are removed after each round.
 */
export async function alternatingRounds({ rounds, nginx, port = nginx.port, work, load, needles, answered = (lines) => lines.length }) {
  const without = [];
  const withAgent = [];
  const results = [];
  let served = 0;
  let unanswered = 0;
  let reported = 0;
  let cpu = 0;
  let rss = 0;
  let lastStatus;
  for (let round = 0; round < rounds; round++) {
    without.push(load().rps);
    const flowsFile = join(work, `flows-${port}-${round}.jsonl`);
    writeFileSync(flowsFile, '');
    const agent = await startAgent(flowsFile);
    const logBefore = nginx.accessLogBytes();
    const run = duringLoad(agent, load);
    cpu = Math.max(cpu, run.cpu);
    rss = Math.max(rss, run.peakRssMb);
    withAgent.push(run.result.rps);
    results.push(run.result);
    // Let the agent finish its backlog before it stops, then compare with nginx's own count.
    const servedNow = answered(nginx.accessLogLines(logBefore));
    await waitFor('flows to settle', async () => (await countServerFlows(flowsFile, port, ...needles)) >= servedNow || undefined, 10_000).catch(() => undefined);
    lastStatus = await stopAgent(agent);
    // Requests in flight when the load stopped are logged a moment later: count them too.
    const logged = nginx.accessLogLines(logBefore);
    served += answered(logged);
    unanswered += logged.length - answered(logged);
    reported += await countServerFlows(flowsFile, port, ...needles);
    rmSync(flowsFile);
  }
  return { without: mean(without), with: mean(withAgent), results, served, unanswered, reported, cpu, rss, lastStatus };
}
