// ArcSight Common Event Format (CEF:0). Header fields escape "\" and "|" and
// cannot carry line breaks; extension values escape "\" and "=" and encode
// line breaks as \n / \r. Severity is 0-10.
import type { Anomaly, ConnectionRecord, Endpoint, Flow, Severity } from '../../schema/flow.js';
import type { RecordKind, SinkRecord } from '../config.js';
import { PRODUCT_NAME, PRODUCT_VENDOR, PRODUCT_VERSION, appProtocol, endpointName, epochMs, flowUrl, u64 } from './record-fields.js';

export function escapeCefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

export function escapeCefExtension(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c}`));
}

export const CEF_SEVERITY: Record<Severity, number> = { LOW: 3, MEDIUM: 5, HIGH: 8, CRITICAL: 10 };
/** Flows and connections are observations, not alerts. */
const OBSERVATION_SEVERITY = 1;
const FAILED_FLOW_SEVERITY = 3;

type Extension = Array<[string, string | number | undefined]>;

function cefLine(classId: string, name: string, severity: number, ext: Extension): string {
  const header = ['CEF:0', PRODUCT_VENDOR, PRODUCT_NAME, PRODUCT_VERSION, classId, name, String(severity)]
    .map((field, i) => (i === 0 ? field : escapeCefHeader(field)))
    .join('|');
  const pairs: string[] = [];
  for (const [key, value] of ext) {
    if (value === undefined || value === '') continue;
    pairs.push(`${key}=${escapeCefExtension(String(value))}`);
  }
  return `${header}|${pairs.join(' ')}`;
}

function endpointExtension(source: Endpoint | undefined, destination: Endpoint | undefined): Extension {
  return [
    ['src', source?.ip], ['spt', source?.port || undefined], ['sproc', source?.process], ['spid', source?.pid],
    ['suser', source?.user],
    ['dst', destination?.ip], ['dpt', destination?.port || undefined], ['dproc', destination?.process], ['dpid', destination?.pid],
    ['duser', destination?.user],
    ['cs1Label', endpointName(source) ? 'sourceWorkload' : undefined], ['cs1', endpointName(source)],
    ['cs2Label', endpointName(destination) ? 'destinationWorkload' : undefined], ['cs2', endpointName(destination)],
  ];
}

function flowCef(flow: Flow): string {
  const start = epochMs(flow.time);
  const status = flow.grpc?.status ?? flow.http?.status;
  const failed = (flow.http?.status ?? 0) >= 500 || (flow.grpc?.status ?? 0) > 0 || (flow.issues?.length ?? 0) > 0;
  const name = flow.grpc ? `gRPC ${flow.grpc.service}/${flow.grpc.method}` : `HTTP ${flow.http?.method ?? ''} ${flow.http?.path ?? ''}`;
  return cefLine(`flow:${flow.protocol}`, name, failed ? FAILED_FLOW_SEVERITY : OBSERVATION_SEVERITY, [
    ['rt', start], ['start', start], ['end', start + Math.round(u64(flow.durationNs) / 1e6)],
    ['proto', 'TCP'], ['app', appProtocol(flow.protocol)],
    ...endpointExtension(flow.source, flow.destination),
    ['requestMethod', flow.http?.method], ['request', flowUrl(flow)], ['dhost', flow.http?.host],
    ['outcome', status === undefined ? undefined : String(status)],
    ['in', flow.http?.requestBytes], ['out', flow.http?.responseBytes],
    ['cs3Label', 'tls'], ['cs3', String(flow.tls)],
    ['cs4Label', 'observedAt'], ['cs4', flow.observedAt],
    ['cs5Label', flow.issues?.length ? 'issues' : undefined], ['cs5', flow.issues?.join(',')],
    ['externalId', flow.connId],
  ]);
}

function connectionCef(record: ConnectionRecord): string {
  const end = epochMs(record.time);
  const durationMs = Math.round(u64(record.durationNs) / 1e6);
  return cefLine(`connection:${record.protocol}`, 'TCP connection closed', OBSERVATION_SEVERITY, [
    ['rt', end], ['start', end - durationMs], ['end', end], ['proto', 'TCP'],
    ...endpointExtension(record.source, record.destination),
    ['in', record.bytesFromSource], ['out', record.bytesFromDestination],
    ['cs3Label', 'tls'], ['cs3', String(record.tls)],
    ['cs4Label', 'observedAt'], ['cs4', record.observedAt],
    ['externalId', record.connId],
  ]);
}

function anomalyCef(anomaly: Anomaly): string {
  const details = anomaly.details && Object.keys(anomaly.details).length > 0 ? JSON.stringify(anomaly.details) : undefined;
  return cefLine(`anomaly:${anomaly.kind}`, anomaly.summary, CEF_SEVERITY[anomaly.severity] ?? 5, [
    ['rt', epochMs(anomaly.lastSeen)], ['start', epochMs(anomaly.firstSeen)], ['end', epochMs(anomaly.lastSeen)],
    ...endpointExtension(anomaly.source, anomaly.destination),
    ['app', appProtocol(anomaly.protocol)],
    ['dpt', anomaly.destination?.port ? undefined : anomaly.destinationPort],
    ['cat', anomaly.kind], ['act', anomaly.state], ['cnt', u64(anomaly.count)], ['msg', anomaly.summary],
    ['request', anomaly.endpoint],
    ['cs3Label', anomaly.mitreTechnique ? 'mitreTechnique' : undefined], ['cs3', anomaly.mitreTechnique],
    ['cs4Label', 'severity'], ['cs4', anomaly.severity],
    ['cs5Label', details ? 'details' : undefined], ['cs5', details],
    ['externalId', anomaly.id],
  ]);
}

export function toCef(kind: RecordKind, record: SinkRecord): string {
  if (kind === 'flow') return flowCef(record as Flow);
  if (kind === 'connection') return connectionCef(record as ConnectionRecord);
  return anomalyCef(record as Anomaly);
}
