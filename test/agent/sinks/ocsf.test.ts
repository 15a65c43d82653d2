import { describe, expect, it } from 'vitest';
import { anomalyToOcsf, connectionToOcsf, flowToOcsf } from '../../../agent/sinks/format/ocsf.js';
import { validateOcsfEvent } from './fixtures/ocsf-1.3-classes.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from './fixtures/records.js';
import type { Severity } from '../../../agent/schema/flow.js';

describe('OCSF HTTP Activity (4002) from flows', () => {
  it.each(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'PROPFIND'])('is valid for a %s flow', (method) => {
    const event = flowToOcsf(sampleFlow({ http: { ...sampleFlow().http, method } }));
    expect(validateOcsfEvent(event)).toEqual([]);
    expect(event.type_uid).toBe(4002 * 100 + (event.activity_id as number));
  });
  it('maps methods, status, url, endpoints and traffic', () => {
    const event = flowToOcsf(sampleFlow({ tls: true }));
    expect(event).toMatchObject({
      class_uid: 4002, category_uid: 4, activity_id: 3, activity_name: 'Get', type_uid: 400203, severity_id: 1,
      time: Date.parse('2026-11-23T09:00:00.123Z'), duration: 1, status_id: 1, http_status: 200,
      metadata: { version: '1.3.0', product: { name: 'flowscope', vendor_name: 'flowscope' } },
      src_endpoint: { ip: '127.0.0.1', port: 41000, name: 'curl' },
      dst_endpoint: { ip: '127.0.0.1', port: 8080, name: 'shop/web', container: { uid: 'abc123' } },
      http_request: {
        http_method: 'GET', version: 'HTTP/1.1',
        url: { url_string: 'https://web.shop:8080/users/42?expand=orders', path: '/users/42', query_string: 'expand=orders', hostname: 'web.shop', scheme: 'https' },
      },
      http_response: { code: 200, length: 250 },
      traffic: { bytes_out: 78, bytes_in: 250, bytes: 328 },
      connection_info: { direction_id: 2, protocol_name: 'tcp', protocol_ver_id: 4 },
    });
    expect(flowToOcsf(sampleFlow({ http: { ...sampleFlow().http, method: 'PROPFIND' } })).activity_id).toBe(99);
  });
  it('is valid for a flow that got no response', () => {
    const { status: _s, ...http } = sampleFlow().http;
    const event = flowToOcsf(sampleFlow({ http, issues: ['NO_RESPONSE'] }));
    expect(validateOcsfEvent(event)).toEqual([]);
    expect(event.http_response).toBeUndefined();
    expect(event.status_id).toBe(0);
  });
  it('marks a failed gRPC call as a failure', () => {
    const event = flowToOcsf(sampleFlow({
      protocol: 'GRPC', http: { ...sampleFlow().http, method: 'POST' },
      grpc: { service: 'shop.Cart', method: 'Add', status: 14, requestMessages: 1, responseMessages: 0 },
    }));
    expect(validateOcsfEvent(event)).toEqual([]);
    expect(event).toMatchObject({ activity_id: 6, status_id: 2, status_code: '14', app_name: 'shop.Cart' });
  });
});

describe('OCSF Network Activity (4001) from connection records', () => {
  it('is a valid Close activity with byte counts', () => {
    const event = connectionToOcsf(sampleConnection());
    expect(validateOcsfEvent(event)).toEqual([]);
    expect(event).toMatchObject({
      class_uid: 4001, activity_id: 2, type_uid: 400102, traffic: { bytes_out: 1000, bytes_in: 20000 },
      start_time: Date.parse('2026-11-23T09:00:00.5Z'), end_time: Date.parse('2026-11-23T09:00:05.5Z'),
      connection_info: { direction_id: 1 },
    });
  });
});

describe('OCSF Detection Finding (2004) from anomalies', () => {
  it.each<Severity>(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])('is valid at severity %s', (severity) => {
    expect(validateOcsfEvent(anomalyToOcsf(sampleAnomaly({ severity })))).toEqual([]);
  });
  it('carries the evidence flows as evidences and the technique as an attack', () => {
    const event = anomalyToOcsf(sampleAnomaly());
    expect(event).toMatchObject({
      class_uid: 2004, category_uid: 2, activity_id: 1, type_uid: 200401, severity_id: 4, status_id: 1, is_alert: true,
      finding_info: { uid: 'NEW_EDGE:curl->web:8080', title: 'curl called web on port 8080 for the first time', types: ['NEW_EDGE'], attacks: [{ technique: { uid: 'T1021' } }] },
    });
    const evidences = event.evidences as Array<Record<string, any>>;
    expect(evidences).toHaveLength(2);
    expect(evidences[1]).toMatchObject({ http_request: { http_method: 'POST' }, http_response: { code: 500 }, dst_endpoint: { port: 8080 } });
  });
  it('is an Update while repeating and a Close when resolved', () => {
    const updated = anomalyToOcsf(sampleAnomaly({ count: '7' }));
    const closed = anomalyToOcsf(sampleAnomaly({ state: 'CLOSED', evidence: [] }));
    expect([updated.activity_id, updated.type_uid]).toEqual([2, 200402]);
    expect([closed.activity_id, closed.type_uid, closed.status_id, closed.is_alert]).toEqual([3, 200403, 4, false]);
    expect(validateOcsfEvent(updated)).toEqual([]);
    expect(validateOcsfEvent(closed)).toEqual([]);
  });
});

describe('the OCSF validator itself', () => {
  it('finds missing required attributes, wrong enums and unknown attributes', () => {
    const event = flowToOcsf(sampleFlow());
    const broken = { ...event, activity_id: 42, severity_id: 7, metadata: { product: { name: 'x' } }, surprise: 1 };
    expect(validateOcsfEvent(broken)).toEqual(expect.arrayContaining([
      'activity_id: 42 is not in the enum 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99',
      'severity_id: 7 is not in the enum 0, 1, 2, 3, 4, 5, 6, 99',
      'metadata.version: required attribute missing',
      'metadata.product.vendor_name: required attribute missing',
      'surprise: not an attribute of this class or object',
      'type_uid: 400203 is not class_uid * 100 + activity_id',
    ]));
    const { finding_info: _f, ...noInfo } = anomalyToOcsf(sampleAnomaly());
    expect(validateOcsfEvent(noInfo)).toContain('finding_info: required attribute missing');
  });
});
