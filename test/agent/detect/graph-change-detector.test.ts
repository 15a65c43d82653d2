import { describe, expect, it } from 'vitest';
import { anomalyThroughSchema } from '../../../agent/schema/flow.js';
import { Harness } from './engine-harness.js';

function learnt(config?: ConstructorParameters<typeof Harness>[0]): Harness {
  const h = new Harness(config);
  // 70 s: the 60 s learn window, then 10 s of the same traffic in detect mode.
  h.run(70, () => 6, (s, n) =>
    n === 5 ? { tls: true, destination: { workload: 'payments', port: 443 }, method: 'POST', path: '/pay' } : { path: `/api/orders/${s * 10 + n}` });
  return h;
}

describe('NEW_EDGE', () => {
  it('fires when a workload calls one it never called while learning, with T1021 and evidence', () => {
    const h = learnt();
    expect(h.emitted).toEqual([]);
    h.send({ destination: { workload: 'admin', port: 9000 }, path: '/users/5' });
    expect(h.emitted).toHaveLength(1);
    const a = h.emitted[0]!;
    expect(a).toMatchObject({ kind: 'NEW_EDGE', severity: 'MEDIUM', state: 'OPEN', mitreTechnique: 'T1021', endpoint: 'GET /users/{id}', count: '1', destinationPort: 9000, protocol: 'HTTP1' });
    expect(a.summary).toContain('shop/frontend called shop/admin on port 9000');
    expect(a.evidence).toHaveLength(1);
    expect(a.source.workload).toBe('frontend');
    expect(anomalyThroughSchema(a)).toEqual(a);
  });

  it('fires for an unknown external address block with HIGH severity', () => {
    const h = learnt();
    h.send({ destination: { workload: undefined, ip: '198.19.7.7', port: 443 }, tls: true });
    expect(h.emitted[0]).toMatchObject({ kind: 'NEW_EDGE', severity: 'HIGH' });
    expect(h.emitted[0]!.details!.edge).toContain('external:198.19.7.0/24');
  });

  it('stays quiet while learning, even for edges seen only once', () => {
    const h = new Harness();
    h.run(50, (s) => (s % 10 === 0 ? 1 : 0), (s) => ({ destination: { workload: `svc${s}` } }));
    expect(h.emitted).toEqual([]);
  });
});

describe('NEW_ENDPOINT', () => {
  it('fires for an endpoint never seen on a known edge, and templating keeps known ones quiet', () => {
    const h = learnt();
    h.send({ path: '/api/orders/999999' });
    expect(h.emitted).toEqual([]);
    h.send({ method: 'DELETE', path: '/api/orders/7' });
    expect(h.emitted.map((a) => [a.kind, a.endpoint, a.severity])).toEqual([['NEW_ENDPOINT', 'DELETE /api/orders/{id}', 'LOW']]);
  });

  it('is keyed per endpoint: two new endpoints are two anomalies', () => {
    const h = learnt();
    h.send({ path: '/admin/export' });
    h.send({ path: '/admin/export' });
    h.send({ path: '/debug/vars' });
    expect(h.emitted.map((a) => a.endpoint)).toEqual(['GET /admin/export', 'GET /debug/vars']);
    expect(h.engine.anomalies({ kind: 'NEW_ENDPOINT' }).find((a) => a.endpoint === 'GET /admin/export')!.count).toBe('2');
  });
});

describe('NEW_ENDPOINT flood control', () => {
  it('ignores unanswered calls (404 walks belong to SCAN)', () => {
    const h = learnt();
    h.send({ path: '/wp-admin', status: 404 });
    h.send({ path: '/.env', status: 403 });
    expect(h.emitted).toEqual([]);
    h.send({ path: '/wp-admin', status: 200 });
    expect(h.emitted.map((a) => a.endpoint)).toEqual(['GET /wp-admin']);
  });

  it('past the per-edge budget, new endpoints share one anomaly', () => {
    const h = learnt({ config: { graph: { newEndpointsPerEdge: 3 } } });
    for (let i = 0; i < 10; i++) h.send({ path: `/hidden${String.fromCharCode(97 + i)}` });
    const open = h.engine.anomalies({ kind: 'NEW_ENDPOINT' });
    expect(open).toHaveLength(4);
    const many = open.find((a) => a.summary.includes('many endpoints'))!;
    expect(many.count).toBe('7');
  });
});

describe('NEW_PROTOCOL and PLAINTEXT', () => {
  it('a known route speaking another protocol is NEW_PROTOCOL, not NEW_EDGE', () => {
    const h = learnt();
    h.send({ protocol: 'HTTP2' });
    expect(h.emitted.map((a) => a.kind)).toEqual(['NEW_PROTOCOL']);
    expect(h.emitted[0]!.details).toMatchObject({ protocol: 'HTTP2', baselineProtocols: 'HTTP1' });
  });

  it('a route learnt over TLS now in plaintext is PLAINTEXT (HIGH)', () => {
    const h = learnt();
    h.send({ tls: false, destination: { workload: 'payments', port: 443 }, method: 'POST', path: '/pay' });
    expect(h.emitted.map((a) => [a.kind, a.severity])).toEqual([['PLAINTEXT', 'HIGH']]);
    expect(h.emitted[0]!.summary).toContain('always TLS');
  });

  it('any internal plaintext HTTP is flagged only when configured', () => {
    const quiet = learnt();
    quiet.send({});
    expect(quiet.emitted).toEqual([]);
    // The 10 s of detect-mode traffic inside learnt() already carry plaintext orders calls.
    const strict = learnt({ config: { graph: { plaintextInternalHttp: true } } });
    const open = strict.engine.anomalies();
    expect(open.map((a) => [a.kind, a.severity, a.destinationPort, a.destination.workload])).toEqual([['PLAINTEXT', 'LOW', 8080, 'orders']]);
    expect(Number(open[0]!.count)).toBeGreaterThanOrEqual(40);
  });

  it('each rule can be switched off', () => {
    const h = learnt({ config: { graph: { newEdge: false, newEndpoint: false, newProtocol: false, plaintext: false } } });
    h.send({ destination: { workload: 'admin' } });
    h.send({ path: '/new' });
    h.send({ protocol: 'HTTP2' });
    h.send({ tls: false, destination: { workload: 'payments', port: 443 }, method: 'POST', path: '/pay' });
    expect(h.emitted).toEqual([]);
  });
});
