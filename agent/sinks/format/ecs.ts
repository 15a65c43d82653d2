// Elastic Common Schema 8.x documents: http.*, url.*, source.*, destination.*,
// network.*, tls.*, event.*, process/user per end, rule.* and threat.* for anomalies.
import type { Anomaly, ConnectionRecord, Endpoint, Flow, Severity } from '../../schema/flow.js';
import type { RecordKind, SinkRecord } from '../config.js';
import { PRODUCT_NAME, PRODUCT_VENDOR, PRODUCT_VERSION, endpointName, epochMs, httpVersion, u64 } from './record-fields.js';

export const ECS_VERSION = '8.11.0';

type Json = Record<string, unknown>;

/** event.severity is numeric; these follow the CEF 0-10 scale used by the syslog sink. */
const ECS_SEVERITY: Record<Severity, number> = { LOW: 3, MEDIUM: 5, HIGH: 8, CRITICAL: 10 };

function isoMs(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : undefined;
}

function ecsEndpoint(end: Endpoint | undefined, bytes?: number): Json | undefined {
  if (!end) return undefined;
  const kube = end.pod !== undefined || end.namespace !== undefined || end.workload !== undefined;
  return {
    ip: end.ip, port: end.port || undefined, bytes, domain: endpointName(end),
    process: end.pid !== undefined || end.process || end.exe ? { pid: end.pid, name: end.process, executable: end.exe } : undefined,
    user: end.user ? { name: end.user } : undefined,
    container: end.containerId ? { id: end.containerId } : undefined,
    orchestrator: kube
      ? {
        type: end.pod ? 'kubernetes' : undefined, namespace: end.namespace,
        resource: end.pod ? { name: end.pod, type: 'pod' } : undefined,
        workload: end.workload ? { name: end.workload, kind: end.workloadKind } : undefined,
        service_account: end.serviceAccount,
      }
      : undefined,
  };
}

// Documents are written as literals without spread or deleted keys (both make
// V8 fall back to slow objects); undefined fields are left out by JSON.stringify.
const ECS = { version: ECS_VERSION };
const OBSERVER = { vendor: PRODUCT_VENDOR, product: PRODUCT_NAME, version: PRODUCT_VERSION, type: 'sensor' };

export function flowToEcs(flow: Flow): Json {
  const start = epochMs(flow.time);
  const requestBytes = u64(flow.http?.requestBytes);
  const responseBytes = u64(flow.http?.responseBytes);
  const status = flow.http?.status;
  const failed = (status ?? 0) >= 400 || (flow.grpc?.status ?? 0) > 0;
  const path = flow.http?.path ?? '';
  const queryAt = path.indexOf('?');
  const scheme = flow.tls ? 'https' : 'http';
  const host = flow.http?.host;
  return {
    '@timestamp': isoMs(start),
    ecs: ECS,
    observer: OBSERVER,
    event: {
      module: PRODUCT_NAME, dataset: `${PRODUCT_NAME}.flow`, kind: 'event', category: ['network', 'web'], type: ['access', 'protocol'],
      action: 'http-request', start: isoMs(start), duration: u64(flow.durationNs),
      outcome: status === undefined && flow.grpc?.status === undefined ? 'unknown' : failed ? 'failure' : 'success',
      id: flow.connId,
    },
    source: ecsEndpoint(flow.source, requestBytes),
    destination: ecsEndpoint(flow.destination, responseBytes),
    network: {
      transport: 'tcp', type: flow.source?.ip?.includes(':') ? 'ipv6' : 'ipv4',
      protocol: flow.protocol === 'GRPC' ? 'grpc' : 'http', bytes: requestBytes + responseBytes,
      direction: flow.observedAt === 'SERVER' ? 'ingress' : 'egress',
    },
    http: {
      version: httpVersion(flow.protocol),
      request: { method: flow.http?.method, bytes: requestBytes },
      response: { status_code: status, bytes: responseBytes },
    },
    url: {
      original: host ? `${scheme}://${host}${path}` : path,
      path: queryAt >= 0 ? path.slice(0, queryAt) : path,
      query: queryAt >= 0 ? path.slice(queryAt + 1) : undefined,
      domain: host ? host.replace(/:\d+$/, '') : undefined,
      scheme,
      port: flow.destination?.port || undefined,
    },
    tls: { established: flow.tls },
    rpc: flow.grpc ? { system: 'grpc', service: flow.grpc.service, method: flow.grpc.method, status_code: flow.grpc.status } : undefined,
    labels: { observed_at: flow.observedAt, issues: flow.issues?.join(',') },
  };
}

export function connectionToEcs(record: ConnectionRecord): Json {
  const end = epochMs(record.time);
  const durationNs = u64(record.durationNs);
  const fromSource = u64(record.bytesFromSource);
  const fromDestination = u64(record.bytesFromDestination);
  return {
    '@timestamp': isoMs(end),
    ecs: ECS,
    observer: OBSERVER,
    event: {
      module: PRODUCT_NAME, dataset: `${PRODUCT_NAME}.connection`, kind: 'event', category: ['network'], type: ['connection', 'end'],
      action: 'connection-closed', start: isoMs(end - Math.round(durationNs / 1e6)), end: isoMs(end), duration: durationNs, id: record.connId,
    },
    source: ecsEndpoint(record.source, fromSource),
    destination: ecsEndpoint(record.destination, fromDestination),
    network: {
      transport: 'tcp', type: record.source?.ip?.includes(':') ? 'ipv6' : 'ipv4',
      protocol: String(record.protocol ?? '').replace(/^CONN_/, '').toLowerCase(), bytes: fromSource + fromDestination,
      direction: record.observedAt === 'SERVER' ? 'ingress' : 'egress',
    },
    tls: { established: record.tls },
  };
}

export function anomalyToEcs(anomaly: Anomaly): Json {
  const first = epochMs(anomaly.firstSeen);
  const last = epochMs(anomaly.lastSeen);
  return {
    '@timestamp': isoMs(last),
    ecs: ECS,
    observer: OBSERVER,
    event: {
      module: PRODUCT_NAME, dataset: `${PRODUCT_NAME}.anomaly`, kind: 'alert', category: ['network', 'intrusion_detection'], type: ['info'],
      action: String(anomaly.kind).toLowerCase(), severity: ECS_SEVERITY[anomaly.severity] ?? 5,
      start: isoMs(first), end: isoMs(last), id: anomaly.id, reason: anomaly.summary,
    },
    message: anomaly.summary,
    source: ecsEndpoint(anomaly.source),
    destination: ecsEndpoint(anomaly.destination),
    rule: { id: anomaly.kind, name: anomaly.kind, category: anomaly.severity },
    threat: anomaly.mitreTechnique ? { framework: 'MITRE ATT&CK', technique: { id: [anomaly.mitreTechnique] } } : undefined,
    url: anomaly.endpoint ? { path: anomaly.endpoint } : undefined,
    labels: { state: anomaly.state, count: anomaly.count, protocol: anomaly.protocol },
    flowscope: { details: anomaly.details, evidence: anomaly.evidence?.slice(0, 10).map(flowToEcs) },
  };
}

export function toEcs(kind: RecordKind, record: SinkRecord): Json {
  if (kind === 'flow') return flowToEcs(record as Flow);
  if (kind === 'connection') return connectionToEcs(record as ConnectionRecord);
  return anomalyToEcs(record as Anomaly);
}
