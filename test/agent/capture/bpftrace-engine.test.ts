// The bpftrace engine's output parser: real-shaped records become SocketEvents
// and flows; malformed or hostile lines are counted and skipped.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { BpftraceEngine } from '../../../agent/capture/bpftrace-engine.js';
import { Pipeline } from '../../../agent/pipeline.js';
import type { ConnectionRecord, Flow } from '../../../agent/schema/flow.js';

const line = (data: string) => JSON.stringify({ type: 'printf', data });

function engine() {
  const pipeline = new Pipeline();
  const flows: Flow[] = [];
  const connections: ConnectionRecord[] = [];
  pipeline.onFlow((f) => flows.push(f));
  pipeline.onConnection((c) => connections.push(c));
  return { engine: new BpftraceEngine(pipeline, pino({ level: 'silent' })), pipeline, flows, connections };
}

describe('BpftraceEngine output', () => {
  it('turns open, data and close records into a flow cut at the head and a connection record', () => {
    const { engine: e, flows, connections } = engine();
    expect(e.handleLine(line('READY\n'))).toBe(true);
    e.handleLine(line('O\t10\t10\t5\t1000\tclient\t4\t127.0.0.1\t40000\t127.0.0.1\t8080\t0\t1\tcurl\n'));
    e.handleLine(line('D\t10\t10\t5\t1000\tegress\t79\tGET /a?x=1 HTTP/1.1\r\nHost: svc\r\nUser-Agent: cur\n'));
    e.handleLine(line('D\t10\t10\t5\t1000\tingress\t5000\tHTTP/1.1 404 Not Found\r\nServer: nginx\r\n\n'));
    e.handleLine(line('X\t10\t10\t5\t1000\t9000\t80\t5001\n'));
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      protocol: 'HTTP1', http: { method: 'GET', host: 'svc', status: 404, requestBytes: '79', responseBytes: '5000' }, issues: ['HEADERS_CUT'],
    });
    expect(connections[0]).toMatchObject({ protocol: 'CONN_HTTP1', bytesFromSource: '80', bytesFromDestination: '5001', durationNs: '8000' });
  });

  it('counts malformed lines and never throws on hostile input', () => {
    const { engine: e, flows } = engine();
    const hostile = [
      '{not json', '', 'null', '[]', JSON.stringify({ type: 'printf', data: 42 }), line('O\t1\t2\n'), line('D\tx\ty\n'),
      line('O\t-1\t1\t5\t0\tclient\t4\ta\tb\tc\td\t0\t1\tx\n'), line('D\t10\t10\t5\t1000\tegress\tNaN\tGET / HTTP/1.1\r\n\n'),
      line('X\t1\t1\t1\t0\t0\t0\t0\n'), line('Z\tunknown\n'), line('D\t99\t99\t9\t9\tegress\t10\tnot tracked\n'),
    ];
    for (const l of hostile) expect(() => e.handleLine(l)).not.toThrow();
    e.handleLine(JSON.stringify({ type: 'lost_events', data: { events: 7 } }));
    expect(e.losses()).toEqual({ lost_events: 7 });
    expect(e.malformed().bad_json).toBe(3); // '{not json', '', 'null'
    expect(e.malformed().bad_record).toBeGreaterThanOrEqual(7);
    expect(flows).toEqual([]);
  });

  it('keeps only the bytes the call returned when the string window is longer', () => {
    const { engine: e, pipeline, flows } = engine();
    e.handleLine(line('O\t10\t10\t5\t1000\tserver\t4\t127.0.0.1\t8080\t127.0.0.1\t40000\t0\t1\tpy\n'));
    e.handleLine(line('D\t10\t10\t5\t1000\tingress\t18\tGET /x HTTP/1.1\r\n\r\nGET /stale HTTP/1.1\r\n\n'));
    e.handleLine(line('D\t10\t10\t5\t1000\tegress\t19\tHTTP/1.1 200 OK\r\n\r\n\n'));
    // A response captured whole has no skip to say its size is known: the next tick reports it.
    expect(flows).toEqual([]);
    pipeline.tick(Date.now());
    expect(flows.map((f) => `${f.observedAt} ${f.http.method} ${f.http.path} ${f.http.status} ${f.http.responseBytes}`)).toEqual(['SERVER GET /x 200 19']);
  });
});
