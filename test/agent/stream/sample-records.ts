// Flow, connection and anomaly records shaped like the pipeline's, for stream tests.
import type { Anomaly, ConnectionRecord, Flow } from '../../../agent/schema/flow.js';

let counter = 0;

export function sampleFlow(overrides: Partial<Flow> & { status?: number; path?: string; method?: string } = {}): Flow {
  const n = counter++;
  const { status = 200, path = `/items/${n}`, method = 'GET', ...rest } = overrides;
  return {
    time: new Date().toISOString(),
    durationNs: '1500000',
    protocol: 'HTTP1',
    tls: false,
    observedAt: 'CLIENT',
    source: { ip: '10.0.0.1', port: 40000 + (n % 20000), pid: 100, process: 'curl', workload: 'web', namespace: 'shop' },
    destination: { ip: '10.0.0.2', port: 8080, process: 'nginx', workload: 'db', namespace: 'shop' },
    http: { method, path, host: 'db:8080', status, requestBytes: '80', responseBytes: '200' },
    connId: `100:5:${n}`,
    ...rest,
  };
}

export function sampleConnection(): ConnectionRecord {
  return {
    time: new Date().toISOString(), durationNs: '2000000',
    source: { ip: '10.0.0.1', port: 40001 }, destination: { ip: '10.0.0.2', port: 5432 },
    observedAt: 'CLIENT', protocol: 'CONN_OTHER', tls: false, bytesFromSource: '10', bytesFromDestination: '20', connId: '1:2:3',
  };
}

export function sampleAnomaly(severity: Anomaly['severity'] = 'HIGH'): Anomaly {
  const now = new Date().toISOString();
  return {
    id: `a-${counter++}`, kind: 'NEW_EDGE', severity, state: 'OPEN',
    source: { ip: '10.0.0.1', port: 0, workload: 'web' }, destination: { ip: '10.0.0.9', port: 22, workload: 'bastion' },
    summary: 'web called bastion for the first time', count: '1', firstSeen: now, lastSeen: now, protocol: 'HTTP1', destinationPort: 22,
  };
}
