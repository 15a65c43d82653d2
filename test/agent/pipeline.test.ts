// The pipeline without a kernel: SocketEvents in, Flows out.
import { describe, expect, it } from 'vitest';
import type { DataEvent, SocketEvent } from '../../agent/capture/socket-event.js';
import { dataEvent as data, openEvent as open } from '../helpers/socket-events.js';
import { Pipeline } from '../../agent/pipeline.js';
import type { ConnectionRecord, Flow } from '../../agent/schema/flow.js';


function run(events: SocketEvent[]): { flows: Flow[]; pipeline: Pipeline } {
  const pipeline = new Pipeline();
  const flows: Flow[] = [];
  pipeline.onFlow((f) => flows.push(f));
  for (const e of events) pipeline.handle(e, 0);
  return { flows, pipeline };
}

const REQ = 'GET /a?token=s3cret HTTP/1.1\r\nHost: svc\r\n\r\n';
const RES = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('Pipeline', () => {
  it('pairs a request and its response into a client-side flow', () => {
    const { flows } = run([open(), data('egress', 0, REQ), data('ingress', 0, RES)]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      protocol: 'HTTP1', tls: false, observedAt: 'CLIENT',
      source: { ip: '127.0.0.1', port: 40000, pid: 100, process: 'curl' },
      destination: { ip: '127.0.0.1', port: 8080 },
      http: { method: 'GET', host: 'svc', status: 200, requestBytes: String(REQ.length), responseBytes: String(RES.length) },
    });
    expect(flows[0]!.http.path).toMatch(/^\/a\?token=REDACTED-[0-9a-f]{8}$/);
  });

  it('names the far end when the other side of a host-local connection is tracked', () => {
    const server = open({ tgid: 200, fd: 7, role: 'server', localPort: 8080, remotePort: 40000, comm: 'nginx' });
    const { flows } = run([
      open(), server,
      data('ingress', 0, REQ, { tgid: 200, fd: 7 }), data('egress', 0, RES, { tgid: 200, fd: 7 }),
    ]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      observedAt: 'SERVER',
      source: { port: 40000, pid: 100, process: 'curl' },
      destination: { port: 8080, pid: 200, process: 'nginx' },
    });
  });

  it('still names a server that answered and closed before the client read the response', () => {
    const server = open({ tgid: 200, fd: 7, role: 'server', localPort: 8080, remotePort: 40000, comm: 'python3' });
    const { flows } = run([
      open(), server,
      data('egress', 0, REQ),
      data('ingress', 0, REQ, { tgid: 200, fd: 7 }), data('egress', 0, RES, { tgid: 200, fd: 7 }),
      { kind: 'close', tgid: 200, tid: 200, fd: 7, connGen: 1, tsNs: 5_000, role: 'server', protocol: 'http1', tls: false, bytesSent: 1, bytesRecv: 1, startNs: 1_000 },
      data('ingress', 0, RES),
    ]);
    const clientSide = flows.find((f) => f.observedAt === 'CLIENT');
    expect(clientSide?.destination).toMatchObject({ port: 8080, pid: 200, process: 'python3' });
  });

  describe('the client view of a host-local call', () => {
    const server = open({ tgid: 200, fd: 7, role: 'server', localPort: 8080, remotePort: 40000, comm: 'nginx' });
    const onServer = { tgid: 200, fd: 7 };
    /** observedAt and serverAlsoReports of each flow, in the order reported. */
    function views(events: SocketEvent[]): [string, boolean][] {
      const pipeline = new Pipeline();
      const seen: [string, boolean][] = [];
      pipeline.onFlow((f, _exchange, serverAlsoReports) => seen.push([f.observedAt, serverAlsoReports]));
      for (const e of events) pipeline.handle(e, 0);
      return seen;
    }

    it('is marked when the server end is decoded too, so the call counts once', () => {
      expect(views([
        open(), server,
        data('egress', 0, REQ), data('ingress', 0, REQ, onServer), data('egress', 0, RES, onServer), data('ingress', 0, RES),
      ])).toEqual([['SERVER', false], ['CLIENT', true]]);
    });

    it('is marked even when the client read the answer before the server\'s write was seen', () => {
      // Records of two CPUs: the client's read may come first; the server's read of the request never can.
      expect(views([
        open(), server,
        data('egress', 0, REQ), data('ingress', 0, REQ, onServer), data('ingress', 0, RES), data('egress', 0, RES, onServer),
      ])).toEqual([['CLIENT', true], ['SERVER', false]]);
    });

    it('is not marked when the server end is traced but not decoded (ciphertext of an unprobed TLS library)', () => {
      const hello = '\x16\x03\x01\x00\x05hello';
      expect(views([
        open(), server,
        data('ingress', 0, hello, { ...onServer, protocol: 'tls' }),
        data('egress', 0, REQ, { source: 'ssl' }), data('ingress', 0, RES, { source: 'ssl' }),
      ])).toEqual([['CLIENT', false]]);
    });

    it('is not marked when the server end decodes another protocol (HTTP/1 sent to a gRPC server)', () => {
      // The server's first bytes are its own HTTP/2 SETTINGS frame: its end is decoded as HTTP/2.
      const settings = '\x00\x00\x00\x04\x00\x00\x00\x00\x00';
      expect(views([
        open(), server,
        data('egress', 0, settings, { ...onServer, protocol: 'http2' }),
        data('egress', 0, REQ), data('ingress', 0, REQ, { ...onServer, protocol: 'http2' }),
        data('ingress', 0, RES),
      ])).toEqual([['CLIENT', false]]);
    });

    it('is not marked when the server is not on this host', () => {
      expect(views([open(), data('egress', 0, REQ), data('ingress', 0, RES)])).toEqual([['CLIENT', false]]);
    });
  });

  it('marks TLS plaintext flows and keeps positions per data source', () => {
    const { flows } = run([open(), data('egress', 0, REQ, { source: 'ssl' }), data('ingress', 0, RES, { source: 'ssl' })]);
    expect(flows.map((f) => f.tls)).toEqual([true]);
  });

  it('reports a request whose connection closed without a response', () => {
    const { flows } = run([
      open(), data('egress', 0, REQ),
      { kind: 'close', tgid: 100, tid: 100, fd: 5, connGen: 1, tsNs: 9_000, role: 'client', protocol: 'http1', tls: false, bytesSent: 1, bytesRecv: 0, startNs: 1_000 },
    ]);
    expect(flows).toHaveLength(1);
    expect(flows[0]!.issues).toEqual(['NO_RESPONSE']);
    expect(flows[0]!.http.status).toBeUndefined();
  });

  it('infers the role of a connection first seen mid-life from its first message', () => {
    const { flows } = run([
      open({ role: 'unknown', preexisting: true }),
      data('ingress', 0, REQ), data('egress', 0, RES),
    ]);
    expect(flows.map((f) => f.observedAt)).toEqual(['SERVER']);
  });

  it('decodes through uncaptured body bytes (sendfile) without a gap', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n';
    const { flows, pipeline } = run([
      open(), data('egress', 0, REQ),
      data('ingress', 0, head),
      { ...data('ingress', head.length, ''), len: 100000, source: 'sendfile' },
      data('egress', REQ.length, REQ), data('ingress', head.length + 100000, RES),
    ]);
    expect(flows.map((f) => [f.http.status, f.http.responseBytes])).toEqual([[200, String(head.length + 100000)], [200, String(RES.length)]]);
    expect(pipeline.conns.counters.gaps).toBe(0);
  });

  it('counts a lost range as a gap, never mispairs, and recovers at the next message', () => {
    const RES404 = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
    const pipeline = new Pipeline({ reorderWindowMs: 10 });
    const flows: Flow[] = [];
    pipeline.onFlow((f) => flows.push(f));
    const at = (tsNs: number, e: DataEvent): DataEvent => ({ ...e, tsNs });
    pipeline.handle(open(), 0);
    pipeline.handle(at(1, data('egress', 0, REQ)), 0);
    pipeline.handle(at(2, data('ingress', 0, RES)), 0);
    // The second request's first 10 bytes were lost (a ring buffer record dropped).
    pipeline.handle(at(3, data('egress', REQ.length + 10, REQ.slice(10))), 0);
    pipeline.handle(at(4, data('ingress', RES.length, RES404)), 0);
    pipeline.tick(100);
    pipeline.handle(at(5, data('egress', 2 * REQ.length, REQ.replace('/a?', '/c?'))), 100);
    pipeline.handle(at(6, data('ingress', RES.length + RES404.length, RES)), 100);
    expect(pipeline.conns.counters.gaps).toBe(1);
    expect(pipeline.counters.unpairedResponses).toBe(1);
    expect(flows.map((f) => `${f.http.path.slice(0, 3)} ${f.http.status}`)).toEqual(['/a? 200', '/c? 200']);
  });

  it('never processes events of its own process', () => {
    const pipeline = new Pipeline({ selfTgid: 100 });
    pipeline.handle(open(), 0);
    expect(pipeline.conns.size).toBe(0);
    expect(pipeline.counters.selfEvents).toBe(1);
  });

  it('reports every connection the kernel saw end, with bytes each way, enriched on both ends', () => {
    const pipeline = new Pipeline();
    const records: ConnectionRecord[] = [];
    pipeline.onConnection((r) => records.push(r));
    pipeline.addEnricher((end, local) => {
      end.workload = local ? 'local-app' : 'remote-app';
    });
    pipeline.handle(open({ role: 'server', localPort: 8080, remotePort: 40000 }), 0);
    pipeline.handle({ kind: 'close', tgid: 100, tid: 100, fd: 5, connGen: 1, tsNs: 9_000, role: 'server', protocol: 'other', tls: false, bytesSent: 30, bytesRecv: 7, startNs: 1_000 }, 0);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      durationNs: '8000', observedAt: 'SERVER', protocol: 'CONN_OTHER', bytesFromSource: '7', bytesFromDestination: '30',
      source: { port: 40000, workload: 'remote-app' }, destination: { port: 8080, pid: 100, process: 'curl', workload: 'local-app' },
    });
  });

  describe('ends of a keep-alive connection', () => {
    const exchanges = (n: number, pipeline: Pipeline): void => {
      pipeline.handle(open(), 0);
      for (let i = 0; i < n; i++) exchange(i, pipeline);
    };
    // Request i and its response, in time order.
    const exchange = (i: number, pipeline: Pipeline, over = {}): void => {
      pipeline.handle(data('egress', i * REQ.length, REQ, { tsNs: 10_000 * (2 * i + 1), ...over }), 0);
      pipeline.handle(data('ingress', i * RES.length, RES, { tsNs: 10_000 * (2 * i + 2), ...over }), 0);
    };

    it('are filled once, frozen and shared by its flows while the enricher generation holds', () => {
      const pipeline = new Pipeline();
      let generation = 0;
      let calls = 0;
      pipeline.addEnricher((end, local) => {
        calls++;
        end.workload = `${local ? 'local' : 'remote'}-${generation}`;
      }, () => generation);
      const flows: Flow[] = [];
      pipeline.onFlow((f) => flows.push(f));
      exchanges(2, pipeline);
      generation++; // e.g. a new process entry, naming rules, a Kubernetes update
      exchange(2, pipeline);

      expect(flows.map((f) => [f.source.workload, f.destination.workload])).toEqual([
        ['local-0', 'remote-0'], ['local-0', 'remote-0'], ['local-1', 'remote-1'],
      ]);
      expect(calls).toBe(4);
      expect(flows[1]!.source).toBe(flows[0]!.source);
      expect(flows[2]!.source).not.toBe(flows[1]!.source);
      expect(Object.isFrozen(flows[0]!.source) && Object.isFrozen(flows[0]!.destination)).toBe(true);
    });

    it('are filled afresh for every flow by an enricher that has no generation', () => {
      const pipeline = new Pipeline();
      let calls = 0;
      pipeline.addEnricher((end) => {
        calls++;
        end.workload = `seen-${calls}`;
      });
      const flows: Flow[] = [];
      pipeline.onFlow((f) => flows.push(f));
      exchanges(3, pipeline);
      expect(calls).toBe(6);
      expect(new Set(flows.map((f) => f.source.workload)).size).toBe(3);
    });

    it('are made again once the peer connection shows up, to name the far process', () => {
      const pipeline = new Pipeline();
      const flows: Flow[] = [];
      pipeline.onFlow((f) => flows.push(f));
      exchanges(1, pipeline);
      pipeline.handle(open({ tgid: 200, fd: 7, role: 'server', localPort: 8080, remotePort: 40000, comm: 'nginx' }), 0);
      exchange(1, pipeline);
      expect(flows.map((f) => f.destination.process)).toEqual([undefined, 'nginx']);
    });
  });
});
