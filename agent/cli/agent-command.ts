// `flowscope agent` (and `record`): config → Agent, until SIGINT/SIGTERM;
// SIGHUP re-reads the config file and the token file.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { Agent } from '../agent.js';
import { loadConfigOrThrow } from '../config/load-config.js';
import { watchConfigReload } from '../config/reload.js';
import { checkPrivileges, tracefsPath } from '../doctor/host-checks.js';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { createLogger } from '../log.js';
import { defaultConfigPath } from './config-command.js';

/**
 * Mounts tracefs when the host has not. Capture attaches raw tracepoints and
 * uprobes without it, so failing here is only worth a warning (bpftrace and
 * bpftool use it).
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

/** Semi-space size the young generation may grow to while the agent runs. */
const YOUNG_SEMI_SPACE_BYTES = 8 << 20;

/**
 * bin/flowscope.js holds the young generation at its initial 1 MB semi-spaces;
 * at 20,000 flows/s that promotes short-lived objects and costs ~0.1 core of
 * collection. Let it double to 8 MB, checking after each collection, then hold
 * it there. A young collection costs about the same however large the space
 * (little survives), so 8 MB halves their number against 4 MB (5% less CPU
 * at 10,000 req/s for 3-6 MB more resident); V8's default, 16 MB, would pass
 * the 150 MB budget.
 */
function growYoungGeneration(): void {
  const newSpaceBytes = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? Infinity;
  if (newSpaceBytes() >= 2 * YOUNG_SEMI_SPACE_BYTES) return;
  v8.setFlagsFromString('--semi-space-growth-factor=2');
  const afterGc = new PerformanceObserver(() => {
    if (newSpaceBytes() < 2 * YOUNG_SEMI_SPACE_BYTES) return;
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    afterGc.disconnect();
  });
  afterGc.observe({ entryTypes: ['gc'] });
}

export async function runAgent(values: Record<string, unknown>): Promise<number> {
  const configPath = (values.config as string | undefined) ?? (existsSync(defaultConfigPath) ? defaultConfigPath : undefined);
  const config = await loadConfigOrThrow({ path: configPath, env: process.env, flags: values });
  const duration = values.duration === undefined ? 0 : wholeSeconds(String(values.duration));
  const privileges = checkPrivileges();
  if (!privileges.ok) throw new FlowscopeError(ErrorCodes.NOT_ROOT, `cannot load eBPF programs: ${privileges.detail}`, 'sudo flowscope agent');
  const log = createLogger((values['log-level'] as string | undefined) ?? process.env.FLOWSCOPE_LOG_LEVEL ?? 'info');
  if (!ensureTracefs()) log.warn('tracefs is not mounted and could not be mounted; capture does not need it');

  const agent = await Agent.start(config, { log, recordPath: values.record as string | undefined });
  growYoungGeneration();
  const reloader = configPath
    ? watchConfigReload(configPath, (next, changed) => agent.apply(next, changed), { initial: config, env: process.env, flags: values, log })
    : undefined;
  const reloadToken = (): void => void agent.server?.reloadToken();
  process.on('SIGHUP', reloadToken);
  log.info({ engine: agent.engine.name, maxCaptureBytes: config.capture.maxCaptureBytes, tlsLibraries: agent.engine.tlsLibraries?.length ?? 0, config: configPath }, 'capture started');

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (duration > 0) setTimeout(resolve, duration * 1000).unref();
  });
  log.info('stopping');
  process.off('SIGHUP', reloadToken);
  reloader?.close();
  await agent.stop();
  log.info(agent.status(), 'stopped');
  log.flush();
  return 0;
}

function wholeSeconds(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 86_400) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--duration must be a whole number of seconds from 1 to 86400, got '${raw}'`, 'pass e.g. --duration 30');
  }
  return n;
}
