// Real kernel: a connection that was open before the loader started is tracked
// from its first data, flagged pre-existing with an unknown role, and its
// protocol is inferred mid-stream after bytes that do not look like anything.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { buildNative, Capture, captured, freePort, startProcess, startTcpServer, stopAll } from './support.js';

describe('connections open before the loader', () => {
  let dir: string;
  let capture: Capture | undefined;

  beforeAll(() => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-pre-'));
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are tracked from their first data, flagged pre-existing, and classified after non-HTTP bytes', async () => {
    const port = await freePort();
    const ready = join(dir, 'ready');
    const go = join(dir, 'go');
    const server = await startTcpServer(port, `while True:
    data = c.recv(4096)
    if not data: break
    if b'GET' in data: c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')
c.close()`);
    const client = startProcess('python3', [
      '-c',
      `import socket, os, time
c = socket.create_connection(('127.0.0.1', ${port}))
c.sendall(b'GET /before HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
c.recv(100)
open('${ready}', 'w').close()
while not os.path.exists('${go}'): time.sleep(0.02)
c.sendall(b'\\x00\\x01binary-noise')
time.sleep(0.05)
c.sendall(b'GET /late HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
c.recv(100)
c.close()`,
    ]);
    const deadline = Date.now() + 10_000;
    while (!existsSync(ready)) {
      if (Date.now() > deadline) throw new Error('client never connected');
      await new Promise((r) => setTimeout(r, 20));
    }

    capture = new Capture();
    writeFileSync(go, '');

    const open = await capture.waitFor('client open record', () =>
      capture!.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
    );
    expect(open.role).toBe(L.FS_ROLE_UNKNOWN);
    expect(open.flags & L.FS_CONN_F_PREEXISTING).toBe(L.FS_CONN_F_PREEXISTING);
    const close = await capture.waitFor('client close record', () => capture!.closeOf(open));
    expect(close.role).toBe(L.FS_ROLE_UNKNOWN);
    expect(close.protocol).toBe(L.FS_PROTO_HTTP1);

    const noise = 14;
    const request = 'GET /late HTTP/1.1\r\nHost: x\r\n\r\n';
    const sent = capture.dataOf(open).filter((d) => d.direction === L.FS_DIR_EGRESS);
    // The noise was counted (positions start at first sight) but not sent.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.pos).toBe(BigInt(noise));
    expect(sent[0]!.payload.toString('latin1')).toBe(request);
    expect(close.bytesSent).toBe(BigInt(noise + request.length));
    expect(captured(capture.dataOf(open), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1')).toBe(
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );

    const serverOpen = await capture.waitFor('server open record', () =>
      capture!.opens((o) => o.tgid === server.pid && o.remotePort === open.localPort)[0],
    );
    expect(serverOpen.flags & L.FS_CONN_F_PREEXISTING).toBe(L.FS_CONN_F_PREEXISTING);
    await capture.waitFor('server sees the late request', () =>
      captured(capture!.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1').includes(request),
    );
  });
});
