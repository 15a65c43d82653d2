// Real kernel: every syscall on the host passes the sys_enter/sys_exit programs,
// so a burst of calls that are not on TCP sockets (getpid, file and pipe reads
// and writes, a UNIX socketpair, UDP) must produce no record and no loss; one
// TCP connection at the end of the same process proves it was being traced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { buildNative, Capture, freePort, runClient, startTcpServer, stopAll } from './support.js';

describe('unrelated syscalls', () => {
  let capture: Capture;

  beforeAll(() => {
    buildNative();
    capture = new Capture();
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await capture?.stop();
  });

  it('a burst of 100k non-TCP calls yields no record and no loss; the TCP connection after it is seen', async () => {
    const port = await freePort();
    await startTcpServer(port, 'c.recv(100); c.close()');
    const before = capture.loader.readLosses();
    const client = await runClient('python3', [
      '-c',
      `import os, socket
f = os.open('/proc/self/stat', os.O_RDONLY)
r, w = os.pipe()
a, b = socket.socketpair()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
http = b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'
for i in range(100000):
    os.getpid()
    if i % 4 == 0:
        os.lseek(f, 0, 0); os.read(f, 64)
        os.write(w, http); os.read(r, 100)
    if i % 16 == 0:
        a.send(http); b.recv(100)
        u.sendto(http, u.getsockname()); u.recvfrom(100)
    if i % 100 == 0:
        os.close(os.open('/dev/null', os.O_WRONLY))
c = socket.create_connection(('127.0.0.1', ${port}))
c.sendall(http)
c.close()`,
    ]);
    const open = await capture.waitFor('the final TCP connection', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
    );
    await capture.waitFor('its close record', () => capture.closeOf(open));
    const mine = capture.records.filter((r) => r.tgid === client.pid);
    // Only the TCP connection: open, one DATA record with the request, close.
    expect(mine.map((r) => r.kind)).toEqual(['open', 'data', 'close']);
    expect(mine.every((r) => r.fd === open.fd && r.connGen === open.connGen)).toBe(true);

    const after = capture.loader.readLosses();
    // Bytes past the capture cap may be counted for other traffic on the host
    // meanwhile; no other cause can come from unrelated calls or one request.
    for (let cause = 0; cause < L.FS_LOSS__COUNT; cause++) {
      if (cause === L.FS_LOSS_TRUNCATED) continue;
      expect({ cause, lost: after[cause]! - before[cause]! }).toEqual({ cause, lost: 0 });
    }
  }, 60_000);
});
