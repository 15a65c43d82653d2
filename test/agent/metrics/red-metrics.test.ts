import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RedMetrics } from '../../../agent/metrics/red-metrics.js';
import type { Flow } from '../../../agent/schema/flow.js';

function flow(overrides: Partial<Flow> & { status?: number } = {}): Flow {
  const { status = 200, ...rest } = overrides;
  return {
    time: '2026-11-23T10:00:00.000000000Z',
    durationNs: '2000000',
    protocol: 'HTTP1',
    tls: false,
    observedAt: 'SERVER',
    source: { ip: '10.0.0.1', port: 40000, pid: 11, process: 'curl', workload: 'web', namespace: 'shop', pod: 'web-7d9f-abcde' },
    destination: { ip: '10.0.0.2', port: 8080, pid: 12, process: 'nginx', workload: 'api', namespace: 'shop', pod: 'api-5c4b-fghij' },
    http: { method: 'GET', path: '/users/123', status, requestBytes: '80', responseBytes: '200' },
    connId: '12:5:1',
    ...rest,
  };
}

async function scrape(registry: client.Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n');
}

/** The value of the one sample line that starts with `prefix` and contains every fragment. */
function sample(lines: string[], prefix: string, ...fragments: string[]): number {
  const matching = lines.filter((l) => l.startsWith(prefix) && fragments.every((f) => l.includes(f)));
  expect(matching, `${prefix} ${fragments.join(' ')} in\n${lines.join('\n')}`).toHaveLength(1);
  return Number(matching[0]!.split(' ').at(-1));
}

describe('RED metrics', () => {
  it('counts requests, 5xx errors and durations per workload edge', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry);
    red.observe(flow());
    red.observe(flow({ status: 503, durationNs: '40000000' }));
    red.observe(flow({ status: 404 }));
    const lines = await scrape(registry);
    const edge = ['source_workload="web"', 'destination_workload="api"', 'source_namespace="shop"', 'protocol="HTTP1"', 'tls="false"', 'reporter="server"', 'destination_port="8080"'];
    expect(sample(lines, 'flowscope_requests_total{', ...edge)).toBe(3);
    // 4xx is a request but not an error.
    expect(sample(lines, 'flowscope_request_errors_total{', ...edge)).toBe(1);
    expect(sample(lines, 'flowscope_request_duration_seconds_count{', ...edge)).toBe(3);
    expect(sample(lines, 'flowscope_request_duration_seconds_sum{', ...edge)).toBeCloseTo(0.044, 9);
    expect(sample(lines, 'flowscope_request_duration_seconds_bucket{', ...edge, 'le="0.0025"')).toBe(2);
    expect(sample(lines, 'flowscope_request_duration_seconds_bucket{', ...edge, 'le="0.05"')).toBe(3);
  });

  it('never puts paths or pod names in labels unless endpoint labels are configured', async () => {
    const registry = new client.Registry();
    new RedMetrics(registry).observe(flow());
    const text = await registry.metrics();
    expect(text).not.toContain('/users');
    expect(text).not.toContain('web-7d9f-abcde');

    const detailed = new client.Registry();
    new RedMetrics(detailed, { endpointLabels: true }).observe(flow());
    const lines = await scrape(detailed);
    expect(sample(lines, 'flowscope_requests_total{', 'endpoint="GET /users/{id}"', 'source_pod="web-7d9f-abcde"', 'destination_pod="api-5c4b-fghij"')).toBe(1);
  });

  it('treats gRPC statuses other than OK and missing responses as errors', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry);
    const grpc = (status: number | undefined): Flow => flow({
      protocol: 'GRPC',
      grpc: { service: 'shop.Users', method: 'Get', status, requestMessages: 1, responseMessages: status === 0 ? 1 : 0 },
    });
    red.observe(grpc(0));
    red.observe(grpc(14));
    red.observe(grpc(5));
    red.observe(flow({ status: 0, issues: ['NO_RESPONSE'] }));
    const lines = await scrape(registry);
    expect(sample(lines, 'flowscope_requests_total{', 'protocol="GRPC"')).toBe(3);
    expect(sample(lines, 'flowscope_request_errors_total{', 'protocol="GRPC"')).toBe(2);
    expect(sample(lines, 'flowscope_request_errors_total{', 'protocol="HTTP1"')).toBe(1);
  });

  it('skips progress records of open gRPC streams and counts them as skipped', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry);
    red.observe(flow({ protocol: 'GRPC', grpc: { service: 's.S', method: 'Watch', requestMessages: 1, responseMessages: 9, inProgress: true } }));
    red.observe(flow({ durationNs: 'garbage' }));
    const lines = await scrape(registry);
    expect(lines.some((l) => l.startsWith('flowscope_requests_total{'))).toBe(false);
    expect(sample(lines, 'flowscope_red_flows_skipped_total{', 'reason="in_progress"')).toBe(1);
    expect(sample(lines, 'flowscope_red_flows_skipped_total{', 'reason="bad_duration"')).toBe(1);
  });

  it('keeps the client and server view of one call apart with the reporter label', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry);
    red.observe(flow({ observedAt: 'CLIENT' }));
    red.observe(flow({ observedAt: 'SERVER' }));
    const lines = await scrape(registry);
    expect(sample(lines, 'flowscope_requests_total{', 'reporter="client"')).toBe(1);
    expect(sample(lines, 'flowscope_requests_total{', 'reporter="server"')).toBe(1);
  });

  it('falls back to the process name, then to external, for ends without a workload', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry);
    red.observe(flow({ source: { ip: '127.0.0.1', port: 50000, pid: 3, process: 'curl' }, destination: { ip: '192.0.2.7', port: 443 }, tls: true }));
    const lines = await scrape(registry);
    expect(sample(lines, 'flowscope_requests_total{', 'source_workload="curl"', 'destination_workload="external"', 'tls="true"')).toBe(1);
  });

  it('folds label sets beyond the cap into one _other series and counts them', async () => {
    const registry = new client.Registry();
    const red = new RedMetrics(registry, { maxSeries: 3 });
    for (let i = 0; i < 10; i++) {
      red.observe(flow({ source: { ip: '10.0.1.1', port: 1000 + i, workload: `client-${i}` } }));
    }
    red.observe(flow({ source: { ip: '10.0.1.1', port: 999, workload: 'client-0' } }));
    expect(red.seriesCount).toBe(3);
    const lines = await scrape(registry);
    const series = lines.filter((l) => l.startsWith('flowscope_requests_total{'));
    expect(series).toHaveLength(4);
    expect(sample(lines, 'flowscope_requests_total{', 'source_workload="client-0"')).toBe(2);
    expect(sample(lines, 'flowscope_requests_total{', 'source_workload="_other"', 'destination_workload="_other"')).toBe(7);
    expect(sample(lines, 'flowscope_red_series_overflow_total')).toBe(7);
  });

  it('drops the destination port label when asked', async () => {
    const registry = new client.Registry();
    new RedMetrics(registry, { destinationPort: false }).observe(flow());
    expect(await registry.metrics()).not.toContain('destination_port');
  });
});
