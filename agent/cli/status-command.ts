// `flowscope status`: a person's summary of the agent's /v1/status.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { requestJson, serverTarget } from '../server/api-client.js';
import { connectionHelp, connectionOptions } from './flows-command.js';
import { renderStatus } from './render/status-summary.js';
import { createStyle } from './render/style.js';

export const statusOptions: NonNullable<ParseArgsConfig['options']> = {
  output: { type: 'string', short: 'o', default: 'text' },
  ...connectionOptions,
};

export const statusUsage = `flowscope status [-o text|json]

Summarises a running agent: capture engine, events and flows, tracked
connections, every loss counter (kernel ring buffer and maps, stream gaps,
decode errors, output drops), probed TLS libraries and stream clients.
Exit code 1 when the agent cannot be reached.

  -o FORMAT   text (default) or json (/v1/status as served)

${connectionHelp}

Examples:
  flowscope status
  flowscope status --server https://node-1:7070 --token "$TOKEN" -o json`;

export async function runStatus(values: Record<string, unknown>): Promise<number> {
  const format = String(values.output);
  if (format !== 'text' && format !== 'json') {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `-o must be text or json, got '${format}'`, 'pass -o json');
  }
  const target = serverTarget(values);
  const status = await requestJson<Record<string, unknown>>(target, '/v1/status', 'reading the agent status');
  if (format === 'json') process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  else process.stdout.write(renderStatus(status, target.base.origin, createStyle(process.stdout, values['no-color'] === true)));
  return 0;
}
