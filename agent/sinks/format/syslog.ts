// RFC 5424 syslog messages and RFC 6587 octet-counting frames
// ("MSG-LEN SP SYSLOG-MSG", MSG-LEN in octets), which RFC 5425 also uses over TLS.
import { hostname } from 'node:os';
import type { Anomaly, Severity } from '../../schema/flow.js';
import type { RecordKind, SinkRecord } from '../config.js';

/** Syslog severities: 2 crit, 3 err, 4 warning, 5 notice, 6 info. */
const SYSLOG_SEVERITY: Record<Severity, number> = { CRITICAL: 2, HIGH: 3, MEDIUM: 4, LOW: 5 };
const INFO = 6;
const MSGID: Record<RecordKind, string> = { flow: 'FLOW', connection: 'CONNECTION', anomaly: 'ANOMALY' };

/** HOSTNAME: 1*255 PRINTUSASCII, or "-" when there is nothing usable. */
export function syslogHostname(name: string = hostname()): string {
  const clean = name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return clean === '' ? '-' : clean;
}

/** RFC 3339 with at most 6 fraction digits (TIME-SECFRAC is 1*6DIGIT). */
export function syslogTimestamp(rfc3339: string | undefined): string {
  if (!rfc3339) return '-';
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  if (!m) return '-';
  return `${m[1]}${m[2] ? m[2].slice(0, 7) : ''}${m[3]}`;
}

export function recordTime(kind: RecordKind, record: SinkRecord): string | undefined {
  return kind === 'anomaly' ? (record as Anomaly).lastSeen : (record as { time?: string }).time;
}

export interface SyslogHeaderOptions {
  facility: number;
  appName: string;
  hostname: string;
  procId: string;
}

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`. */
export function syslogMessage(kind: RecordKind, record: SinkRecord, payload: string, opts: SyslogHeaderOptions): string {
  const severity = kind === 'anomaly' ? (SYSLOG_SEVERITY[(record as Anomaly).severity] ?? 4) : INFO;
  const pri = opts.facility * 8 + severity;
  return `<${pri}>1 ${syslogTimestamp(recordTime(kind, record))} ${opts.hostname} ${opts.appName} ${opts.procId} ${MSGID[kind]} - ${payload}`;
}

/** Octet-counted frame of one message. */
export function octetCountedFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'latin1'), body]);
}
