// `flowscope anomalies`: what the detectors found — the current list from the
// agent's API, or live from the stream with --follow.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { FilterSpec } from '../filter/filter-spec.js';
import { compileFilter } from '../filter/record-filter.js';
import { requestJson, serverTarget } from '../server/api-client.js';
import type { Anomaly } from '../schema/flow.js';
import { StreamClient } from '../stream/stream-client.js';
import { connectionHelp, connectionOptions, lastFlag } from './flows-command.js';
import { droppedNotice, notice, runUntilInterrupted, stdoutWriter } from './render/live-output.js';
import { ANOMALY_TABLE_HEADER, ANOMALY_TABLE_WIDTHS, anomalyTableRow, compactAnomaly } from './render/record-text.js';
import { createPrinter, parseOutputFormat } from './render/record-printer.js';
import { createStyle } from './render/style.js';

export const anomaliesOptions: NonNullable<ParseArgsConfig['options']> = {
  follow: { type: 'boolean', short: 'f', default: false },
  last: { type: 'string' },
  severity: { type: 'string' },
  state: { type: 'string', default: 'open' },
  from: { type: 'string', multiple: true },
  to: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o', default: 'compact' },
  ...connectionOptions,
};

export const anomaliesUsage = `flowscope anomalies [--follow] [--severity LEVEL] [--state open|closed|all] [-o table|compact|json|jsonl]

Lists the anomalies the agent's detectors hold (new edges, plaintext calls,
auth failure bursts, scans, spikes, injection attempts …), newest last. With
--follow, prints each new or updated anomaly as it happens until Ctrl-C
(an update keeps the anomaly's id).

  -f, --follow       live anomalies from the stream (history: --last N)
  --severity LEVEL   low, medium, high or critical: that severity and above
  --state STATE      open (default), closed or all (without --follow)
  --from / --to V    only anomalies whose source / destination is V (as in flowscope flows)
  -o FORMAT          compact (default), table, json, jsonl

${connectionHelp}

Examples:
  flowscope anomalies
  flowscope anomalies --severity high -o table
  flowscope anomalies -f --to payments
  flowscope anomalies --state all -o json > anomalies.json`;

export async function runAnomalies(values: Record<string, unknown>): Promise<number> {
  const spec: FilterSpec = {};
  if (values.severity !== undefined) spec.severity = [String(values.severity)];
  if (values.from) spec.from = values.from as string[];
  if (values.to) spec.to = values.to as string[];
  const filter = compileFilter(spec);
  const state = String(values.state);
  if (!['open', 'closed', 'all'].includes(state)) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--state must be open, closed or all, got '${state}'`, 'pass e.g. --state all');
  }
  const follow = values.follow === true;
  const format = parseOutputFormat(values.output);
  const style = createStyle(process.stdout, values['no-color'] === true);
  const target = serverTarget(values);
  let client: StreamClient | undefined;
  const write = stdoutWriter(() => client);
  const printer = createPrinter<Anomaly>(format, follow, {
    compact: (a) => compactAnomaly(a, style), header: ANOMALY_TABLE_HEADER, row: anomalyTableRow, widths: ANOMALY_TABLE_WIDTHS,
  }, write);

  if (!follow) {
    const query = new URLSearchParams({ state });
    if (values.severity !== undefined) query.set('severity', String(values.severity).toLowerCase());
    const { anomalies } = await requestJson<{ anomalies: Anomaly[] }>(target, `/v1/anomalies?${query}`, 'listing anomalies');
    const shown = anomalies.filter((a) => filter.anomaly(a)).sort((a, b) => Date.parse(a.lastSeen) - Date.parse(b.lastSeen));
    const last = lastFlag(values);
    for (const a of last === undefined ? shown : shown.slice(-last)) printer.print(a);
    printer.end();
    return 0;
  }

  client = new StreamClient(target, { kinds: ['anomalies'], filter: spec, last: lastFlag(values) ?? 0, follow: true }, {
    message: (m) => {
      if (m.type === 'anomaly') printer.print(m.anomaly);
      else if (m.type === 'dropped') droppedNotice(m.count, 'anomalies');
    },
    notice,
  });
  await runUntilInterrupted(client);
  printer.end();
  return 0;
}
