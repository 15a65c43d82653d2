// One payload formatter per sink format: the record in flowscope's own JSON
// shape, OCSF, ECS, or a CEF line. Formatting happens once, when the record
// enters the sink, so the spool holds exactly what will be sent.
import type { PayloadFormat, RecordKind, SinkRecord } from '../config.js';
import { toCef } from './cef.js';
import { toEcs } from './ecs.js';
import { toOcsf } from './ocsf.js';

export type PayloadFormatter = (kind: RecordKind, record: SinkRecord) => string;

/** flowscope JSON: the schema's JSON shape wrapped by kind, as in `{"flow": {...}}`. */
function toNativeJson(kind: RecordKind, record: SinkRecord): string {
  return JSON.stringify({ [kind]: record });
}

export function payloadFormatter(format: PayloadFormat): PayloadFormatter {
  switch (format) {
    case 'cef': return toCef;
    case 'ocsf': return (kind, record) => JSON.stringify(toOcsf(kind, record));
    case 'ecs': return (kind, record) => JSON.stringify(toEcs(kind, record));
    case 'json': return toNativeJson;
  }
}
