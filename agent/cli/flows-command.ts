// `flowscope flows`: the agent's flows, from its history and live, filtered by
// the shared filter language.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { filterFlagHelp, filterFlagOptions, filterSpecFromFlags } from '../filter/filter-flags.js';
import { compileFilter } from '../filter/record-filter.js';
import { serverTarget } from '../server/api-client.js';
import type { Flow } from '../schema/flow.js';
import { StreamClient } from '../stream/stream-client.js';
import { droppedNotice, notice, runUntilInterrupted, stdoutWriter } from './render/live-output.js';
import { compactFlow, FLOW_TABLE_HEADER, FLOW_TABLE_WIDTHS, flowTableRow } from './render/record-text.js';
import { createPrinter, parseOutputFormat, type RecordView } from './render/record-printer.js';
import { createStyle, type Style } from './render/style.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export const connectionOptions: Options = {
  server: { type: 'string' },
  token: { type: 'string' },
  'no-color': { type: 'boolean', default: false },
};

export const connectionHelp = `Agent:
  --server URL       the agent's HTTP port (default http://127.0.0.1:7070; env FLOWSCOPE_SERVER)
  --token TOKEN      bearer token for an agent off loopback (env FLOWSCOPE_TOKEN)
  --no-color         plain output on a terminal too (colour is only ever used on a TTY)`;

export const flowsOptions: Options = {
  follow: { type: 'boolean', short: 'f', default: false },
  last: { type: 'string' },
  since: { type: 'string' },
  output: { type: 'string', short: 'o', default: 'compact' },
  ...filterFlagOptions,
  ...connectionOptions,
};

export const flowsUsage = `flowscope flows [--follow] [--last N] [--since 5m] [filters…] [-o table|compact|json|jsonl]

Shows the flows (one per HTTP or gRPC call) an agent saw: the newest from its
in-memory history, then, with --follow, live ones until Ctrl-C. A call between
two processes on one host shows twice, [client] and [server].

  -f, --follow       keep printing new flows; a lost agent is reconnected
  --last N           this many of the newest matching flows from history
                     (default 20; 0 with --follow)
  --since D          only flows from the last D (5m, 1h) or since an RFC 3339 time
  -o FORMAT          compact (default), table, json (an array; one object per
                     flow with --follow), jsonl

${filterFlagHelp}

${connectionHelp}

Examples:
  flowscope flows --last 50
  flowscope flows -f --status 5xx --to checkout
  flowscope flows -f --from prod/web --path /api/ --min-latency 200ms
  flowscope flows --since 10m --plaintext -o jsonl > plaintext.jsonl
  flowscope flows -f --protocol GRPC --grpc-status UNAVAILABLE --grpc-status DEADLINE_EXCEEDED
  flowscope flows -f --path '/^\\/users\\/[0-9]+$/' -o table`;

/** --last N: whole number; undefined when absent. */
export function lastFlag(values: Record<string, unknown>): number | undefined {
  const raw = values.last as string | undefined;
  if (raw === undefined) return undefined;
  if (!/^\d{1,7}$/.test(raw)) throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--last must be a whole number, got '${raw}'`, 'pass e.g. --last 100');
  return Number(raw);
}

export function flowView(style: Style): RecordView<Flow> {
  return { compact: (f) => compactFlow(f, style), header: FLOW_TABLE_HEADER, row: flowTableRow, widths: FLOW_TABLE_WIDTHS };
}

/** History kept by the agent is capped; asking for more just returns all of it. */
const ALL_HISTORY = 1_000_000;

export async function runFlows(values: Record<string, unknown>): Promise<number> {
  const spec = filterSpecFromFlags(values);
  if (values.since !== undefined) spec.since = [String(values.since)];
  compileFilter(spec); // bad filter values fail here, in one line, before connecting
  const follow = values.follow === true;
  const last = lastFlag(values) ?? (spec.since ? ALL_HISTORY : follow ? 0 : 20);
  const format = parseOutputFormat(values.output);
  const style = createStyle(process.stdout, values['no-color'] === true);
  let client: StreamClient | undefined;
  const write = stdoutWriter(() => client);
  const printer = createPrinter(format, follow, flowView(style), write);
  client = new StreamClient(serverTarget(values), { kinds: ['flows'], filter: spec, last, follow }, {
    message: (m) => {
      if (m.type === 'flow') printer.print(m.flow);
      else if (m.type === 'dropped') droppedNotice(m.count, 'flows');
    },
    notice,
  });
  await runUntilInterrupted(client);
  printer.end();
  return 0;
}
