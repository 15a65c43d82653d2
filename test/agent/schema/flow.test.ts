import { describe, expect, it } from 'vitest';
import {
  anomalyThroughSchema, connectionThroughSchema, decodeFlow, encodeFlow, flowThroughSchema,
  type Anomaly, type ConnectionRecord, type Flow,
} from '../../../agent/schema/flow.js';

const sample: Flow = {
  time: '2026-11-23T09:00:00.123456789Z',
  durationNs: '1234567',
  protocol: 'HTTP1',
  tls: true,
  observedAt: 'CLIENT',
  source: { ip: '127.0.0.1', port: 41000, pid: 123, process: 'curl', exe: '/usr/bin/curl', user: 'root', workload: 'curl', workloadKind: 'Process' },
  destination: {
    ip: '127.0.0.1', port: 8080, pid: 456, process: 'nginx', containerId: 'abc123', pod: 'web-7d9f-x2', namespace: 'shop',
    workload: 'web', workloadKind: 'Deployment', serviceAccount: 'web',
  },
  http: { method: 'GET', path: '/index.html', host: 'example', status: 200, requestBytes: '78', responseBytes: '250' },
  issues: ['RESPONSE_TRUNCATED'],
  connId: '123:5:99',
};

describe('the Flow schema', () => {
  it('keeps every field of the JSON record through the protobuf schema', () => {
    expect(flowThroughSchema(sample)).toEqual(sample);
  });
  it('round-trips through binary protobuf', () => {
    expect(decodeFlow(encodeFlow(sample))).toEqual(sample);
  });
  it('rejects a record with a field the schema does not know', () => {
    const bad = { ...sample, http: { ...sample.http, verb: 'GET' } } as unknown as Flow;
    expect(flowThroughSchema(bad)).not.toEqual(bad);
  });
});

describe('the Anomaly and Connection schema', () => {
  it('keeps every field of an anomaly', () => {
    const anomaly: Anomaly = {
      id: 'NEW_EDGE:curl->web:8080', kind: 'NEW_EDGE', severity: 'HIGH', state: 'OPEN',
      source: sample.source, destination: sample.destination, endpoint: 'GET /users/{id}',
      summary: 'curl called web on port 8080 for the first time', evidence: [sample], count: '3',
      firstSeen: sample.time, lastSeen: sample.time, mitreTechnique: 'T1021',
      details: { baselineEdges: '4' }, protocol: 'HTTP1', destinationPort: 8080,
    };
    expect(anomalyThroughSchema(anomaly)).toEqual(anomaly);
  });
  it('keeps every field of a connection record', () => {
    const conn: ConnectionRecord = {
      time: sample.time, durationNs: '5000', source: sample.source, destination: sample.destination,
      observedAt: 'SERVER', protocol: 'CONN_OTHER', tls: false, bytesFromSource: '10', bytesFromDestination: '20', connId: '1:2:3',
    };
    expect(connectionThroughSchema(conn)).toEqual(conn);
  });
});
