// `flowscope agent`: capture → pipeline → outputs, until SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import { KernelEngine } from '../capture/kernel-engine.js';
import { RecordingWriter } from '../capture/recording.js';
import { checkPrivileges, tracefsPath } from '../doctor/host-checks.js';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { createLogger } from '../log.js';
import { grpcSettings } from '../flows/grpc-payloads.js';
import { createAgentMetrics, statusSnapshot } from '../metrics/agent-metrics.js';
import { JsonLinesWriter } from '../output/jsonl-writer.js';
import { startStatusServer } from '../output/status-server.js';
import { Pipeline } from '../pipeline.js';

function intFlag(values: Record<string, unknown>, name: string, min: number, max: number): number {
  const raw = String(values[name]);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--${name} must be a whole number from ${min} to ${max}, got '${raw}'`, `pass e.g. --${name} ${min}`);
  }
  return n;
}

function listenFlag(raw: string): { host: string; port: number } | undefined {
  if (raw === 'off') return undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--listen must be HOST:PORT or 'off', got '${raw}'`, 'pass e.g. --listen 127.0.0.1:7070');
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Mounts tracefs when the host has not. Capture attaches raw tracepoints and
 * uprobes without it, so failing here is only worth a warning (it helps when
 * inspecting the host with bpftool or bpftrace).
 */
function ensureTracefs(): boolean {
  if (tracefsPath()) return true;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
  } catch {
    // Reported by the caller.
  }
  return tracefsPath() !== undefined;
}

export async function runAgent(values: Record<string, unknown>): Promise<number> {
  const maxCaptureBytes = intFlag(values, 'max-capture-bytes', 64, 65536);
  const maxBodyBytes = intFlag(values, 'max-body-bytes', 0, 1 << 20);
  const listen = listenFlag(String(values.listen));
  const grpc = grpcSettings(values, values['grpc-progress-interval'] === undefined ? 60 : intFlag(values, 'grpc-progress-interval', 0, 86_400));
  const privileges = checkPrivileges();
  if (!privileges.ok) throw new FlowscopeError(ErrorCodes.NOT_ROOT, `cannot load eBPF programs: ${privileges.detail}`, 'sudo flowscope agent');
  const log = createLogger((values['log-level'] as string | undefined) ?? process.env.FLOWSCOPE_LOG_LEVEL ?? 'info');
  if (!ensureTracefs()) log.warn('tracefs is not mounted and could not be mounted; capture does not need it');
  const pipeline = new Pipeline({ maxBodyCapture: maxBodyBytes, selfTgid: process.pid, grpc });
  const recordPath = values.record as string | undefined;
  const recorder = recordPath
    ? new RecordingWriter(recordPath, { wallMinusMonoNs: pipeline.clock.wallMinusMonoNs, redactionKey: pipeline.redactor.key })
    : undefined;
  const flowsOut = values['flows-out'] as string | undefined;
  const output = flowsOut
    ? new JsonLinesWriter(flowsOut, (err) => log.error({ err: err.message, flowsOut }, 'writing flows failed; further flows are counted as dropped'))
    : undefined;
  if (output) {
    pipeline.onFlow((flow) => output.write(flow));
    pipeline.onTick(() => output.flush());
  }

  const engine = new KernelEngine(pipeline, log, { maxCaptureBytes, tlsProbes: values['no-tls-probes'] !== true, recorder });
  engine.start();
  await engine.firstBatch();

  const registry = createAgentMetrics(pipeline, engine, () => output?.dropped ?? 0);
  const status = startStatusServerIfAsked(listen, registry, pipeline, engine, output, log);
  log.info({ maxCaptureBytes, tlsLibraries: engine.tlsLibraries.length }, 'capture started');

  const duration = values.duration === undefined ? 0 : intFlag(values, 'duration', 1, 86_400);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (duration > 0) setTimeout(resolve, duration * 1000).unref();
  });
  log.info('stopping');
  await engine.stop();
  (await status)?.close();
  await output?.close();
  if (recorder) {
    recorder.close();
    log.info({ path: recordPath, bytes: recorder.bytes }, 'recording saved');
  }
  log.info(statusSnapshot(pipeline, engine, output?.dropped ?? 0), 'stopped');
  log.flush();
  return 0;
}

async function startStatusServerIfAsked(
  listen: { host: string; port: number } | undefined,
  registry: ReturnType<typeof createAgentMetrics>,
  pipeline: Pipeline,
  engine: KernelEngine,
  output: JsonLinesWriter | undefined,
  log: ReturnType<typeof createLogger>,
): Promise<import('node:http').Server | undefined> {
  if (!listen) return undefined;
  try {
    const { server, address } = await startStatusServer({
      ...listen,
      registry,
      status: () => statusSnapshot(pipeline, engine, output?.dropped ?? 0),
      ready: () => engine.batches > 0,
    });
    log.info({ address: `${address.address}:${address.port}` }, 'status server listening');
    return server;
  } catch (err) {
    log.error({ err: (err as Error).message, listen }, 'status server could not listen; continuing without it');
    return undefined;
  }
}
