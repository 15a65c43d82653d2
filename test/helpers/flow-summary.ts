// One line per flow for comparing captured flows with what a test did.
import type { Flow } from '../../agent/schema/flow.js';

/** `SIDE PROTOCOL METHOD PATH HOST STATUS tls=BOOL` per flow, sorted. */
export function summary(flows: Flow[]): string[] {
  return flows
    .map((f) => `${f.observedAt} ${f.protocol} ${f.http.method} ${f.http.path} ${f.http.host} ${f.http.status} tls=${f.tls}`)
    .sort();
}

/** The summary expected when both ends of each request are on this host: one CLIENT and one SERVER line. */
export function both(lines: string[]): string[] {
  return [...lines.map((l) => `CLIENT ${l}`), ...lines.map((l) => `SERVER ${l}`)].sort();
}
