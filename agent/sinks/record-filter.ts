// A sink's filter compiled once into one predicate: the kinds it takes, the
// lowest anomaly severity, then the optional compiled filter (AND across all).
import type { Anomaly } from '../schema/flow.js';
import { SEVERITY_ORDER, type KindName, type RecordKind, type RecordPredicate, type SinkConfig } from './config.js';

const KIND_OF_NAME: Record<KindName, RecordKind> = { flows: 'flow', connections: 'connection', anomalies: 'anomaly' };

export function compileSinkFilter(config: Pick<SinkConfig, 'kinds' | 'minSeverity' | 'filter'>): RecordPredicate {
  const kinds = new Set(config.kinds.map((k) => KIND_OF_NAME[k]));
  const minRank = config.minSeverity ? SEVERITY_ORDER[config.minSeverity] : 0;
  const extra = config.filter;
  return (kind, record) => {
    if (!kinds.has(kind)) return false;
    if (kind === 'anomaly' && (SEVERITY_ORDER[(record as Anomaly).severity] ?? 0) < minRank) return false;
    return extra ? extra(kind, record) : true;
  };
}
