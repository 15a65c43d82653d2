// Real kernel: the bpftrace fallback engine and the libbpf engine, run side by
// side on the same curl → nginx traffic, report the same connections and the
// same HTTP/1 request lines and statuses.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { BpftraceEngine } from '../../agent/capture/bpftrace-engine.js';
import { KernelEngine } from '../../agent/capture/kernel-engine.js';
import { Pipeline } from '../../agent/pipeline.js';
import type { ConnectionRecord, Flow } from '../../agent/schema/flow.js';
// @ts-expect-error plain .mjs helper
import { Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

interface Observed {
  flows: Flow[];
  connections: ConnectionRecord[];
}

function observe(pipeline: Pipeline): Observed {
  const seen: Observed = { flows: [], connections: [] };
  pipeline.onFlow((f) => seen.flows.push(f));
  pipeline.onConnection((c) => seen.connections.push(c));
  return seen;
}

describe('bpftrace engine', () => {
  const log = pino({ level: 'silent' });
  let nginx: { port: number; stop(): Promise<void> };
  let bpftrace: BpftraceEngine;
  let libbpf: KernelEngine;
  let viaBpftrace: Observed;
  let viaLibbpf: Observed;

  beforeAll(async () => {
    execFileSync('make', ['-s', '-C', 'native'], { stdio: 'ignore' });
    nginx = await Nginx.start();
    const p1 = new Pipeline({ selfTgid: process.pid });
    const p2 = new Pipeline({ selfTgid: process.pid });
    viaBpftrace = observe(p1);
    viaLibbpf = observe(p2);
    bpftrace = new BpftraceEngine(p1, log);
    bpftrace.start();
    libbpf = new KernelEngine(p2, log, { maxCaptureBytes: 16384, tlsProbes: false });
    libbpf.start();
    await Promise.all([bpftrace.firstBatch(), libbpf.firstBatch()]);
  }, 120_000);

  afterAll(async () => {
    await bpftrace?.stop();
    await libbpf?.stop();
    await nginx?.stop();
  });

  it('reports the same connections and request lines as the libbpf engine', async () => {
    const paths = ['/index.html', '/notes.txt', '/missing', '/index.html?q=1'];
    for (const path of paths) execFileSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${nginx.port}${path}`]);
    // One keep-alive connection with two requests.
    execFileSync('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', `http://127.0.0.1:${nginx.port}/a`, `http://127.0.0.1:${nginx.port}/b`]);

    const toNginx = (o: Observed) => ({
      flows: o.flows.filter((f) => f.destination.port === nginx.port && f.observedAt === 'CLIENT'),
      connections: o.connections.filter((c) => c.destination.port === nginx.port && c.observedAt === 'CLIENT'),
    });
    for (const [name, o] of [['bpftrace', viaBpftrace], ['libbpf', viaLibbpf]] as const) {
      await waitFor(`${name}: 6 client flows and 5 client connections`, () => {
        const seen = toNginx(o);
        return seen.flows.length >= 6 && seen.connections.length >= 5;
      }, 20_000);
    }
    const lines = (o: Observed) => toNginx(o).flows.map((f) => `${f.source.port} ${f.http.method} ${f.http.path} ${f.http.status}`).sort();
    const tuples = (o: Observed) => toNginx(o).connections.map((c) => `${c.source.ip}:${c.source.port} ${c.destination.ip}:${c.destination.port} ${c.source.pid}`).sort();
    expect(lines(viaBpftrace)).toEqual(lines(viaLibbpf));
    expect(tuples(viaBpftrace)).toEqual(tuples(viaLibbpf));
    expect(lines(viaBpftrace)).toHaveLength(6);
    // bpftrace flows say their headers were cut; libbpf flows are whole.
    for (const f of toNginx(viaBpftrace).flows) expect(f.issues).toContain('HEADERS_CUT');
    for (const f of toNginx(viaLibbpf).flows) expect(f.issues ?? []).not.toContain('HEADERS_CUT');
    // Connection sizes: the request bytes the client sent, within the FIN the kernel counts.
    for (const c of toNginx(viaBpftrace).connections) {
      const twin = toNginx(viaLibbpf).connections.find((l) => l.source.port === c.source.port)!;
      expect(Math.abs(Number(c.bytesFromSource) - Number(twin.bytesFromSource))).toBeLessThanOrEqual(1);
      expect(Math.abs(Number(c.bytesFromDestination) - Number(twin.bytesFromDestination))).toBeLessThanOrEqual(1);
    }
  });
});
