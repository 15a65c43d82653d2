import { describe, expect, it } from 'vitest';
import { EdgeStats, renderEdgeTable } from '../../../../agent/cli/render/edge-stats.js';
import { plainStyle } from '../../../../agent/cli/render/style.js';
import { sampleFlow } from '../../stream/sample-records.js';

const T0 = 1_800_000_000_000;

describe('per-edge figures for flowscope top', () => {
  it('computes rate, error rate, percentiles and TLS share over the window', () => {
    const stats = new EdgeStats(10_000, 5_000, 5_000, T0);
    for (let i = 0; i < 100; i++) {
      stats.add(sampleFlow({ status: i < 5 ? 503 : 200, durationNs: String((i + 1) * 1_000_000), tls: i % 2 === 0 }), T0 + i * 100);
    }
    const [row] = stats.rows(T0 + 9_999);
    expect(row).toMatchObject({ source: 'shop/web', destination: 'shop/db:8080', protocol: 'HTTP1', requests: 100, errorRate: 0.05, tlsShare: 0.5 });
    expect(row!.rps).toBeCloseTo(10);
    expect(row!.p50Ns).toBe(51_000_000);
    expect(row!.p99Ns).toBe(100_000_000);
  });

  it('counts a call seen from both ends once, and skips gRPC progress records', () => {
    const stats = new EdgeStats(10_000, 5_000, 5_000, T0);
    stats.add(sampleFlow(), T0);
    stats.add(sampleFlow({ observedAt: 'SERVER' }), T0);
    // The server side of a call from off the host (no client pid) is the only copy.
    stats.add(sampleFlow({ observedAt: 'SERVER', source: { ip: '192.0.2.7', port: 5000 } }), T0);
    stats.add(sampleFlow({ protocol: 'GRPC', grpc: { service: 's', method: 'm', requestMessages: 1, responseMessages: 0, inProgress: true } }), T0);
    expect(stats.rows(T0 + 1000).map((r) => `${r.source} ${r.requests}`).sort()).toEqual(['192.0.2.7 1', 'shop/web 1']);
  });

  it('rates over the time watched until a window has passed, and forgets idle edges', () => {
    const stats = new EdgeStats(10_000, 5_000, 5_000, T0);
    for (let i = 0; i < 20; i++) stats.add(sampleFlow(), T0 + 500);
    expect(stats.rows(T0 + 2000)[0]!.rps).toBe(10);
    expect(stats.rows(T0 + 12_000)).toEqual([]);
  });

  it('caps latency samples per second but keeps counts exact', () => {
    const stats = new EdgeStats(10_000, 10, 5_000, T0);
    for (let i = 0; i < 50; i++) stats.add(sampleFlow(), T0 + 10);
    expect(stats.rows(T0 + 1000)[0]!.requests).toBe(50);
    expect(stats.overflow).toBe(40);
  });

  it('renders an aligned table', () => {
    const stats = new EdgeStats(10_000, 5_000, 5_000, T0);
    stats.add(sampleFlow({ status: 500 }), T0);
    const lines = renderEdgeTable(stats.rows(T0 + 1000), plainStyle, 10);
    expect(lines[0]).toMatch(/^SOURCE\s+DESTINATION\s+PROTOCOL\s+RPS\s+ERRORS\s+P50\s+P99\s+TLS$/);
    expect(lines[1]).toMatch(/^shop\/web\s+shop\/db:8080\s+HTTP1\s+1\.0\s+100\.0%\s+1\.5ms\s+1\.5ms\s+no$/);
    expect(lines[1]!.indexOf('HTTP1')).toBe(lines[0]!.indexOf('PROTOCOL'));
  });
});
