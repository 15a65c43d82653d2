// Real kernel: the syscall tracepoints see plaintext HTTP between curl and a
// local server, learn tuples and roles, keep non-HTTP connections payload-free,
// and describe every byte of a large response by position.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import {
  buildNative,
  Capture,
  captured,
  freePort,
  runClient,
  startProcess,
  startTcpServer,
  stopAll,
  waitForListen,
  type ConnOpen,
  type Data,
} from './support.js';

const BIG = 1 << 20;

describe('syscall capture on loopback', () => {
  let capture: Capture;
  let dir: string;
  let big: Buffer;

  beforeAll(() => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-capture-'));
    writeFileSync(join(dir, 'hello.txt'), 'hello from flowscope\n');
    big = randomBytes(BIG);
    writeFileSync(join(dir, 'big.bin'), big);
    capture = new Capture();
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function httpServer(host: string): Promise<{ port: number; pid: number }> {
    const port = await freePort(host);
    const server = startProcess('python3', ['-m', 'http.server', '--bind', host, '--directory', dir, String(port)]);
    await waitForListen(host, port);
    return { port, pid: server.pid! };
  }

  it('captures the exact request bytes in EGRESS from curl and INGRESS on the server, with tuples, roles and close counts', async () => {
    const server = await httpServer('127.0.0.1');
    const client = await runClient('curl', ['-sS', '--http1.1', `http://127.0.0.1:${server.port}/hello.txt`]);
    expect(client.stdout.toString()).toBe('hello from flowscope\n');

    const clientOpen = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === server.port)[0],
    );
    const serverOpen = await capture.waitFor('server open record', () =>
      capture.opens((o) => o.tgid === server.pid && o.localPort === server.port && o.remotePort === clientOpen.localPort)[0],
    );
    expect(clientOpen.role).toBe(L.FS_ROLE_CLIENT);
    expect(clientOpen.family).toBe(L.FAMILY.INET);
    expect(clientOpen.flags & L.FS_CONN_F_PREEXISTING).toBe(0);
    expect([...clientOpen.remoteAddr.subarray(0, 4)]).toEqual([127, 0, 0, 1]);
    expect(clientOpen.comm).toBe('curl');
    expect(serverOpen.role).toBe(L.FS_ROLE_SERVER);

    const request = `GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`;
    const clientClose = await capture.waitFor('curl close record', () => capture.closeOf(clientOpen));
    const serverClose = await capture.waitFor('server close record', () => capture.closeOf(serverOpen));

    const sent = captured(capture.dataOf(clientOpen), L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL);
    const received = captured(capture.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL);
    expect(sent.toString('latin1').startsWith(request)).toBe(true);
    expect(received.toString('latin1').startsWith(request)).toBe(true);
    const reply = captured(capture.dataOf(clientOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1');
    expect(reply).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(reply.endsWith('hello from flowscope\n')).toBe(true);
    for (const d of capture.dataOf(clientOpen)) expect(d.protocol).toBe(L.FS_PROTO_HTTP1);

    expect(clientClose.role).toBe(L.FS_ROLE_CLIENT);
    expect(clientClose.protocol).toBe(L.FS_PROTO_HTTP1);
    expect(clientClose.bytesSent).toBe(BigInt(sent.length));
    expect(clientClose.bytesSent).toBe(serverClose.bytesRecv);
    expect(clientClose.bytesRecv).toBe(serverClose.bytesSent);
    expect(clientClose.bytesRecv).toBe(BigInt(reply.length));
  });

  it('captures an IPv6 request with v6 addresses and the IPv6 flag', async () => {
    const server = await httpServer('::1');
    const client = await runClient('curl', ['-sS', '--http1.1', `http://[::1]:${server.port}/hello.txt`]);
    const open = await capture.waitFor('curl v6 open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === server.port)[0],
    );
    const loopback6 = Buffer.alloc(16);
    loopback6[15] = 1;
    expect(open.family).toBe(L.FAMILY.INET6);
    expect(open.flags & L.FS_CONN_F_IPV6).toBe(L.FS_CONN_F_IPV6);
    expect(open.remoteAddr.equals(loopback6)).toBe(true);
    expect(open.localAddr.equals(loopback6)).toBe(true);
    await capture.waitFor('curl v6 close record', () => capture.closeOf(open));
    const sent = captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL).toString('latin1');
    expect(sent.startsWith('GET /hello.txt HTTP/1.1\r\n')).toBe(true);
    const serverOpen = await capture.waitFor('server v6 open record', () =>
      capture.opens((o) => o.tgid === server.pid && o.remotePort === open.localPort)[0],
    );
    await capture.waitFor('server v6 request bytes', () =>
      captured(capture.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL)
        .toString('latin1')
        .startsWith('GET /hello.txt HTTP/1.1\r\n'),
    );
  });

  it('gives a non-HTTP TCP connection open and close records with byte counts but no payload', async () => {
    const port = await freePort();
    const server = await startTcpServer(port, `data = c.recv(100)
c.sendall(b'+PONG ' + data)
c.close()`);
    const client = await runClient('python3', [
      '-c',
      `import socket
c = socket.create_connection(('127.0.0.1', ${port}))
c.sendall(b'PING 12345\\r\\n')
print(c.recv(100).decode(), end='')
c.close()`,
    ]);
    expect(client.stdout.toString()).toBe('+PONG PING 12345\r\n');
    const open = await capture.waitFor('client open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
    );
    const serverOpen = await capture.waitFor('server open record', () =>
      capture.opens((o) => o.tgid === server.pid! && o.remotePort === open.localPort)[0],
    );
    const close = await capture.waitFor('client close record', () => capture.closeOf(open));
    const serverClose = await capture.waitFor('server close record', () => capture.closeOf(serverOpen));
    expect(close.protocol).toBe(L.FS_PROTO_OTHER);
    expect(close.bytesSent).toBe(12n);
    expect(close.bytesRecv).toBe(18n);
    expect(serverClose.bytesRecv).toBe(12n);
    expect(capture.dataOf(open)).toEqual([]);
    expect(capture.dataOf(serverOpen)).toEqual([]);
  });

  it('describes a 1 MiB response by records whose positions add up, with len > cap_len past the capture cap', async () => {
    const server = await httpServer('127.0.0.1');
    const client = await runClient('curl', ['-sS', '--http1.1', `http://127.0.0.1:${server.port}/big.bin`]);
    expect(client.stdout.equals(big)).toBe(true);
    const open = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === server.port)[0],
    );
    const serverOpen = await capture.waitFor('server open record', () =>
      capture.opens((o) => o.tgid === server.pid && o.remotePort === open.localPort)[0],
    );
    const serverClose = await capture.waitFor('server close record', () => capture.closeOf(serverOpen));
    const clientClose = await capture.waitFor('curl close record', () => capture.closeOf(open));

    for (const [conn, close, dir] of [
      [serverOpen, serverClose, L.FS_DIR_EGRESS],
      [open, clientClose, L.FS_DIR_INGRESS],
    ] as const) {
      const recs = capture
        .dataOf(conn as ConnOpen)
        .filter((d: Data) => d.direction === dir)
        .sort((a, b) => Number(a.pos - b.pos));
      let next = 0n;
      for (const d of recs) {
        expect(d.pos).toBe(next);
        expect(d.capLen).toBeLessThanOrEqual(d.len);
        expect(d.capLen).toBeLessThanOrEqual(L.FS_MAX_CHUNK);
        next += BigInt(d.len);
      }
      const total = dir === L.FS_DIR_EGRESS ? close.bytesSent : close.bytesRecv;
      expect(next).toBe(total);
      expect(total).toBeGreaterThan(BigInt(BIG));
    }
    // python writes the body in 64 KiB sends: each is one record standing for
    // 64 KiB with only the first 16 KiB captured.
    const serverOut = capture.dataOf(serverOpen).filter((d) => d.direction === L.FS_DIR_EGRESS);
    const truncated = serverOut.filter((d) => d.len > d.capLen);
    expect(truncated.length).toBeGreaterThan(0);
    // Captured bytes are the file's bytes at their positions.
    const headerLen = Number(serverOut.find((d) => d.payload.toString('latin1').startsWith('HTTP/1.0 200'))!.len);
    for (const d of truncated.slice(0, 4)) {
      const at = Number(d.pos) - headerLen;
      expect(d.payload.equals(big.subarray(at, at + d.capLen))).toBe(true);
    }
    const losses = capture.loader.readLosses();
    expect(losses[L.FS_LOSS_TRUNCATED]).toBeGreaterThan(0);
  });

  it('never traces its own process', async () => {
    const server = await httpServer('127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${server.port}/hello.txt`);
    expect(await res.text()).toBe('hello from flowscope\n');
    // The server saw the connection; the agent's side of it left no record.
    await capture.waitFor('server side of the agent connection', () =>
      capture.opens((o) => o.tgid === server.pid && o.localPort === server.port).length > 0,
    );
    expect(capture.records.some((r) => r.tgid === process.pid)).toBe(false);
  });
});
