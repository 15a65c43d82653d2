// Compiles a FilterSpec once into predicates over each record kind. Keys that
// do not apply to a kind are ignored for it (a --status filter does not hide
// anomalies), so one subscription filter serves flows, connections and
// anomalies together. Bad values fail here, never while matching.
import type { Anomaly, ConnectionRecord, Endpoint, Flow, Severity } from '../schema/flow.js';
import { compileEndpointMatch, type EndpointPredicate } from './endpoint-match.js';
import { filterError, type FilterKey, type FilterSpec } from './filter-spec.js';
import { compileGrpcStatus, compileMethod, compilePath, compileProtocol, compileStatus, type FlowPredicate } from './http-match.js';
import { parseDurationMs } from './units.js';

export interface RecordFilter {
  readonly flow: (flow: Flow) => boolean;
  readonly connection: (record: ConnectionRecord) => boolean;
  readonly anomaly: (anomaly: Anomaly) => boolean;
  /** Earliest record time (epoch ms) --since lets through; undefined without --since. */
  readonly sinceMs: number | undefined;
  /** True when the spec had no keys: every record matches. */
  readonly matchesAll: boolean;
}

const SEVERITY_RANK: Record<Severity, number> = { LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

type Predicate<T> = (record: T) => boolean;

function all<T>(predicates: Predicate<T>[]): Predicate<T> {
  if (predicates.length === 0) return () => true;
  if (predicates.length === 1) return predicates[0]!;
  return (record) => {
    for (const p of predicates) if (!p(record)) return false;
    return true;
  };
}

/** A boolean key (--tls, --plaintext): set unless given as false/0. */
function flagSet(values: string[] | undefined): boolean {
  return values !== undefined && values.some((v) => !/^(false|0|no)$/i.test(v.trim()));
}

function parseSince(values: string[], nowMs: number): number {
  let earliest = Infinity;
  for (const raw of values) {
    const ago = parseDurationMs(raw);
    const at = ago !== undefined ? nowMs - ago : /^\d{4}-\d\d-\d\dT/.test(raw) ? Date.parse(raw) : NaN;
    if (Number.isNaN(at)) throw filterError('since', raw, 'a duration such as 5m, 90s, 2h or an RFC 3339 time');
    earliest = Math.min(earliest, at);
  }
  return earliest;
}

function parseMinLatencyNs(values: string[]): number {
  let lowest = Infinity;
  for (const raw of values) {
    const ms = parseDurationMs(raw);
    if (ms === undefined) throw filterError('minLatency', raw, 'a duration such as 100ms, 1.5s or 250us');
    lowest = Math.min(lowest, ms * 1e6);
  }
  return lowest;
}

function parseSeverity(values: string[]): number {
  let lowest = Infinity;
  for (const raw of values) {
    const rank = SEVERITY_RANK[raw.trim().toUpperCase() as Severity];
    if (rank === undefined) throw filterError('severity', raw, 'low, medium, high or critical (at least that severity)');
    lowest = Math.min(lowest, rank);
  }
  return lowest;
}

const CONNECTION_PROTOCOL: Record<string, string> = { HTTP1: 'CONN_HTTP1', HTTP2: 'CONN_HTTP2', GRPC: 'CONN_HTTP2' };

export function compileFilter(spec: FilterSpec, nowMs = Date.now()): RecordFilter {
  const flow: Predicate<Flow>[] = [];
  const connection: Predicate<ConnectionRecord>[] = [];
  const anomaly: Predicate<Anomaly>[] = [];
  const present = (key: FilterKey): string[] | undefined => {
    const values = spec[key];
    return values && values.length > 0 ? values : undefined;
  };

  const endpoints: [FilterKey, (r: { source: Endpoint; destination: Endpoint }) => Endpoint][] = [
    ['from', (r) => r.source],
    ['to', (r) => r.destination],
  ];
  for (const [key, end] of endpoints) {
    const values = present(key);
    if (!values) continue;
    const match: EndpointPredicate = compileEndpointMatch(key, values);
    const predicate = (r: { source: Endpoint; destination: Endpoint }): boolean => match(end(r));
    flow.push(predicate);
    connection.push(predicate);
    anomaly.push(predicate);
  }

  const protocols = present('protocol');
  if (protocols) {
    const set = compileProtocol('protocol', protocols);
    const connSet = new Set([...set].map((p) => CONNECTION_PROTOCOL[p]!));
    flow.push((f) => set.has(f.protocol));
    connection.push((c) => connSet.has(c.protocol));
    anomaly.push((a) => a.protocol !== undefined && set.has(a.protocol));
  }

  const httpKeys: [FilterKey, (values: string[]) => FlowPredicate][] = [
    ['method', compileMethod],
    ['path', compilePath],
    ['status', compileStatus],
    ['grpcStatus', compileGrpcStatus],
  ];
  for (const [key, compile] of httpKeys) {
    const values = present(key);
    if (values) flow.push(compile(values));
  }

  const tls = flagSet(present('tls'));
  const plaintext = flagSet(present('plaintext'));
  if (tls) {
    flow.push((f) => f.tls);
    connection.push((c) => c.tls);
  }
  if (plaintext) {
    flow.push((f) => !f.tls);
    connection.push((c) => !c.tls);
  }

  const minLatency = present('minLatency');
  if (minLatency) {
    const ns = parseMinLatencyNs(minLatency);
    flow.push((f) => Number(f.durationNs) >= ns);
  }

  const since = present('since');
  const sinceMs = since ? parseSince(since, nowMs) : undefined;
  if (sinceMs !== undefined) {
    flow.push((f) => Date.parse(f.time) >= sinceMs);
    connection.push((c) => Date.parse(c.time) >= sinceMs);
    anomaly.push((a) => Date.parse(a.lastSeen) >= sinceMs);
  }

  const severity = present('severity');
  if (severity) {
    const rank = parseSeverity(severity);
    anomaly.push((a) => (SEVERITY_RANK[a.severity] ?? 0) >= rank);
  }

  const matchesAll = Object.values(spec).every((v) => v === undefined || v.length === 0);
  return { flow: all(flow), connection: all(connection), anomaly: all(anomaly), sinceMs, matchesAll };
}

/** One predicate over any record kind (sinks, and the stream's per-record check). */
export function matchesRecord(filter: RecordFilter, kind: 'flow' | 'connection' | 'anomaly', record: object): boolean {
  if (kind === 'flow') return filter.flow(record as Flow);
  if (kind === 'connection') return filter.connection(record as ConnectionRecord);
  return filter.anomaly(record as Anomaly);
}
