// Connection identity in the table: each record reaches the connection generation it
// names, across fd reuse, closes, evictions and many connections at once.
import { describe, expect, it } from 'vitest';
import type { SocketEvent } from '../../../agent/capture/socket-event.js';
import { ConnTable, type Connection } from '../../../agent/conntrack/conn-table.js';
import type { Exchange } from '../../../agent/flows/exchange.js';
import { dataEvent as data, openEvent as open } from '../../helpers/socket-events.js';

const REQ = (path: string) => `GET ${path} HTTP/1.1\r\nHost: svc\r\n\r\n`;
const RES = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

function table(maxConnections = 64) {
  const exchanges: { conn: Connection; exchange: Exchange }[] = [];
  const conns = new ConnTable(
    { maxConnections, reorderWindowMs: 200, protocols: { maxBodyCapture: 0 } },
    {
      exchange: (conn, _tls, exchange) => exchanges.push({ conn, exchange }),
      decodeError: () => {},
      unpairedResponse: () => {},
    },
  );
  const handle = (...events: SocketEvent[]) => events.forEach((e) => conns.handle(e, 0));
  /** "<conn key> <path> <status or none>" per exchange, in order. */
  const seen = () => exchanges.map(({ conn, exchange }) => `${conn.key} ${exchange.request.target} ${exchange.response?.status ?? 'none'}`);
  return { conns, handle, seen };
}

describe('ConnTable', () => {
  it('ends the old generation when an fd is reused without a close, and keeps the two apart', () => {
    const t = table();
    t.handle(open(), data('egress', 0, REQ('/old')));
    t.handle(open({ connGen: 2 }), data('egress', 0, REQ('/new'), { connGen: 2 }), data('ingress', 0, RES, { connGen: 2 }));
    expect(t.seen()).toEqual(['100:5:1 /old none', '100:5:2 /new 200']);
    expect(t.conns.size).toBe(1);
  });

  it('treats data after a close as a new connection, not the closed one', () => {
    const t = table();
    t.handle(open(), data('egress', 0, REQ('/a')), data('ingress', 0, RES));
    t.handle({ kind: 'close', tgid: 100, tid: 100, fd: 5, connGen: 1, tsNs: 9_000, role: 'client', protocol: 'http1', tls: false, bytesSent: 1, bytesRecv: 1, startNs: 1_000 });
    expect(t.conns.size).toBe(0);
    t.handle(data('egress', 0, REQ('/b'), { connGen: 3 }), data('ingress', 0, RES, { connGen: 3 }));
    expect(t.seen()).toEqual(['100:5:1 /a 200', '100:5:3 /b 200']);
    expect(t.conns.counters.implicitOpens).toBe(1);
  });

  it('evicts the oldest connection at the cap; its later records open a new one', () => {
    const t = table(2);
    t.handle(open({ fd: 5 }), open({ fd: 6, localPort: 40001 }), open({ fd: 7, localPort: 40002 }));
    expect(t.conns.counters.evicted).toBe(1);
    expect([...t.conns.connections()].map((c) => c.fd)).toEqual([6, 7]);
    t.handle(data('egress', 0, REQ('/late'), { fd: 5 }), data('ingress', 0, RES, { fd: 5 }));
    expect(t.seen()).toEqual(['100:5:1 /late 200']);
    expect(t.conns.counters.implicitOpens).toBe(1);
  });

  it('routes every record to its own connection among thousands sharing fds and tgids', () => {
    const t = table(4096);
    const ends: [number, number][] = [];
    // fds 1,024 apart too: lookups that hash (tgid, fd) into a small table meet here.
    for (let tgid = 1; tgid <= 40; tgid++) for (const fd of [3, 4, 1027, 2051, 3075, 5, 6, 7, 70, 4096 + 70]) ends.push([tgid, fd]);
    for (const tgid of [64, 1024, 32 * 1024, 1 << 21]) for (let fd = 3; fd < 103; fd++) ends.push([tgid, fd]);
    for (const [tgid, fd] of ends) t.handle(open({ tgid, fd, connGen: tgid * 1000 + fd, localPort: 10_000 + (fd % 50_000) }));
    // Requests in one order, responses in another: each pairs only on its own connection.
    for (const [tgid, fd] of ends) t.handle(data('egress', 0, REQ(`/${tgid}/${fd}`), { tgid, fd, connGen: tgid * 1000 + fd }));
    for (const [tgid, fd] of [...ends].reverse()) t.handle(data('ingress', 0, RES, { tgid, fd, connGen: tgid * 1000 + fd }));
    const seen = t.seen();
    expect(seen).toHaveLength(ends.length);
    expect(new Set(seen)).toEqual(new Set(ends.map(([tgid, fd]) => `${tgid}:${fd}:${tgid * 1000 + fd} /${tgid}/${fd} 200`)));
    expect(t.conns.counters.implicitOpens).toBe(0);
  });
});
