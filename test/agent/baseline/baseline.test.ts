import { describe, expect, it } from 'vitest';
import { authSchemeOf, Baseline, defaultWindowMs, OVERFLOW_ENDPOINT } from '../../../agent/baseline/baseline.js';
import { addressBlock, nodeOf } from '../../../agent/baseline/graph-node.js';
import { renderMapDot, renderMapMermaid, renderMapText } from '../../../agent/cli/render/service-map.js';
import { plainStyle } from '../../../agent/cli/render/style.js';
import { serviceMap } from '../../../agent/baseline/service-map.js';
import { makeFlow, type FlowSpec } from './make-flow.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');

function feed(baseline: Baseline, spec: FlowSpec, endpoint = `${spec.method ?? 'GET'} /api/orders/{id}`): void {
  const { flow, exchange } = makeFlow(spec);
  const lookup = baseline.lookup(flow, endpoint, spec.timeMs);
  baseline.record(lookup, Baseline.sampleOf(flow, exchange, spec.timeMs));
}

describe('graph nodes', () => {
  it('names a node by workload, else process, else address block', () => {
    expect(nodeOf({ ip: '10.0.0.1', port: 1, workload: 'api', namespace: 'shop', workloadKind: 'Deployment' })).toEqual({
      id: 'shop/api', workload: 'api', namespace: 'shop', kind: 'Deployment',
    });
    expect(nodeOf({ ip: '127.0.0.1', port: 1, process: 'nginx' })).toEqual({ id: 'process:nginx', workload: 'nginx', kind: 'process' });
    expect(nodeOf({ ip: '198.18.4.77', port: 1 }).id).toBe('external:198.18.4.0/24');
    expect(nodeOf({ ip: '127.0.0.1', port: 1 })).toEqual({ id: 'host:127.0.0.0/24', workload: 'host:127.0.0.0/24', kind: 'host' });
  });

  it('blocks IPv4 by /24 and IPv6 by /64', () => {
    expect(addressBlock('198.18.0.9')).toBe('198.18.0.0/24');
    expect(addressBlock('::ffff:198.18.1.9')).toBe('198.18.1.0/24');
    expect(addressBlock('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressBlock('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBlock('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressBlock('not an ip')).toBe('not an ip');
  });
});

describe('Baseline', () => {
  it('keys edges by nodes, port, protocol and TLS and keeps per-endpoint statistics', () => {
    const baseline = new Baseline({ now: () => T0 });
    for (let i = 0; i < 100; i++) {
      feed(baseline, { timeMs: T0 + i * 100, latencyMs: 10 + (i % 10), status: i % 20 === 0 ? 503 : 200, responseBytes: 1000 + i, headers: [['Authorization', 'Bearer abc.def.ghi']] });
    }
    feed(baseline, { timeMs: T0 + 20_000, tls: true }, 'GET /health');
    feed(baseline, { timeMs: T0 + 20_000, grpc: { service: 'shop.Orders', method: 'Get', status: 14 }, protocol: 'GRPC' }, 'shop.Orders/Get');
    expect(baseline.edgeCount).toBe(3);
    const edge = [...baseline.edges()].find((e) => !e.tls && e.protocol === 'HTTP1')!;
    expect(edge.source.id).toBe('shop/frontend');
    expect(edge.destination.id).toBe('shop/orders');
    expect(edge.requests).toBe(100);
    expect(edge.errors).toBe(5);
    expect(edge.statusClasses).toEqual([0, 0, 95, 0, 0, 5]);
    expect(Object.fromEntries(edge.topCodes)).toEqual({ 200: 95, 503: 5 });
    expect(edge.authSchemes).toEqual(['Bearer']);
    expect(edge.firstSeenMs).toBe(T0);
    expect(edge.lastSeenMs).toBe(T0 + 9900);
    expect(Math.abs(edge.latencyMs.quantile(0.5) - 14) / 14).toBeLessThan(0.02);
    const endpoint = edge.endpoints.get('GET /api/orders/{id}')!;
    expect(endpoint.requests).toBe(100);
    expect(endpoint.baselined).toBe(true);
    const grpc = [...baseline.edges()].find((e) => e.protocol === 'GRPC')!;
    expect(grpc.errors).toBe(1);
    expect([...grpc.topCodes.keys()]).toEqual(['grpc 14']);
  });

  it('reads only the Authorization scheme, never the credential', () => {
    const scheme = (value: string): string | undefined => authSchemeOf(makeFlow({ timeMs: T0, headers: [['authorization', value]] }).exchange);
    expect(scheme('Basic dXNlcjpwYXNz')).toBe('Basic');
    expect(scheme('bearer x')).toBe('Bearer');
    expect(scheme('dXNlcjpwYXNz')).toBe('other');
    expect(scheme('AWS4-HMAC-SHA256 Credential=x')).toBe('AWS4-HMAC-SHA256');
    expect(scheme('{"json": 1}')).toBe('other');
    expect(authSchemeOf(makeFlow({ timeMs: T0 }).exchange)).toBeUndefined();
  });

  it('learns for its window, then edges and endpoints first seen are outside the baseline', () => {
    let now = T0;
    const baseline = new Baseline({ learnWindowMs: 60_000, now: () => now });
    feed(baseline, { timeMs: T0 });
    expect(baseline.mode(T0).mode).toBe('learn');
    now = T0 + 61_000;
    expect(baseline.mode(now).mode).toBe('detect');
    feed(baseline, { timeMs: now, destination: { workload: 'payments' } });
    feed(baseline, { timeMs: now }, 'DELETE /api/orders/{id}');
    const edges = [...baseline.edges()];
    expect(edges.find((e) => e.destination.id === 'shop/payments')!.baselined).toBe(false);
    const known = edges.find((e) => e.destination.id === 'shop/orders')!;
    expect(known.baselined).toBe(true);
    expect(known.endpoints.get('DELETE /api/orders/{id}')!.baselined).toBe(false);
    expect(baseline.accept(known.key, 'DELETE /api/orders/{id}')).toBe(true);
    expect(known.endpoints.get('DELETE /api/orders/{id}')!.baselined).toBe(true);
  });

  it('shortens the statistics window so a short learn window still holds about 30 of them', () => {
    expect(defaultWindowMs(86_400_000)).toBe(10_000);
    expect(defaultWindowMs(90_000)).toBe(3000);
    expect(defaultWindowMs(10_000)).toBe(1000);
    expect(new Baseline({ learnWindowMs: 120_000 }).windowMs).toBe(4000);
  });

  it('caps endpoints per edge into an overflow endpoint and counts it', () => {
    const baseline = new Baseline({ maxEndpointsPerEdge: 3, now: () => T0 });
    for (let i = 0; i < 10; i++) feed(baseline, { timeMs: T0 + i }, `GET /p${i}`);
    const edge = [...baseline.edges()][0]!;
    expect([...edge.endpoints.keys()]).toEqual(['GET /p0', 'GET /p1', 'GET /p2', OVERFLOW_ENDPOINT]);
    expect(edge.endpointOverflow).toBe(7);
    expect(edge.endpoints.get(OVERFLOW_ENDPOINT)!.requests).toBe(7);
    expect(baseline.counters.endpointOverflow).toBe(7);
  });

  it('evicts the least recently seen edges and endpoints past the caps, counting them', () => {
    const baseline = new Baseline({ maxEdges: 50, maxEndpoints: 60, now: () => T0 });
    for (let i = 0; i < 80; i++) feed(baseline, { timeMs: T0 + i, destination: { workload: `svc${i}` } }, `GET /a${i}`);
    expect(baseline.edgeCount).toBeLessThanOrEqual(50);
    expect(baseline.counters.edgeEvictions).toBeGreaterThanOrEqual(30);
    const names = [...baseline.edges()].map((e) => e.destination.workload);
    expect(names).toContain('svc79');
    expect(names).not.toContain('svc0');
    for (let i = 0; i < 100; i++) feed(baseline, { timeMs: T0 + 1000 + i, destination: { workload: 'svc79' } }, `GET /b${i}`);
    expect(baseline.endpointCount).toBeLessThanOrEqual(60);
    expect(baseline.counters.endpointEvictions).toBeGreaterThan(0);
  });

  it('relearn drops a workload\'s edges and lets them learn again for the relearn window', () => {
    let now = T0;
    const baseline = new Baseline({ learnWindowMs: 1000, relearnWindowMs: 5000, now: () => now });
    feed(baseline, { timeMs: T0 });
    feed(baseline, { timeMs: T0, source: { workload: 'batch' }, destination: { workload: 'reports' } });
    now = T0 + 10_000;
    const result = baseline.relearn('orders', now);
    expect(result).toEqual({ nodes: ['shop/orders'], droppedEdges: 1, learnUntilMs: now + 5000 });
    expect(baseline.edgeCount).toBe(1);
    expect(baseline.isLearning('shop/frontend', 'shop/orders', now + 100)).toBe(true);
    expect(baseline.isLearning('shop/batch', 'shop/reports', now + 100)).toBe(false);
    feed(baseline, { timeMs: now + 100 });
    expect([...baseline.edges()].find((e) => e.destination.id === 'shop/orders')!.baselined).toBe(true);
    expect(baseline.mode(now + 100).relearning).toEqual({ 'shop/orders': now + 5000 });
  });
});

describe('service map', () => {
  it('lists nodes and edges with request figures, rendered in four formats', () => {
    const baseline = new Baseline({ now: () => T0 });
    for (let i = 0; i < 60; i++) feed(baseline, { timeMs: T0 + i * 1000, latencyMs: 20, status: i < 6 ? 500 : 200 });
    feed(baseline, { timeMs: T0 + 59_000, source: { workload: undefined, process: 'curl' }, destination: { workload: undefined, ip: '198.18.9.9', port: 443 }, tls: true });
    const map = serviceMap(baseline, T0 + 60_000);
    expect(map.nodes.map((n) => n.id)).toEqual(['external:198.18.9.0/24', 'process:curl', 'shop/frontend', 'shop/orders']);
    expect(map.nodes.find((n) => n.id === 'shop/orders')).toEqual({ id: 'shop/orders', workload: 'orders', namespace: 'shop', kind: 'workload' });
    const edge = map.edges.find((e) => e.destination === 'shop/orders')!;
    expect(edge).toMatchObject({ source: 'shop/frontend', port: 8080, protocol: 'HTTP1', tls: false, requests: 60, errors: 6 });
    expect(edge.p50Ms).toBeCloseTo(20, 0);
    expect(edge.p99Ms).toBeCloseTo(20, 0);
    expect(edge.rps).toBeGreaterThan(0.4);
    expect(edge.rps).toBeLessThan(1.1);
    expect(Object.keys(edge).sort()).toEqual(['destination', 'errors', 'p50Ms', 'p99Ms', 'port', 'protocol', 'requests', 'rps', 'source', 'tls']);

    // The renderers flowscope map uses, on the map the baseline serves.
    const text = renderMapText(map, plainStyle);
    expect(text).toContain('frontend');
    expect(text).toContain('8080');
    const dot = renderMapDot(map);
    expect(dot).toMatch(/^digraph flowscope \{/);
    expect(dot).toContain('"shop/frontend" -> "shop/orders"');
    expect(dot).toContain('"process:curl" -> "external:198.18.9.0/24"');
    const mermaid = renderMapMermaid(map);
    expect(mermaid.split('\n')[0]).toBe('graph LR');
    expect(mermaid).toMatch(/n\d -\.->\|"[^"]*8080[^"]*"\| n\d/);
  });

  it('escapes quotes in DOT and Mermaid labels', () => {
    const map = { nodes: [{ id: 'a"b', workload: 'a"b', kind: 'process' }, { id: 'c', workload: 'c', kind: 'process' }], edges: [] };
    expect(renderMapDot(map)).toContain('"a\\"b"');
    expect(renderMapMermaid(map)).toContain('#quot;');
  });
});
