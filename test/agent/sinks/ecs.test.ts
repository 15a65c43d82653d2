import { describe, expect, it } from 'vitest';
import { anomalyToEcs, connectionToEcs, flowToEcs } from '../../../agent/sinks/format/ecs.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from './fixtures/records.js';

describe('Elastic Common Schema documents', () => {
  it('maps a flow onto http, url, source, destination, network, tls and event', () => {
    expect(flowToEcs(sampleFlow({ tls: true }))).toMatchObject({
      '@timestamp': '2026-11-23T09:00:00.123Z',
      ecs: { version: '8.11.0' },
      event: { kind: 'event', category: ['network', 'web'], type: ['access', 'protocol'], duration: 1234567, outcome: 'success', dataset: 'flowscope.flow' },
      http: { version: '1.1', request: { method: 'GET', bytes: 78 }, response: { status_code: 200, bytes: 250 } },
      url: { original: 'https://web.shop:8080/users/42?expand=orders', path: '/users/42', query: 'expand=orders', domain: 'web.shop', scheme: 'https', port: 8080 },
      source: { ip: '127.0.0.1', port: 41000, bytes: 78, process: { pid: 123, name: 'curl', executable: '/usr/bin/curl' }, user: { name: 'root' } },
      destination: { ip: '127.0.0.1', port: 8080, bytes: 250, container: { id: 'abc123' }, orchestrator: { namespace: 'shop', resource: { name: 'web-7d9f-x2', type: 'pod' } } },
      network: { transport: 'tcp', protocol: 'http', bytes: 328, direction: 'egress' },
      tls: { established: true },
    });
  });
  it('marks 5xx as a failure and gRPC calls with rpc fields', () => {
    const doc = flowToEcs(sampleFlow({
      protocol: 'GRPC', http: { ...sampleFlow().http, status: 200 },
      grpc: { service: 'shop.Cart', method: 'Add', status: 5, requestMessages: 1, responseMessages: 1 },
    }));
    expect(doc).toMatchObject({ event: { outcome: 'failure' }, network: { protocol: 'grpc' }, rpc: { service: 'shop.Cart', status_code: 5 }, http: { version: '2' } });
  });
  it('maps a connection record and an anomaly', () => {
    expect(connectionToEcs(sampleConnection())).toMatchObject({
      event: { category: ['network'], type: ['connection', 'end'], duration: 5e9, start: '2026-11-23T09:00:00.500Z' },
      source: { bytes: 1000 }, destination: { bytes: 20000 }, network: { direction: 'ingress', protocol: 'http1' },
    });
    expect(anomalyToEcs(sampleAnomaly())).toMatchObject({
      event: { kind: 'alert', category: ['network', 'intrusion_detection'], severity: 8, reason: 'curl called web on port 8080 for the first time' },
      rule: { name: 'NEW_EDGE' }, threat: { technique: { id: ['T1021'] } }, message: 'curl called web on port 8080 for the first time',
    });
  });
});
