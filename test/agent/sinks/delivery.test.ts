import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from '../../../agent/sinks/transport/delivery.js';
import { bulkOutcome, endpointUrl, requestBody } from '../../../agent/sinks/transport/http-transport.js';
import { validateSinkConfigs, type HttpSinkConfig } from '../../../agent/sinks/config.js';

const httpConfig = (raw: Record<string, unknown>): HttpSinkConfig => validateSinkConfigs([raw]).sinks[0] as HttpSinkConfig;

describe('backoff', () => {
  it('doubles the cap per attempt up to the maximum, with jitter in the upper half', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 1000, undefined, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 1000, undefined, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });
  it('lets the receiver\'s Retry-After win, within five minutes', () => {
    expect(backoffDelay(0, 100, 1000, 3000)).toBe(3000);
    expect(backoffDelay(0, 100, 1000, 3_600_000)).toBe(300_000);
  });
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-23T09:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 08:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('HTTP request shapes', () => {
  it('adds the HEC and bulk paths to a bare base URL and keeps an explicit one', () => {
    expect(endpointUrl(httpConfig({ type: 'splunk_hec', url: 'https://splunk:8088', token: 't' })).pathname).toBe('/services/collector/event');
    expect(endpointUrl(httpConfig({ type: 'splunk_hec', url: 'https://splunk:8088/services/collector', token: 't' })).pathname).toBe('/services/collector');
    expect(endpointUrl(httpConfig({ type: 'elasticsearch', url: 'http://es:9200', index: 'x' })).pathname).toBe('/_bulk');
    expect(endpointUrl(httpConfig({ type: 'elasticsearch', url: 'http://es:9200/logs', index: 'x' })).pathname).toBe('/logs/_bulk');
  });
  it('joins webhook records into a JSON array', () => {
    const body = requestBody(httpConfig({ type: 'webhook', url: 'http://h' }), [Buffer.from('{"a":1}'), Buffer.from('{"b":2}')]);
    expect(JSON.parse(body.toString())).toEqual([{ a: 1 }, { b: 2 }]);
  });
  it('takes a bulk response without errors, or one it cannot read, as delivered', () => {
    expect(bulkOutcome('{"errors":false,"items":[]}', [])).toEqual({ rejected: 0 });
    expect(bulkOutcome('not json', [Buffer.from('x')])).toEqual({ rejected: 0 });
  });
});
