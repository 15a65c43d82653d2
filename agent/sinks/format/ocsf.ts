// OCSF 1.3 events: HTTP Activity (4002) for flows, Network Activity (4001) for
// connection records, Detection Finding (2004) for anomalies, with the flows
// behind an anomaly as evidences. type_uid = class_uid * 100 + activity_id.
import type { Anomaly, AnomalyKind, ConnectionRecord, Endpoint, Flow, ObservedAt, Severity } from '../../schema/flow.js';
import type { RecordKind, SinkRecord } from '../config.js';
import { PRODUCT_NAME, PRODUCT_VENDOR, PRODUCT_VERSION, endpointName, epochMs, httpVersion, u64 } from './record-fields.js';

export const OCSF_VERSION = '1.3.0';

type Json = Record<string, unknown>;

const HTTP_ACTIVITY: Record<string, [number, string]> = {
  CONNECT: [1, 'Connect'], DELETE: [2, 'Delete'], GET: [3, 'Get'], HEAD: [4, 'Head'], OPTIONS: [5, 'Options'],
  POST: [6, 'Post'], PUT: [7, 'Put'], TRACE: [8, 'Trace'], PATCH: [9, 'Patch'],
};
const OTHER: [number, string] = [99, 'Other'];
/** severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical. */
const FINDING_SEVERITY: Record<Severity, [number, string]> = {
  LOW: [2, 'Low'], MEDIUM: [3, 'Medium'], HIGH: [4, 'High'], CRITICAL: [5, 'Critical'],
};
const INFORMATIONAL: [number, string] = [1, 'Informational'];
/** connection_info.direction_id: 1 Inbound (seen at the server), 2 Outbound (seen at the client). */
const DIRECTION: Record<ObservedAt, [number, string]> = { SERVER: [1, 'Inbound'], CLIENT: [2, 'Outbound'] };
/** Detectors that match a fixed rule (analytic type_id 1 Rule); the others flag a deviation from learned traffic (2 Behavioral). */
const RULE_KINDS = new Set<AnomalyKind>(['PLAINTEXT', 'INJECTION', 'SENSITIVE_DATA', 'JWT_WEAKNESS']);

function metadata(uid: string | undefined): Json {
  return { version: OCSF_VERSION, product: { name: PRODUCT_NAME, vendor_name: PRODUCT_VENDOR, version: PRODUCT_VERSION }, uid };
}

export function ocsfEndpoint(end: Endpoint | undefined): Json | undefined {
  if (!end || !end.ip) return undefined;
  const out: Json = { ip: end.ip };
  if (end.port) out.port = end.port;
  const name = endpointName(end);
  if (name) out.name = name;
  if (end.pod) out.hostname = end.pod;
  if (end.containerId) out.container = { uid: end.containerId, ...(end.pod ? { name: end.pod } : {}) };
  return out;
}

/** Identity that OCSF endpoints do not model (process, user, k8s names). */
function endpointExtras(end: Endpoint | undefined): Json | undefined {
  if (!end) return undefined;
  const { ip: _ip, port: _port, ...rest } = end;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function connectionInfo(observedAt: ObservedAt | undefined, ip: string | undefined): Json {
  const [directionId, direction] = DIRECTION[observedAt ?? 'CLIENT'] ?? [0, 'Unknown'];
  // protocol_ver_id: 4 IPv4, 6 IPv6, 0 Unknown.
  const ipVersion = !ip ? 0 : ip.includes(':') ? 6 : 4;
  return { protocol_name: 'tcp', protocol_num: 6, protocol_ver_id: ipVersion, direction_id: directionId, direction };
}

function httpRequest(flow: Flow): Json {
  const path = flow.http?.path ?? '';
  const queryAt = path.indexOf('?');
  const url: Json = {
    url_string: flow.http?.host ? `${flow.tls ? 'https' : 'http'}://${flow.http.host}${path}` : path,
    path: queryAt >= 0 ? path.slice(0, queryAt) : path,
    scheme: flow.tls ? 'https' : 'http',
  };
  if (queryAt >= 0) url.query_string = path.slice(queryAt + 1);
  if (flow.http?.host) url.hostname = flow.http.host.replace(/:\d+$/, '');
  if (flow.destination?.port) url.port = flow.destination.port;
  return { http_method: flow.http?.method ?? '', url, version: `HTTP/${httpVersion(flow.protocol)}`, length: u64(flow.http?.requestBytes) };
}

function httpResponse(flow: Flow): Json | undefined {
  if (flow.http?.status === undefined) return undefined;
  return { code: flow.http.status, length: u64(flow.http.responseBytes) };
}


export function flowToOcsf(flow: Flow): Json {
  const method = (flow.http?.method ?? '').toUpperCase();
  const activity = HTTP_ACTIVITY[method] ?? OTHER;
  const start = epochMs(flow.time);
  const durationMs = Math.round(u64(flow.durationNs) / 1e6);
  const failed = (flow.http?.status ?? 0) >= 400 || (flow.grpc?.status ?? 0) > 0;
  const answered = flow.http?.status !== undefined || flow.grpc?.status !== undefined;
  const [statusId, status] = !answered ? [0, 'Unknown'] : failed ? [2, 'Failure'] : [1, 'Success'];
  // Events are written as one literal (no spread, no deleted keys): undefined
  // attributes stay in place and JSON.stringify leaves them out. Much faster.
  return {
    class_uid: 4002, class_name: 'HTTP Activity', category_uid: 4, category_name: 'Network Activity',
    activity_id: activity[0], activity_name: activity[1], type_uid: 400200 + activity[0], type_name: `HTTP Activity: ${activity[1]}`,
    severity_id: INFORMATIONAL[0], severity: INFORMATIONAL[1],
    time: start, start_time: start, end_time: start + durationMs, duration: durationMs,
    status_id: statusId, status,
    status_code: flow.grpc?.status !== undefined ? String(flow.grpc.status) : flow.http?.status !== undefined ? String(flow.http.status) : undefined,
    metadata: metadata(flow.connId),
    src_endpoint: ocsfEndpoint(flow.source), dst_endpoint: ocsfEndpoint(flow.destination),
    connection_info: connectionInfo(flow.observedAt, flow.destination?.ip),
    traffic: { bytes_out: u64(flow.http?.requestBytes), bytes_in: u64(flow.http?.responseBytes), bytes: u64(flow.http?.requestBytes) + u64(flow.http?.responseBytes) },
    http_request: httpRequest(flow),
    http_response: httpResponse(flow),
    http_status: flow.http?.status,
    app_name: flow.grpc ? flow.grpc.service : undefined,
    unmapped: {
      protocol: flow.protocol, tls: flow.tls, observed_at: flow.observedAt, issues: flow.issues, grpc: flow.grpc,
      source: endpointExtras(flow.source), destination: endpointExtras(flow.destination),
    },
  };
}

export function connectionToOcsf(record: ConnectionRecord): Json {
  const end = epochMs(record.time);
  const durationMs = Math.round(u64(record.durationNs) / 1e6);
  return {
    class_uid: 4001, class_name: 'Network Activity', category_uid: 4, category_name: 'Network Activity',
    activity_id: 2, activity_name: 'Close', type_uid: 400102, type_name: 'Network Activity: Close',
    severity_id: INFORMATIONAL[0], severity: INFORMATIONAL[1],
    time: end, start_time: end - durationMs, end_time: end, duration: durationMs,
    status_id: 1, status: 'Success',
    metadata: metadata(record.connId),
    src_endpoint: ocsfEndpoint(record.source), dst_endpoint: ocsfEndpoint(record.destination),
    connection_info: connectionInfo(record.observedAt, record.destination?.ip),
    traffic: {
      bytes_out: u64(record.bytesFromSource), bytes_in: u64(record.bytesFromDestination),
      bytes: u64(record.bytesFromSource) + u64(record.bytesFromDestination),
    },
    unmapped: {
      protocol: record.protocol, tls: record.tls, observed_at: record.observedAt,
      source: endpointExtras(record.source), destination: endpointExtras(record.destination),
    },
  };
}

/** At most this many flows become evidences of one finding. */
const MAX_EVIDENCES = 10;

function flowEvidence(flow: Flow): Json {
  return {
    src_endpoint: ocsfEndpoint(flow.source), dst_endpoint: ocsfEndpoint(flow.destination),
    connection_info: connectionInfo(flow.observedAt, flow.destination?.ip),
    http_request: httpRequest(flow), http_response: httpResponse(flow),
  };
}

export function anomalyToOcsf(anomaly: Anomaly): Json {
  const count = u64(anomaly.count);
  const activity: [number, string] = anomaly.state === 'CLOSED' ? [3, 'Close'] : count > 1 ? [2, 'Update'] : [1, 'Create'];
  const [severityId, severity] = FINDING_SEVERITY[anomaly.severity] ?? [0, 'Unknown'];
  const first = epochMs(anomaly.firstSeen);
  const last = epochMs(anomaly.lastSeen);
  const evidenceFlows = (anomaly.evidence ?? []).slice(0, MAX_EVIDENCES);
  const evidences = evidenceFlows.length > 0
    ? evidenceFlows.map(flowEvidence)
    : [{ src_endpoint: ocsfEndpoint(anomaly.source), dst_endpoint: ocsfEndpoint(anomaly.destination) }];
  return {
    class_uid: 2004, class_name: 'Detection Finding', category_uid: 2, category_name: 'Findings',
    activity_id: activity[0], activity_name: activity[1], type_uid: 200400 + activity[0], type_name: `Detection Finding: ${activity[1]}`,
    severity_id: severityId, severity,
    time: last, start_time: first, end_time: last, count,
    status_id: anomaly.state === 'CLOSED' ? 4 : 1, status: anomaly.state === 'CLOSED' ? 'Resolved' : 'New',
    is_alert: anomaly.state !== 'CLOSED',
    message: anomaly.summary,
    metadata: metadata(anomaly.id),
    finding_info: {
      uid: anomaly.id, title: anomaly.summary, types: [anomaly.kind],
      first_seen_time: first, last_seen_time: last,
      analytic: RULE_KINDS.has(anomaly.kind)
        ? { type_id: 1, type: 'Rule', name: anomaly.kind, uid: anomaly.kind }
        : { type_id: 2, type: 'Behavioral', name: anomaly.kind, uid: anomaly.kind },
      attacks: anomaly.mitreTechnique ? [{ technique: { uid: anomaly.mitreTechnique } }] : undefined,
    },
    evidences,
    unmapped: {
      endpoint: anomaly.endpoint, protocol: anomaly.protocol, destination_port: anomaly.destinationPort,
      details: anomaly.details, evidence_total: anomaly.evidence?.length,
      source: endpointExtras(anomaly.source), destination: endpointExtras(anomaly.destination),
    },
  };
}

export function toOcsf(kind: RecordKind, record: SinkRecord): Json {
  if (kind === 'flow') return flowToOcsf(record as Flow);
  if (kind === 'connection') return connectionToOcsf(record as ConnectionRecord);
  return anomalyToOcsf(record as Anomaly);
}
