// `flowscope top`: live per-edge request rate, errors and latency computed
// from the flow stream. On a terminal the table redraws in place; piped, a
// timestamped table is printed every interval.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { filterFlagHelp, filterFlagOptions, filterSpecFromFlags } from '../filter/filter-flags.js';
import { compileFilter } from '../filter/record-filter.js';
import { parseDurationMs } from '../filter/units.js';
import { serverTarget } from '../server/api-client.js';
import { StreamClient } from '../stream/stream-client.js';
import { connectionHelp, connectionOptions } from './flows-command.js';
import { EdgeStats, renderEdgeTable } from './render/edge-stats.js';
import { droppedNotice, notice, runUntilInterrupted, stdoutWriter } from './render/live-output.js';
import { createStyle } from './render/style.js';

export const topOptions: NonNullable<ParseArgsConfig['options']> = {
  interval: { type: 'string', default: '2s' },
  window: { type: 'string', default: '10s' },
  iterations: { type: 'string', short: 'n' },
  limit: { type: 'string', default: '30' },
  ...filterFlagOptions,
  ...connectionOptions,
};

export const topUsage = `flowscope top [--interval 2s] [--window 10s] [-n N] [filters…]

Live per-edge view computed from the flow stream: requests per second, error
rate (5xx, gRPC errors, no response), p50 and p99 latency and TLS share over
the last --window, busiest edges first. Redraws in place on a terminal; piped,
prints a timestamped table every --interval. Ctrl-C to quit.

  --interval D   refresh period (default 2s)
  --window D     sliding window the figures cover (default 10s)
  -n N           stop after N refreshes
  --limit N      edges shown (default 30, or what fits the terminal)

${filterFlagHelp}

${connectionHelp}

Examples:
  flowscope top
  flowscope top --to checkout --window 30s
  flowscope top --protocol GRPC -n 5 --interval 1s > edges.txt`;

function durationFlag(values: Record<string, unknown>, name: string): number {
  const ms = parseDurationMs(String(values[name]));
  if (ms === undefined || ms < 100 || ms > 3_600_000) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--${name} must be a duration from 100ms to 1h, got '${String(values[name])}'`, `pass e.g. --${name} 5s`);
  }
  return ms;
}

function countFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return undefined;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) === 0) throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--${name} must be a whole number above 0, got '${raw}'`, `pass e.g. --${name} 10`);
  return Number(raw);
}

export async function runTop(values: Record<string, unknown>): Promise<number> {
  const spec = filterSpecFromFlags(values);
  compileFilter(spec);
  const intervalMs = durationFlag(values, 'interval');
  const windowMs = durationFlag(values, 'window');
  const iterations = countFlag(values, 'iterations');
  const limit = countFlag(values, 'limit')!;
  const style = createStyle(process.stdout, values['no-color'] === true);
  const tty = process.stdout.isTTY === true;
  const stats = new EdgeStats(windowMs);
  let client: StreamClient | undefined;
  const write = stdoutWriter(() => client);
  client = new StreamClient(serverTarget(values), { kinds: ['flows'], filter: spec, last: 0, follow: true }, {
    message: (m) => {
      if (m.type === 'flow') stats.add(m.flow);
      else if (m.type === 'dropped') droppedNotice(m.count, 'flows (rates undercount)');
    },
    notice,
  });
  let refreshes = 0;
  const refresh = (): void => {
    const rows = stats.rows();
    const fits = tty ? Math.max(1, (process.stdout.rows ?? 40) - 3) : limit;
    const table = rows.length ? renderEdgeTable(rows, style, Math.min(limit, fits)) : [style.dim('no flows in the window yet')];
    const title = `flowscope top  ${new Date().toLocaleTimeString('en-GB')}  window ${windowMs / 1000}s  ${rows.length} edges`;
    // Home, draw, clear what is left of the previous frame.
    if (tty) write(`\x1b[H${style.bold(title)}\x1b[K\n\n${table.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    else write(`${title}\n${table.join('\n')}\n\n`);
    refreshes++;
    if (iterations !== undefined && refreshes >= iterations) {
      // Closing the stream can take a moment: no further frame meanwhile.
      clearInterval(timer);
      client!.stop();
    }
  };
  if (tty) write('\x1b[?25l\x1b[2J');
  const timer: NodeJS.Timeout = setInterval(refresh, intervalMs);
  try {
    await runUntilInterrupted(client);
  } finally {
    clearInterval(timer);
    if (tty) write('\x1b[?25h');
  }
  return 0;
}
