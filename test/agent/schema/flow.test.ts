import { describe, expect, it } from 'vitest';
import { decodeFlow, encodeFlow, flowThroughSchema, type Flow } from '../../../agent/schema/flow.js';

const sample: Flow = {
  time: '2026-11-23T09:00:00.123456789Z',
  durationNs: '1234567',
  protocol: 'HTTP1',
  tls: true,
  observedAt: 'CLIENT',
  source: { ip: '127.0.0.1', port: 41000, pid: 123, process: 'curl' },
  destination: { ip: '127.0.0.1', port: 8080, pid: 456, process: 'nginx' },
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
