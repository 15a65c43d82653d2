import { describe, expect, it } from 'vitest';
import { filterSpecFromFlags, filterSpecFromQuery, filterSpecToQuery } from '../../../agent/filter/filter-flags.js';
import { validateSpec } from '../../../agent/filter/filter-spec.js';
import { compileFilter } from '../../../agent/filter/record-filter.js';
import { formatDurationNs, parseDurationMs } from '../../../agent/filter/units.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from '../stream/sample-records.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');

describe('compiled filters', () => {
  it('matches everything when empty', () => {
    const f = compileFilter({});
    expect(f.matchesAll).toBe(true);
    expect(f.flow(sampleFlow())).toBe(true);
    expect(f.anomaly(sampleAnomaly())).toBe(true);
    expect(f.connection(sampleConnection())).toBe(true);
  });

  it('ANDs different keys and ORs the values of one key', () => {
    const f = compileFilter({ status: ['5xx', '404'], method: ['POST'] });
    expect(f.flow(sampleFlow({ status: 503, method: 'POST' }))).toBe(true);
    expect(f.flow(sampleFlow({ status: 404, method: 'POST' }))).toBe(true);
    expect(f.flow(sampleFlow({ status: 503, method: 'GET' }))).toBe(false);
    expect(f.flow(sampleFlow({ status: 200, method: 'POST' }))).toBe(false);
  });

  it('selects encrypted or plaintext calls', () => {
    expect(compileFilter({ tls: ['true'] }).flow(sampleFlow({ tls: true }))).toBe(true);
    expect(compileFilter({ tls: ['true'] }).flow(sampleFlow({ tls: false }))).toBe(false);
    expect(compileFilter({ plaintext: [''] }).flow(sampleFlow({ tls: false }))).toBe(true);
    expect(compileFilter({ plaintext: ['true'] }).connection({ ...sampleConnection(), tls: true })).toBe(false);
    expect(compileFilter({ tls: ['false'] }).matchesAll).toBe(false);
    expect(compileFilter({ tls: ['false'] }).flow(sampleFlow({ tls: false }))).toBe(true);
  });

  it('keeps calls at least --min-latency long', () => {
    const f = compileFilter({ minLatency: ['100ms'] });
    expect(f.flow(sampleFlow({ durationNs: '100000000' }))).toBe(true);
    expect(f.flow(sampleFlow({ durationNs: '99999999' }))).toBe(false);
    expect(compileFilter({ minLatency: ['1.5s'] }).flow(sampleFlow({ durationNs: '1400000000' }))).toBe(false);
    expect(() => compileFilter({ minLatency: ['fast'] })).toThrow(/--min-latency/);
  });

  it('keeps records since a duration ago or an RFC 3339 time', () => {
    const f = compileFilter({ since: ['5m'] }, NOW);
    expect(f.sinceMs).toBe(NOW - 300_000);
    expect(f.flow(sampleFlow({ time: '2026-11-23T11:56:00.123456789Z' }))).toBe(true);
    expect(f.flow(sampleFlow({ time: '2026-11-23T11:54:59Z' }))).toBe(false);
    expect(compileFilter({ since: ['2026-11-23T11:00:00Z'] }, NOW).flow(sampleFlow({ time: '2026-11-23T11:30:00Z' }))).toBe(true);
    expect(() => compileFilter({ since: ['yesterday'] })).toThrow(/--since/);
  });

  it('applies --severity as a minimum to anomalies only', () => {
    const f = compileFilter({ severity: ['high'] });
    expect(f.anomaly(sampleAnomaly('CRITICAL'))).toBe(true);
    expect(f.anomaly(sampleAnomaly('HIGH'))).toBe(true);
    expect(f.anomaly(sampleAnomaly('MEDIUM'))).toBe(false);
    expect(f.flow(sampleFlow())).toBe(true);
    expect(() => compileFilter({ severity: ['urgent'] })).toThrow(/--severity/);
  });

  it('ignores HTTP keys for kinds that have no HTTP fields', () => {
    const f = compileFilter({ status: ['5xx'], from: ['web'] });
    expect(f.anomaly(sampleAnomaly())).toBe(true);
    const conn = sampleConnection();
    expect(f.connection({ ...conn, source: { ...conn.source, workload: 'web' } })).toBe(true);
    expect(f.connection(conn)).toBe(false);
    expect(compileFilter({ from: ['db'] }).anomaly(sampleAnomaly())).toBe(false);
  });

  it('maps --protocol onto connection records', () => {
    const conn = { ...sampleConnection(), protocol: 'CONN_HTTP2' as const };
    expect(compileFilter({ protocol: ['GRPC'] }).connection(conn)).toBe(true);
    expect(compileFilter({ protocol: ['HTTP1'] }).connection(conn)).toBe(false);
  });
});

describe('filter specs from the network, flags and query strings', () => {
  it('rejects unknown keys, non-string values and oversized input', () => {
    expect(() => validateSpec({ colour: ['red'] })).toThrow(/unknown filter key 'colour'/);
    expect(() => validateSpec({ status: [{}] })).toThrow(/strings/);
    expect(() => validateSpec({ path: ['x'.repeat(600)] })).toThrow(/512/);
    expect(() => validateSpec({ status: Array.from({ length: 65 }, () => '5xx') })).toThrow(/too many/);
    expect(() => validateSpec(['status'])).toThrow(/object/);
    expect(validateSpec({ status: '5xx', tls: true })).toEqual({ status: ['5xx'], tls: ['true'] });
  });

  it('turns parsed CLI flags into a spec', () => {
    expect(filterSpecFromFlags({ from: ['web'], status: ['5xx', '401'], tls: true, plaintext: false, 'grpc-status': ['NOT_FOUND'], 'min-latency': ['10ms'] }))
      .toEqual({ from: ['web'], status: ['5xx', '401'], tls: ['true'], grpcStatus: ['NOT_FOUND'], minLatency: ['10ms'] });
  });

  it('round-trips a spec through f. query parameters', () => {
    const spec = { status: ['5xx', '401'], from: ['shop/web'], path: ['/^/a b$/'] };
    const params = new URLSearchParams('kinds=flows');
    filterSpecToQuery(spec, params);
    expect(filterSpecFromQuery(new URLSearchParams(params.toString()))).toEqual(spec);
  });
});

describe('durations', () => {
  it('parses the usual units, a bare number being ms', () => {
    expect(parseDurationMs('250us')).toBe(0.25);
    expect(parseDurationMs('100ms')).toBe(100);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('2h')).toBe(7_200_000);
    expect(parseDurationMs('42')).toBe(42);
    expect(parseDurationMs('-1s')).toBeUndefined();
    expect(parseDurationMs('5 minutes')).toBeUndefined();
  });

  it('prints short human forms', () => {
    expect(formatDurationNs(850_000)).toBe('850µs');
    expect(formatDurationNs(1_500_000)).toBe('1.5ms');
    expect(formatDurationNs(12_400_000)).toBe('12ms');
    expect(formatDurationNs(1_400_000_000)).toBe('1.40s');
  });
});
