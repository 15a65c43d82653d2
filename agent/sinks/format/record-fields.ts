// Small readings of the public records shared by every output mapping.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../paths.js';
import type { Endpoint, Flow, Protocol } from '../../schema/flow.js';

export const PRODUCT_NAME = 'flowscope';
export const PRODUCT_VENDOR = 'flowscope';
export const PRODUCT_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** Epoch milliseconds of an RFC 3339 time; 0 when unreadable (bad input is data, not a crash). */
export function epochMs(rfc3339: string | undefined): number {
  const ms = rfc3339 ? Date.parse(rfc3339) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** A uint64 decimal string as a number (exact below 2^53, which byte counts and nanoseconds stay under). */
export function u64(value: string | number | undefined): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

export function httpVersion(protocol: Protocol | undefined): string {
  return protocol === 'HTTP1' ? '1.1' : protocol === undefined ? '' : '2';
}

export function appProtocol(protocol: Protocol | undefined): string {
  return protocol === 'GRPC' ? 'gRPC' : protocol === 'HTTP2' ? 'HTTP/2' : protocol === 'HTTP1' ? 'HTTP/1.1' : '';
}

/** "namespace/workload" or the pod or process: the most useful name for an end. */
export function endpointName(end: Endpoint | undefined): string | undefined {
  if (!end) return undefined;
  if (end.workload) return end.namespace ? `${end.namespace}/${end.workload}` : end.workload;
  if (end.pod) return end.namespace ? `${end.namespace}/${end.pod}` : end.pod;
  return end.process;
}

export function flowUrl(flow: Flow): string {
  const path = flow.http?.path ?? '';
  const host = flow.http?.host;
  if (!host) return path;
  return `${flow.tls ? 'https' : 'http'}://${host}${path}`;
}
