// `flowscope accept ID` and `flowscope relearn WORKLOAD`: the two changes a
// person makes to a running agent's baseline, through its API.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { requestJson, serverTarget } from '../server/api-client.js';
import { connectionHelp, connectionOptions } from './flows-command.js';

export const baselineOptions: NonNullable<ParseArgsConfig['options']> = { ...connectionOptions };

export const acceptUsage = `flowscope accept ANOMALY_ID

Takes an anomaly into the running agent's baseline ("this new edge is
expected"): its edge, endpoint or protocol becomes normal and the anomaly is
closed. The id is the last column of flowscope anomalies (or "id" in -o json).

${connectionHelp}

Example:
  flowscope anomalies --severity high
  flowscope accept 4c907ce86a6b582d4214`;

export const relearnUsage = `flowscope relearn WORKLOAD

Forgets what the running agent's baseline learnt about one workload (as named
in flowscope map: a workload, namespace/workload or process name) and learns
it again for a learn window; its anomalies stay quiet meanwhile.

${connectionHelp}

Example:
  flowscope relearn shop/orders`;

function onlyArgument(positionals: string[], command: string, what: string): string {
  if (positionals.length !== 1 || positionals[0] === '') {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `${command} needs exactly one ${what}`, `flowscope ${command} ${what.toUpperCase().replace(/ /g, '_')}`);
  }
  return positionals[0]!;
}

export async function runAccept(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const id = onlyArgument(positionals, 'accept', 'anomaly id');
  const r = await requestJson<{ accepted: string }>(serverTarget(values), `/v1/anomalies/${encodeURIComponent(id)}/accept`, `accepting anomaly ${id}`, 'POST');
  console.log(`accepted ${r.accepted}: it is part of the baseline now`);
  return 0;
}

export async function runRelearn(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const workload = onlyArgument(positionals, 'relearn', 'workload');
  const r = await requestJson<{ workload: string; reset: number }>(serverTarget(values), `/v1/baseline/relearn?workload=${encodeURIComponent(workload)}`, `relearning ${workload}`, 'POST');
  console.log(`relearning ${r.workload}: ${r.reset} baseline edge${r.reset === 1 ? '' : 's'} reset`);
  return 0;
}
