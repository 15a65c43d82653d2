// Turns one record into the bytes a sink spools and later sends: a syslog
// message, a HEC event, a bulk action + document pair, or a JSON document.
import { hostname } from 'node:os';
import type { ElasticsearchSinkConfig, RecordKind, SinkConfig, SinkRecord, SplunkHecSinkConfig } from './config.js';
import { epochMs } from './format/record-fields.js';
import { payloadFormatter } from './format/payload.js';
import { recordTime, syslogHostname, syslogMessage } from './format/syslog.js';

export type RecordEncoder = (kind: RecordKind, record: SinkRecord) => string;

export function recordEncoder(config: SinkConfig, host: string = hostname()): RecordEncoder {
  const payload = payloadFormatter(config.format);
  switch (config.type) {
    case 'syslog': {
      const opts = { facility: config.facility, appName: config.appName, hostname: syslogHostname(host), procId: String(process.pid) };
      return (kind, record) => syslogMessage(kind, record, payload(kind, record), opts);
    }
    case 'splunk_hec': return hecEncoder(config, host, payload);
    case 'elasticsearch': return bulkEncoder(config, payload);
    case 'webhook':
    case 'file':
      return payload;
  }
}

function hecEncoder(config: SplunkHecSinkConfig, host: string, payload: RecordEncoder): RecordEncoder {
  // Fixed envelope fields are serialised once; `event` is the payload's JSON text.
  const fixed = JSON.stringify({
    host,
    source: config.source ?? 'flowscope',
    sourcetype: config.sourcetype ?? `flowscope:${config.format}`,
    ...(config.index ? { index: config.index } : {}),
  }).slice(1, -1);
  return (kind, record) => {
    const seconds = epochMs(recordTime(kind, record)) / 1000;
    return `{"time":${seconds.toFixed(3)},${fixed},"event":${payload(kind, record)}}\n`;
  };
}

function bulkEncoder(config: ElasticsearchSinkConfig, payload: RecordEncoder): RecordEncoder {
  const action = `${JSON.stringify({ [config.action]: { _index: config.index } })}\n`;
  return (kind, record) => `${action}${payload(kind, record)}\n`;
}
