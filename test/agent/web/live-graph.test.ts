import { describe, expect, it } from 'vitest';
import { addressBlock, endpointName, graphNodeOf, LiveGraph } from '../../../agent/web/assets/live-graph.js';
import type { Flow } from '../../../agent/schema/flow.js';

function flow(overrides: Partial<Flow> = {}): Flow {
  return {
    time: '2026-11-23T10:00:00.000000000Z',
    durationNs: '1000000',
    protocol: 'HTTP1',
    tls: false,
    observedAt: 'SERVER',
    source: { ip: '10.0.0.1', port: 40000, workload: 'web', namespace: 'shop' },
    destination: { ip: '10.0.0.2', port: 8080, workload: 'api', namespace: 'shop' },
    http: { method: 'GET', path: '/', status: 200, requestBytes: '1', responseBytes: '1' },
    connId: '1:2:3',
    ...overrides,
  };
}

describe('live graph', () => {
  it('names graph nodes as the agent map does: workload, then process, then address block', () => {
    expect(graphNodeOf({ ip: '10.0.0.1', port: 1, workload: 'web', namespace: 'shop', workloadKind: 'Deployment' }))
      .toEqual({ id: 'shop/web', label: 'web', kind: 'Deployment', namespace: 'shop' });
    expect(graphNodeOf({ ip: '127.0.0.1', port: 50123, process: 'curl' })).toMatchObject({ id: 'process:curl', label: 'curl', kind: 'process' });
    expect(graphNodeOf({ ip: '198.18.3.9', port: 50123 })).toMatchObject({ id: 'external:198.18.3.0/24', kind: 'external' });
    expect(addressBlock('::ffff:198.18.3.9')).toBe('198.18.3.0/24');
    expect(addressBlock('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBlock('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressBlock('not an ip')).toBe('not an ip');
  });

  it('names ends in the table by workload, then process, then address', () => {
    expect(endpointName({ ip: '10.1.1.1', port: 8080, workload: 'api', process: 'node' })).toBe('api');
    expect(endpointName({ ip: '127.0.0.1', port: 50123, process: 'curl' })).toBe('curl');
    expect(endpointName({ ip: '192.0.2.9', port: 50123 })).toBe('192.0.2.9');
  });

  it('builds edges with rate, errors, latency percentiles and TLS state from flows', () => {
    const graph = new LiveGraph();
    const now = 1_000_000;
    for (let i = 0; i < 19; i++) graph.addFlow(flow({ durationNs: String((i + 1) * 1_000_000) }), now);
    graph.addFlow(flow({ http: { method: 'GET', path: '/', status: 502, requestBytes: '1', responseBytes: '1' }, durationNs: '100000000' }), now);
    graph.addFlow(flow({ http: { method: 'GET', path: '/', status: 404, requestBytes: '1', responseBytes: '1' } }), now);
    const { nodes, edges } = graph.snapshot(now);
    expect(nodes.map((n) => n.id)).toEqual(['shop/api', 'shop/web']);
    expect(edges).toHaveLength(1);
    const edge = edges[0]!;
    expect(edge).toMatchObject({ source: 'shop/web', destination: 'shop/api', port: 8080, protocol: 'HTTP1', tls: 'plaintext', requests: 21, errors: 1, from: 'stream' });
    expect(edge.rps).toBeCloseTo(2.1);
    expect(edge.p50Ms).toBe(10);
    expect(edge.p99Ms).toBe(100);
    // Ten seconds later the rate has decayed to zero; the totals stay.
    expect(graph.snapshot(now + 10_000).edges[0]!.rps).toBe(0);
    graph.addFlow(flow({ tls: true }), now);
    expect(graph.snapshot(now).edges[0]!.tls).toBe('mixed');
  });

  it('counts a call seen from both local ends once', () => {
    const graph = new LiveGraph();
    const local = { source: { ip: '127.0.0.1', port: 5000, pid: 10, process: 'curl' }, destination: { ip: '127.0.0.1', port: 80, pid: 11, process: 'nginx' } };
    graph.addFlow(flow({ ...local, observedAt: 'CLIENT' }), 0);
    graph.addFlow(flow({ ...local, observedAt: 'SERVER' }), 0);
    expect(graph.snapshot(0).edges[0]!.requests).toBe(1);
    // A remote server is only ever seen from the client.
    graph.addFlow(flow({ source: local.source, destination: { ip: '198.18.0.5', port: 443 }, observedAt: 'CLIENT' }), 0);
    expect(graph.snapshot(0).edges.find((e) => e.destination === 'external:198.18.0.0/24')?.requests).toBe(1);
  });

  it('merges the agent map with stream edges, the stream winning where both know an edge', () => {
    const graph = new LiveGraph();
    graph.setMap({
      nodes: [{ id: 'shop/web', workload: 'web', namespace: 'shop', kind: 'Deployment' }, { id: 'shop/db', workload: 'db', namespace: 'shop', kind: 'StatefulSet' }],
      edges: [
        { source: 'shop/web', destination: 'shop/db', port: 5432, protocol: 'HTTP1', tls: true, requests: 7, errors: 0, p50Ms: 1, p99Ms: 2, rps: 0.5 },
        { source: 'shop/web', destination: 'shop/api', port: 8080, protocol: 'HTTP1', tls: false, requests: 1000, errors: 0, rps: 9 },
      ],
    });
    graph.addFlow(flow(), 0);
    const { nodes, edges } = graph.snapshot(0);
    expect(nodes.find((n) => n.id === 'shop/db')).toMatchObject({ label: 'db', kind: 'StatefulSet' });
    expect(edges.find((e) => e.destination === 'shop/db')).toMatchObject({ from: 'map', tls: 'tls', requests: 7 });
    expect(edges.find((e) => e.destination === 'shop/api')).toMatchObject({ from: 'stream', requests: 1 });
    graph.clearLive();
    expect(graph.snapshot(0).edges.find((e) => e.destination === 'shop/api')).toMatchObject({ from: 'map', requests: 1000 });
  });

  it('ignores malformed map entries instead of failing', () => {
    const graph = new LiveGraph();
    graph.setMap({ nodes: [null, { id: 7 }] as never, edges: [{ source: 'a' }, null] as never });
    expect(graph.snapshot(0)).toEqual({ nodes: [], edges: [] });
  });
});
