// RedMetrics remembers the last few label sets it resolved so that a flow on a
// busy edge skips building its label key. The counts must be exactly those of
// a series per label set, with the series cap and its overflow series as
// before, whatever order the flows come in.
import fc from 'fast-check';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OVERFLOW_LABEL, RedMetrics } from '../../../agent/metrics/red-metrics.js';
import type { Endpoint, Flow } from '../../../agent/schema/flow.js';

const end = fc.record({
  workload: fc.constantFrom(undefined, 'web', 'api'),
  namespace: fc.constantFrom(undefined, 'shop', 'ops'),
  process: fc.constantFrom(undefined, 'nginx'),
  port: fc.constantFrom(80, 8080),
});

const flowOf = (s: Partial<Endpoint>, d: Partial<Endpoint>, tls: boolean, observedAt: 'CLIENT' | 'SERVER', protocol: 'HTTP1' | 'HTTP2'): Flow => ({
  time: '2026-11-23T10:00:00.000000000Z',
  durationNs: '2000000',
  protocol,
  tls,
  observedAt,
  source: { ip: '10.0.0.1', ...clean(s) },
  destination: { ip: '10.0.0.2', ...clean(d) },
  http: { method: 'GET', path: '/', status: 200, requestBytes: '1', responseBytes: '1' },
  connId: '1:1:1',
} as Flow);

function clean(e: Partial<Endpoint>): Partial<Endpoint> {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined));
}

/** The label set the series of a flow carries, as text. */
function labelsOf(f: Flow): string {
  const w = (e: Endpoint): string => e.workload || e.process || 'external';
  return [w(f.source), f.source.namespace ?? '', w(f.destination), f.destination.namespace ?? '', f.protocol, String(f.tls),
    f.observedAt === 'SERVER' ? 'server' : 'client', String(f.destination.port)].join('|');
}

async function requestsBySeries(registry: client.Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line.startsWith('flowscope_requests_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = ['source_workload', 'source_namespace', 'destination_workload', 'destination_namespace', 'protocol', 'tls', 'reporter', 'destination_port']
      .map((n) => labels[n]).join('|');
    out.set(key, Number(line.split(' ').at(-1)));
  }
  return out;
}

describe('RED metrics label-set memory', () => {
  it('counts as one series per label set, up to the cap, with the rest in the overflow series', async () => {
    const flows = fc.array(
      fc.tuple(end, end, fc.boolean(), fc.constantFrom('CLIENT', 'SERVER') as fc.Arbitrary<'CLIENT' | 'SERVER'>, fc.constantFrom('HTTP1', 'HTTP2') as fc.Arbitrary<'HTTP1' | 'HTTP2'>)
        .map(([s, d, tls, at, protocol]) => flowOf(s, d, tls, at, protocol)),
      { maxLength: 60 },
    );
    await fc.assert(fc.asyncProperty(flows, fc.integer({ min: 1, max: 12 }), async (list, maxSeries) => {
      const registry = new client.Registry();
      const red = new RedMetrics(registry, { maxSeries });
      const expected = new Map<string, number>();
      const overflow = new Array<string>(8).fill(OVERFLOW_LABEL).join('|');
      for (const f of list) {
        red.observe(f);
        const key = labelsOf(f);
        if (expected.has(key) || expected.size - (expected.has(overflow) ? 1 : 0) < maxSeries) expected.set(key, (expected.get(key) ?? 0) + 1);
        else expected.set(overflow, (expected.get(overflow) ?? 0) + 1);
      }
      expect(await requestsBySeries(registry)).toEqual(expected);
    }), { numRuns: 150 });
  });
});
