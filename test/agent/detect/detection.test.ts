// Detection fed by the real Pipeline (SocketEvents in, flows out), persisted to
// a real SQLite file: what the agent wires together.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketEvent } from '../../../agent/capture/socket-event.js';
import { Detection } from '../../../agent/detect/detection.js';
import { Pipeline } from '../../../agent/pipeline.js';
import type { Anomaly } from '../../../agent/schema/flow.js';
import { dataEvent, openEvent } from '../../helpers/socket-events.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** One HTTP/1 exchange on its own connection, `atMs` after T0, from curl to a port. */
function exchange(fd: number, atMs: number, port: number, path: string, status = 200): SocketEvent[] {
  const tsNs = atMs * 1e6;
  const data = (direction: 'egress' | 'ingress', text: string, dt: number) => dataEvent(direction, 0, text, { fd, tsNs: tsNs + dt });
  return [
    openEvent({ fd, tsNs, localPort: 40000 + (fd % 20000), remotePort: port }),
    data('egress', `GET ${path} HTTP/1.1\r\nHost: svc\r\nAuthorization: Bearer abc\r\n\r\n`, 1000),
    data('ingress', `HTTP/1.1 ${status} OK\r\nContent-Length: 2\r\n\r\nok`, 2_000_000),
  ];
}

function setup(dbPath: string, clock: { now: number }): { pipeline: Pipeline; detection: Detection; anomalies: Anomaly[] } {
  const pipeline = new Pipeline({ wallMinusMonoNs: T0 * 1e6 });
  const detection = new Detection({ baseline: { dbPath, learnWindowMs: 60_000, windowMs: 1000 }, now: () => clock.now });
  const anomalies: Anomaly[] = [];
  detection.onAnomaly((a) => anomalies.push(a));
  pipeline.onFlow(detection.onFlow);
  pipeline.onTick(detection.onTick);
  return { pipeline, detection, anomalies };
}

describe('Detection wired to the pipeline', () => {
  it('learns from real flows, raises NEW_EDGE after the window, accepts it, and survives a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-detection-'));
    dirs.push(dir);
    const dbPath = join(dir, 'baseline.db');
    const clock = { now: T0 };
    let fd = 10;
    const first = setup(dbPath, clock);
    for (let s = 0; s < 70; s++) {
      clock.now = T0 + s * 1000;
      for (const e of exchange(fd++, s * 1000, 8080, `/api/orders/${s}`)) first.pipeline.handle(e, clock.now);
      first.pipeline.tick(clock.now);
    }
    expect(first.anomalies).toEqual([]);
    expect(first.detection.status()).toMatchObject({ mode: 'detect', edges: 1, endpoints: 1 });
    const map = first.detection.map();
    expect(map.edges).toEqual([expect.objectContaining({ source: 'process:curl', destination: 'host:127.0.0.0/24', port: 8080, protocol: 'HTTP1', tls: false, requests: 70, errors: 0 })]);

    for (const e of exchange(fd++, 71_000, 9090, '/admin/users/7')) first.pipeline.handle(e, clock.now);
    expect(first.anomalies.map((a) => [a.kind, a.endpoint, a.destinationPort])).toEqual([['NEW_EDGE', 'GET /admin/users/{id}', 9090]]);
    const evidence = first.anomalies[0]!.evidence![0]!;
    expect(evidence.http.path).toBe('/admin/users/7');
    expect(first.detection.anomalies({ state: 'OPEN' })).toHaveLength(1);

    const providers = first.detection.serverProviders();
    expect(providers.anomalies({ state: 'open', severity: 'HIGH' })).toEqual([]);
    expect(providers.anomalies({ state: 'open', severity: 'MEDIUM' })).toHaveLength(1);
    expect(providers.accept('unknown')).toBe(false);
    expect(first.detection.accept(first.anomalies[0]!.id)).toMatchObject({ state: 'CLOSED' });
    expect(providers.anomalies({ state: 'all' }).map((a) => [a.kind, a.state])).toEqual([['NEW_EDGE', 'CLOSED']]);
    expect(providers.anomalies({ state: 'open' })).toEqual([]);
    first.detection.close();

    // Restart: the accepted edge and the learnt one are baseline, detect mode kept.
    clock.now = T0 + 80_000;
    const second = setup(dbPath, clock);
    expect(second.detection.status()).toMatchObject({ mode: 'detect', learnUntil: new Date(T0 + 60_000).toISOString(), edges: 2 });
    for (const e of exchange(fd++, 80_000, 9090, '/admin/users/8')) second.pipeline.handle(e, clock.now);
    for (const e of exchange(fd++, 80_000, 8080, '/api/orders/99')) second.pipeline.handle(e, clock.now);
    expect(second.anomalies).toEqual([]);
    expect(second.detection.serverProviders().map().edges).toHaveLength(2);
    // The accepted anomaly came back from disk, closed.
    expect(second.detection.anomalies().map((a) => [a.kind, a.state, a.count])).toEqual([['NEW_EDGE', 'CLOSED', '1']]);
    const relearn = second.detection.relearn('curl');
    expect(relearn).toMatchObject({ nodes: ['process:curl'], droppedEdges: 2 });
    expect(second.detection.status().relearning).toHaveProperty('process:curl');
    second.detection.close();
  });

  it('counts a call between two processes on this host once, from the server end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-detection-'));
    dirs.push(dir);
    const clock = { now: T0 };
    const { pipeline, detection } = setup(join(dir, 'baseline.db'), clock);
    for (let i = 0; i < 5; i++) {
      const fd = 10 + i;
      const port = 40000 + i;
      const client = { fd, localPort: port };
      const server = { tgid: 200, fd: 50 + i };
      const events: SocketEvent[] = [
        openEvent(client),
        openEvent({ ...server, role: 'server', localPort: 8080, remotePort: port, comm: 'nginx' }),
        dataEvent('egress', 0, 'GET /orders HTTP/1.1\r\nHost: svc\r\n\r\n', client),
        dataEvent('ingress', 0, 'GET /orders HTTP/1.1\r\nHost: svc\r\n\r\n', server),
        dataEvent('egress', 0, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', server),
        dataEvent('ingress', 0, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', client),
      ];
      for (const e of events) pipeline.handle(e, clock.now);
    }
    expect(pipeline.counters.flows.HTTP1).toBe(10);
    expect(detection.map().edges).toEqual([expect.objectContaining({ source: 'process:curl', destination: 'process:nginx', port: 8080, requests: 5 })]);
    expect(detection.status().engine).toMatchObject({ observations: 5, clientViews: 5 });
    detection.close();
  });
});
