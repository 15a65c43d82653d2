// Shared by the overhead benchmarks: start and stop a real agent writing flows
// to a file, count the server-side flows it reported, read a process's CPU and
// memory from /proc.
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../test/helpers/wait.mjs';

const bin = fileURLToPath(new URL('../bin/flowscope.js', import.meta.url));
const CLK_TCK = 100;

/**
 * Starts `flowscope agent --flows-out flowsFile --listen off`, ready once a log
 * line passes `ready` (default: capture started). Refuses a bpftrace fallback:
 * the figures are about the libbpf engine. BENCH_AGENT_ARGS adds agent flags
 * (e.g. --config FILE) and BENCH_AGENT_NODE_FLAGS node flags (e.g. --cpu-prof).
 */
export async function startAgent(flowsFile, ready = (line) => line.includes('"capture started"')) {
  const nodeFlags = (process.env.BENCH_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const agentArgs = (process.env.BENCH_AGENT_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, bin, 'agent', '--flows-out', flowsFile, '--listen', 'off', ...agentArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
