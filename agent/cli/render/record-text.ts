// Flows, anomalies and connections as short text for the terminal: the pieces
// every printer (compact, table, top) shares.
import { formatDurationNs } from '../../filter/units.js';
import { GRPC_STATUS_NAMES } from '../../filter/http-match.js';
import type { Anomaly, ConnectionRecord, Endpoint, Flow } from '../../schema/flow.js';
import { plainStyle, type Style } from './style.js';

/** HH:MM:SS.mmm in local time, like hubble observe. */
export function clockTime(rfc3339: string, withMs = true): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return rfc3339;
  const d = new Date(ms);
  const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return withMs ? `${hms}.${String(d.getMilliseconds()).padStart(3, '0')}` : hms;
}

/** The name people know an end by: namespace/workload, pod, or process. */
export function endpointName(end: Endpoint): string {
  const name = end.workload || end.pod || end.process || '';
  if (name && end.namespace) return `${end.namespace}/${name}`;
  return name;
}

export function address(end: Endpoint): string {
  return end.ip.includes(':') ? `[${end.ip}]:${end.port}` : `${end.ip}:${end.port}`;
}

/** `web(10.0.0.1:4312)`, or the bare address when the end has no name. */
export function endpointLabel(end: Endpoint): string {
  const name = endpointName(end);
  return name ? `${name}(${address(end)})` : address(end);
}

export function grpcStatusName(status: number | undefined): string {
  if (status === undefined) return '-';
  return GRPC_STATUS_NAMES[status] ?? String(status);
}

/** The call: `GET /users/1` or `GRPC demo.Echo/Say`. */
export function callText(flow: Flow): string {
  if (flow.protocol === 'GRPC' && flow.grpc) return `${flow.grpc.service}/${flow.grpc.method}`;
  if (flow.http.headersTrusted === false) return '(headers not trusted: connection seen mid-stream)';
  return `${flow.http.method} ${flow.http.path}`;
}

/** True when the call failed: 5xx, a gRPC error status, or no response. */
export function isError(flow: Flow): boolean {
  if (flow.issues?.includes('NO_RESPONSE')) return true;
  if (flow.protocol === 'GRPC' && flow.grpc?.status !== undefined) return flow.grpc.status !== 0;
  return (flow.http.status ?? 0) >= 500;
}

export function statusText(flow: Flow, style: Style): string {
  if (flow.protocol === 'GRPC' && flow.grpc) {
    const name = grpcStatusName(flow.grpc.status);
    if (flow.grpc.inProgress) return style.cyan('IN_PROGRESS');
    return flow.grpc.status === 0 ? style.green(name) : flow.grpc.status === undefined ? name : style.red(name);
  }
  const status = flow.http.status ?? 0;
  if (status === 0) return style.yellow('-');
  const text = String(status);
  if (status >= 500) return style.red(text);
  if (status >= 400) return style.yellow(text);
  if (status >= 300) return style.cyan(text);
  return style.green(text);
}

export function latencyText(flow: Flow): string {
  return formatDurationNs(Number(flow.durationNs));
}

/** `12:00:01.234 web(10.0.0.1:4312) -> db(10.0.0.2:5432) GET /users/1 200 12ms TLS [client]` */
export function compactFlow(flow: Flow, style: Style): string {
  const parts = [
    style.dim(clockTime(flow.time)),
    `${endpointLabel(flow.source)} -> ${endpointLabel(flow.destination)}`,
    flow.protocol === 'GRPC' ? `GRPC ${callText(flow)}` : callText(flow),
    statusText(flow, style),
    latencyText(flow),
    flow.tls ? style.green('TLS') : style.yellow('PLAINTEXT'),
  ];
  if (flow.issues?.length) parts.push(style.red(flow.issues.join(',')));
  parts.push(style.dim(`[${flow.observedAt.toLowerCase()}]`));
  return parts.join(' ');
}

export const FLOW_TABLE_HEADER = ['TIME', 'SOURCE', 'DESTINATION', 'PROTOCOL', 'CALL', 'STATUS', 'LATENCY', 'TLS', 'SEEN BY'];

/** Column widths when following (rows cannot be measured in advance). */
export const FLOW_TABLE_WIDTHS = [12, 32, 32, 8, 40, 11, 8, 3, 7];

export function flowTableRow(flow: Flow): string[] {
  return [
    clockTime(flow.time), endpointLabel(flow.source), endpointLabel(flow.destination), flow.protocol, callText(flow),
    statusText(flow, plainStyle), latencyText(flow), flow.tls ? 'yes' : 'no', flow.observedAt.toLowerCase(),
  ];
}

const SEVERITY_STYLE: Record<string, keyof Style> = { CRITICAL: 'red', HIGH: 'red', MEDIUM: 'yellow', LOW: 'cyan' };

function paint(style: Style, key: keyof Style, text: string): string {
  const f = style[key];
  return typeof f === 'function' ? f(text) : text;
}

/** `12:00:01 HIGH NEW_EDGE web -> db:5432 GET /users/{id}: summary (×3, open) id` */
export function compactAnomaly(a: Anomaly, style: Style): string {
  const to = `${endpointName(a.destination) || a.destination.ip}${a.destinationPort ? `:${a.destinationPort}` : ''}`;
  const parts = [
    style.dim(clockTime(a.lastSeen, false)),
    paint(style, SEVERITY_STYLE[a.severity] ?? 'dim', a.severity.padEnd(8)),
    a.kind,
    `${endpointName(a.source) || a.source.ip} -> ${to}`,
  ];
  if (a.endpoint) parts.push(a.endpoint);
  parts.push(`${a.summary} (×${a.count}, ${a.state.toLowerCase()})`);
  if (a.mitreTechnique) parts.push(style.dim(a.mitreTechnique));
  parts.push(style.dim(a.id));
  return parts.join(' ');
}

export const ANOMALY_TABLE_HEADER = ['LAST SEEN', 'SEVERITY', 'KIND', 'EDGE', 'ENDPOINT', 'COUNT', 'STATE', 'SUMMARY', 'ID'];

export const ANOMALY_TABLE_WIDTHS = [8, 8, 18, 36, 28, 6, 6, 60, 16];

export function anomalyTableRow(a: Anomaly): string[] {
  const to = `${endpointName(a.destination) || a.destination.ip}${a.destinationPort ? `:${a.destinationPort}` : ''}`;
  return [clockTime(a.lastSeen, false), a.severity, a.kind, `${endpointName(a.source) || a.source.ip} -> ${to}`, a.endpoint ?? '', a.count, a.state.toLowerCase(), a.summary, a.id];
}

export function compactConnection(c: ConnectionRecord, style: Style): string {
  return [
    style.dim(clockTime(c.time)), `${endpointLabel(c.source)} -> ${endpointLabel(c.destination)}`, c.protocol.replace('CONN_', ''),
    `${c.bytesFromSource}B/${c.bytesFromDestination}B`, formatDurationNs(Number(c.durationNs)), c.tls ? style.green('TLS') : '',
    style.dim(`[${c.observedAt.toLowerCase()}]`),
  ].filter((p) => p !== '').join(' ');
}
