import { describe, expect, it } from 'vitest';
import { validateSinkConfigs } from '../../../agent/sinks/config.js';
import { compileSinkFilter } from '../../../agent/sinks/record-filter.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from './fixtures/records.js';

describe('validateSinkConfigs', () => {
  it('fills defaults for a minimal syslog sink', () => {
    const { sinks, errors } = validateSinkConfigs([{ type: 'syslog', host: 'siem.local', transport: 'tls' }]);
    expect(errors).toEqual([]);
    expect(sinks[0]).toMatchObject({
      type: 'syslog', name: 'syslog-0', host: 'siem.local', port: 6514, transport: 'tls', format: 'cef', facility: 16,
      kinds: ['flows', 'connections', 'anomalies'], spool: { maxBytes: 256 << 20 },
    });
  });
  it('names the key, the problem and the fix on one line', () => {
    const { sinks, errors } = validateSinkConfigs([
      { type: 'webhook', url: 'http://127.0.0.1:1/hook' },
      { type: 'syslog', host: 'x', port: 70000 },
    ]);
    expect(sinks).toHaveLength(1);
    expect(errors).toEqual([expect.stringMatching(/^sinks\[1\]\.port: must be 1-65535 \(fix: .+\)$/)]);
  });
  it('reports every problem, not only the first', () => {
    const { errors } = validateSinkConfigs([
      { type: 'splunk_hec', url: 'ftp://x', format: 'cef', kinds: ['flow'], minSeverity: 'urgent', batch: { maxRecords: 0 }, colour: 'red' },
    ]);
    const keys = errors.map((e) => e.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining([
      'sinks[0].colour', 'sinks[0].url', 'sinks[0].format', 'sinks[0].kinds', 'sinks[0].minSeverity', 'sinks[0].batch.maxRecords', 'sinks[0].token',
    ]));
    for (const e of errors) expect(e).toMatch(/\(fix: [^)]+\)$/);
    expect(errors.every((e) => !e.includes('\n'))).toBe(true);
  });
  it('rejects a name used twice and names that are not file-name safe', () => {
    const { errors } = validateSinkConfigs([
      { type: 'file', name: 'a', path: '/tmp/a' }, { type: 'file', name: 'a', path: '/tmp/b' }, { type: 'file', name: '../x', path: '/tmp/c' },
    ]);
    expect(errors).toEqual([expect.stringMatching(/^sinks\[1\]\.name: "a" is used twice/), expect.stringMatching(/^sinks\[2\]\.name: /)]);
  });
  it('rejects a sink list that is not a list and entries that are not mappings', () => {
    expect(validateSinkConfigs({ type: 'file' }).errors[0]).toMatch(/^sinks: must be a list/);
    expect(validateSinkConfigs(['file']).errors[0]).toMatch(/^sinks\[0\]: must be a mapping/);
    expect(validateSinkConfigs([{ type: 'kafka' }]).errors[0]).toMatch(/^sinks\[0\]\.type: must be one of/);
  });
  it('requires both halves of a client certificate', () => {
    const { errors } = validateSinkConfigs([{ type: 'syslog', host: 'x', tls: { certFile: '/c.pem' } }]);
    expect(errors).toEqual([expect.stringMatching(/^sinks\[0\]\.tls\.keyFile: is required/)]);
  });
});

describe('compileSinkFilter', () => {
  it('passes only the configured kinds', () => {
    const accepts = compileSinkFilter({ kinds: ['anomalies'] });
    expect(accepts('flow', sampleFlow())).toBe(false);
    expect(accepts('connection', sampleConnection())).toBe(false);
    expect(accepts('anomaly', sampleAnomaly())).toBe(true);
  });
  it('drops anomalies below minSeverity but not flows', () => {
    const accepts = compileSinkFilter({ kinds: ['flows', 'anomalies'], minSeverity: 'HIGH' });
    expect(accepts('anomaly', sampleAnomaly({ severity: 'MEDIUM' }))).toBe(false);
    expect(accepts('anomaly', sampleAnomaly({ severity: 'HIGH' }))).toBe(true);
    expect(accepts('anomaly', sampleAnomaly({ severity: 'CRITICAL' }))).toBe(true);
    expect(accepts('flow', sampleFlow())).toBe(true);
  });
  it('ANDs a compiled filter with the kinds', () => {
    const accepts = compileSinkFilter({ kinds: ['flows'], filter: (_k, r) => (r as { http?: { status?: number } }).http?.status === 500 });
    expect(accepts('flow', sampleFlow())).toBe(false);
    expect(accepts('flow', sampleFlow({ http: { ...sampleFlow().http, status: 500 } }))).toBe(true);
  });
});
