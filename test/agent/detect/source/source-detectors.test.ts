// Per-source detectors over sequences of real exchanges with controlled times:
// a dirb-style path scan, a port sweep, an id walk (BOLA) and a burst of
// authentication failures fire; the same volume of normal traffic does not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Finding, Observation } from '../../../../agent/detect/finding.js';
import { AuthFailureDetector, createSourceDetectors, EnumerationDetector, observesConnections, ScanDetector } from '../../../../agent/detect/source/index.js';
import type { ConnectionRecord } from '../../../../agent/schema/flow.js';
import { ObservationFactory, type ExchangeOptions } from '../content/http-observations.js';

const factory = new ObservationFactory();
const T0 = Date.parse('2026-11-23T12:00:00Z');
const scanPaths = readFileSync(new URL('../../../fixtures/attacks/scan-paths.txt', import.meta.url), 'utf8')
  .split('\n').filter((l) => l !== '' && !l.startsWith('#'));

const get = (target: string, status: number, options: ExchangeOptions): Observation =>
  factory.observe({ target }, { status }, options);

function run(detector: { observe(o: Observation): Finding[] | undefined }, observations: Observation[]): Finding[] {
  return observations.flatMap((o) => detector.observe(o) ?? []);
}

describe('ScanDetector', () => {
  it('fires when one source tries many distinct paths that are mostly not found', () => {
    const detector = new ScanDetector();
    const attempts = scanPaths.slice(0, 25).map((p, i) => get(`/${p}`, 404, { workload: 'intruder', nowMs: T0 + i * 200 }));
    const findings = run(detector, attempts);
    expect(findings.length).toBeGreaterThan(0);
    // It fires at the 20th distinct path, within 4 s of the scan starting.
    expect(findings[0]!.flow).toBe(attempts[19]!.flow);
    expect(findings[0]).toMatchObject({
      kind: 'SCAN', subject: 'paths', mitreTechnique: 'T1046',
      details: { source: 'intruder', distinctPaths: '20', failureRatio: '1.00' },
    });
  });

  it('stays quiet for a client browsing many pages that exist, and for scans slower than the window', () => {
    const detector = new ScanDetector();
    expect(run(detector, scanPaths.slice(0, 40).map((p, i) => get(`/${p}`, 200, { workload: 'crawler', nowMs: T0 + i * 100 })))).toEqual([]);
    expect(run(detector, scanPaths.slice(0, 40).map((p, i) => get(`/${p}`, 404, { workload: 'slow', nowMs: T0 + i * 2_000 })))).toEqual([]);
  });

  it('counts templated paths: a client looking up many missing keys is not scanning', () => {
    const detector = new ScanDetector();
    const misses = Array.from({ length: 60 }, (_, i) => get(`/cache/${(0xabcdef0123456 + i).toString(16)}aaaa`, 404, { workload: 'cache-client', nowMs: T0 + i * 100 }));
    expect(misses[0]!.endpoint).toBe('GET /cache/{hash}');
    expect(run(detector, misses)).toEqual([]);
  });

  it('keeps sources apart: two clients each below the threshold do not add up', () => {
    const detector = new ScanDetector();
    const mixed = scanPaths.slice(0, 30).map((p, i) => get(`/${p}`, 404, { workload: i % 2 ? 'a' : 'b', nowMs: T0 + i * 100 }));
    expect(run(detector, mixed)).toEqual([]);
  });

  it('fires on many distinct ports, counting connections that never became flows', () => {
    const detector = new ScanDetector();
    const obs = get('/', 404, { workload: 'sweeper', serverPort: 8080, nowMs: T0 });
    for (let port = 9000; port < 9008; port++) {
      const record: ConnectionRecord = {
        time: obs.flow.time, durationNs: '1000', source: { ...obs.flow.source }, destination: { ip: '127.0.0.1', port },
        observedAt: 'CLIENT', protocol: 'CONN_OTHER', tls: false, bytesFromSource: '0', bytesFromDestination: '0', connId: `c${port}`,
      };
      detector.observeConnection(record, T0 + 100);
    }
    expect(detector.observe(obs)).toBeUndefined();
    const findings = detector.observe(get('/', 404, { workload: 'sweeper', serverPort: 8443, nowMs: T0 + 200 }))!;
    expect(findings.map((f) => [f.subject, f.details['distinctPorts']])).toEqual([['ports', '10']]);
  });

  it('lets a source that reached many ports while learning (a metrics scraper) keep doing so', () => {
    const detector = new ScanDetector();
    const sweep = (start: number, learning: boolean, count: number): Finding[] => run(detector, Array.from({ length: count },
      (_, i) => get('/metrics', 200, { workload: 'prometheus', serverPort: 9100 + i, nowMs: start + i * 500, learning })));
    expect(sweep(T0, true, 12)).toEqual([]);
    expect(sweep(T0 + 3_600_000, false, 20)).toEqual([]);
    const findings = sweep(T0 + 7_200_000, false, 30);
    expect(findings[0]!.details).toMatchObject({ distinctPorts: '24', threshold: '24', learntPeak: '12' });
    expect(observesConnections(detector)).toBe(true);
    expect(createSourceDetectors().filter(observesConnections).map((d) => d.name)).toEqual(['scan']);
  });

  it('bounds the number of sources it remembers and counts evictions', () => {
    const detector = new ScanDetector({ maxSources: 3 });
    for (let i = 0; i < 5; i++) detector.observe(get('/x', 404, { workload: `s${i}`, nowMs: T0 }));
    expect(detector.evictedSources).toBe(2);
  });
});

describe('EnumerationDetector', () => {
  it('fires when one source walks sequential ids of one endpoint parameter', () => {
    const detector = new EnumerationDetector();
    const walk = Array.from({ length: 35 }, (_, i) => get(`/api/v1/invoices/${1000 + i}`, 200, { workload: 'tenant-a', nowMs: T0 + i * 250 }));
    const findings = run(detector, walk);
    expect(findings[0]!.flow).toBe(walk[29]!.flow);
    expect(findings[0]).toMatchObject({
      kind: 'ENUMERATION', severity: 'HIGH', subject: 'GET /api/v1/invoices/{id} #0', endpoint: 'GET /api/v1/invoices/{id}',
      details: { distinctValues: '30', threshold: '30', learntPeak: '0', sequentialShare: '1.00', successes: '30' },
    });
  });

  it('uses the learnt peak of normal clients: an endpoint that is paged through needs far more', () => {
    const detector = new EnumerationDetector();
    // While learning, a reporting job reads 40 distinct orders a minute.
    const learning = Array.from({ length: 40 }, (_, i) => get(`/api/v1/orders/${i * 7}`, 200, { workload: 'reports', nowMs: T0 + i * 1000, learning: true }));
    expect(run(detector, learning)).toEqual([]);
    const later = T0 + 3_600_000;
    const normal = Array.from({ length: 45 }, (_, i) => get(`/api/v1/orders/${i * 13}`, 200, { workload: 'reports', nowMs: later + i * 1000 }));
    expect(run(detector, normal)).toEqual([]);
    const walk = Array.from({ length: 90 }, (_, i) => get(`/api/v1/orders/${5000 + i}`, 404, { workload: 'intruder', nowMs: later + i * 100 }));
    const findings = run(detector, walk);
    expect(findings[0]!.details).toMatchObject({ distinctValues: '80', threshold: '80', learntPeak: '40' });
    expect(findings[0]!.severity).toBe('MEDIUM');
  });

  it('stays quiet for few distinct values and for walks spread beyond the window', () => {
    const detector = new EnumerationDetector();
    expect(run(detector, Array.from({ length: 100 }, (_, i) => get(`/api/v1/users/${i % 5}`, 200, { workload: 'web', nowMs: T0 + i * 100 })))).toEqual([]);
    expect(run(detector, Array.from({ length: 60 }, (_, i) => get(`/api/v1/users/${i}`, 200, { workload: 'web2', nowMs: T0 + i * 3_000 })))).toEqual([]);
  });
});

describe('AuthFailureDetector', () => {
  it('fires at the absolute floor for a source with no failures in its baseline', () => {
    const detector = new AuthFailureDetector();
    const burst = Array.from({ length: 12 }, (_, i) => factory.observe(
      { method: 'POST', target: '/api/v1/login' }, { status: 401 }, { workload: 'stuffer', nowMs: T0 + i * 300 }));
    const findings = run(detector, burst);
    expect(findings[0]!.flow).toBe(burst[9]!.flow);
    expect(findings[0]).toMatchObject({
      kind: 'AUTH_FAILURE_BURST', mitreTechnique: 'T1110', subject: 'auth-failures',
      details: { failures: '10', learntPeak: '0', threshold: '10', latest: 'HTTP 401' },
    });
  });

  it('compares against the source\'s own learnt peak', () => {
    const detector = new AuthFailureDetector();
    // A client whose tokens routinely expire: 6 failures a minute while learning.
    run(detector, Array.from({ length: 6 }, (_, i) => get('/api/v1/me', 403, { workload: 'legacy', nowMs: T0 + i * 10_000, learning: true })));
    const later = T0 + 3_600_000;
    expect(run(detector, Array.from({ length: 25 }, (_, i) => get('/api/v1/me', 403, { workload: 'legacy', nowMs: later + i * 2_000 })))).toEqual([]);
    const findings = run(detector, Array.from({ length: 40 }, (_, i) => get('/api/v1/me', 403, { workload: 'legacy', nowMs: later + 60_000 + i * 200 })));
    expect(findings[0]!.details).toMatchObject({ failures: '30', threshold: '30', learntPeak: '6' });
  });

  it('counts gRPC UNAUTHENTICATED and PERMISSION_DENIED, and ignores other statuses', () => {
    const detector = new AuthFailureDetector({ minFailures: 3 });
    const grpc = (status: number, i: number): Observation => {
      const obs = get('/pkg.Auth/Check', 200, { workload: 'rpc-client', nowMs: T0 + i * 100 });
      return { ...obs, flow: { ...obs.flow, protocol: 'GRPC', grpc: { service: 'pkg.Auth', method: 'Check', status, requestMessages: 1, responseMessages: 0 } } };
    };
    expect(run(detector, [grpc(5, 0), grpc(14, 1), grpc(0, 2), grpc(16, 3), grpc(7, 4)])).toEqual([]);
    expect(run(detector, [grpc(16, 5)]).map((f) => f.details['latest'])).toEqual(['gRPC status 16']);
  });

  it('is created with the others and can be disabled', () => {
    expect(createSourceDetectors().map((d) => d.name)).toEqual(['scan', 'enumeration', 'auth-failure-burst']);
    expect(createSourceDetectors({ authFailureBurst: { enabled: false }, scan: { enabled: false } }).map((d) => d.name)).toEqual(['enumeration']);
  });
});
