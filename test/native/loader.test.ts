// Real kernel: the loader's API contract — typed errors naming step and fix,
// drains that never lose a record even with a one-record buffer, iovec walks,
// the 64 KiB capture cap, and the connection table's list/forget for GC.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { FlowscopeError } from '../../agent/errors.js';
import { BpfLoader, DRAIN_MIN_BUFFER } from '../../native/loader.js';
import { buildNative, Capture, captured, freePort, runClient, startProcess, startTcpServer, stopAll, waitForListen } from './support.js';

function expectFlowscopeError(fn: () => unknown, code: string, message: RegExp): FlowscopeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FlowscopeError);
    const e = err as FlowscopeError;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.fix).toBeTruthy();
    return e;
  }
  throw new Error('expected a FlowscopeError');
}

describe('BpfLoader', () => {
  let dir: string;

  beforeAll(() => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-loader-'));
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('failures are typed errors that name the step and the fix', () => {
    it('a missing native library says to build it', () => {
      const e = expectFlowscopeError(
        () => BpfLoader.open({ libraryPath: join(dir, 'nope.so'), objectPath: join(dir, 'nope.o') }),
        'FLOWSCOPE_ERR_NATIVE_MISSING',
        /native loader not built/,
      );
      expect(e.fix).toMatch(/npm run build:native/);
    });

    it('a missing BPF object says to build it', () => {
      expectFlowscopeError(() => BpfLoader.open({ objectPath: join(dir, 'nope.o') }), 'FLOWSCOPE_ERR_NATIVE_MISSING', /BPF object not built/);
    });

    it('a capture cap above 64 KiB is refused before loading', () => {
      expectFlowscopeError(() => BpfLoader.open({ maxCaptureBytes: 65537 }), 'FLOWSCOPE_ERR_BAD_FLAG', /max capture bytes/);
    });

    it('a ring buffer size outside 1 MiB to 1 GiB is refused before loading', () => {
      expectFlowscopeError(() => BpfLoader.open({ ringBufferBytes: (1 << 20) - 1 }), 'FLOWSCOPE_ERR_BAD_FLAG', /ring buffer bytes/);
      expectFlowscopeError(() => BpfLoader.open({ ringBufferBytes: 2 ** 30 + 1 }), 'FLOWSCOPE_ERR_BAD_FLAG', /ring buffer bytes/);
    });

    it('an object that is not BPF fails at the load step with libbpf’s reason', () => {
      const bogus = join(dir, 'bogus.bpf.o');
      writeFileSync(bogus, 'not an ELF file');
      expectFlowscopeError(() => BpfLoader.open({ objectPath: bogus }), 'FLOWSCOPE_ERR_BPF_LOAD', /loading the BPF object .*bogus\.bpf\.o failed/);
    });

    it('TLS probes on a binary without SSL_write fail at the attach step', async () => {
      const loader = BpfLoader.open();
      try {
        const e = expectFlowscopeError(() => loader.attachSsl('/bin/true'), 'FLOWSCOPE_ERR_BPF_ATTACH', /attaching TLS probes to \/bin\/true/);
        expect(e.fix).toMatch(/SSL_read and SSL_write/);
        expectFlowscopeError(() => loader.attachSsl(join(dir, 'missing.so')), 'FLOWSCOPE_ERR_BPF_ATTACH', /missing\.so/);
      } finally {
        await loader.close();
      }
    });

    it('drain refuses a buffer that cannot hold one record and a second drain in flight', async () => {
      const loader = BpfLoader.open();
      try {
        await expect(loader.drain(Buffer.alloc(1024), 10)).rejects.toThrow(/smaller than one record frame/);
        const buf = Buffer.alloc(DRAIN_MIN_BUFFER);
        const first = loader.drain(buf, 50);
        await expect(loader.drain(Buffer.alloc(DRAIN_MIN_BUFFER), 10)).rejects.toThrow(/another drain is in flight/);
        expect(await first).toBe(0); // nothing attached, nothing to read
        expect(loader.readLosses()).toHaveLength(L.FS_LOSS__COUNT);
      } finally {
        await loader.close();
      }
      expect(() => loader.readLosses()).toThrow(/closed/);
      await loader.close(); // idempotent
    });
  });

  describe('draining', () => {
    it('drain polls on a worker thread: timers keep firing while it waits', async () => {
      const loader = BpfLoader.open();
      try {
        const started = Date.now();
        let drained = 0;
        const pending = loader.drain(Buffer.alloc(DRAIN_MIN_BUFFER), 300).then(() => (drained = Date.now()));
        const tick = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now()), 20));
        await pending;
        expect(tick - started).toBeLessThan(200);
        expect(drained).toBeGreaterThan(tick);
      } finally {
        await loader.close();
      }
    });

    it('close detaches on a worker thread: timers keep firing while the kernel lets go of TLS probes', async () => {
      const loader = BpfLoader.open();
      loader.attachSyscalls();
      expect(loader.attachSsl('/usr/lib/x86_64-linux-gnu/libssl.so.3')).toBe(8); // ~0.1 s each to let go of
      let closed = false;
      const closing = loader.close().then(() => (closed = true));
      // A close on this thread would resolve (a microtask) before any timer could fire.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(closed).toBe(false);
      await closing;
      expect(() => loader.readLosses()).toThrow(/closed/);
    });

    it('the ring buffer takes the size asked for, rounded up to a power of two', async () => {
      // Ring buffers this process holds, as the kernel reports them (BPF_MAP_TYPE_RINGBUF = 27).
      const ringSizes = (): number[] =>
        readdirSync('/proc/self/fd').flatMap((fd) => {
          let info: string;
          try {
            if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-map') return [];
            info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
          } catch {
            return []; // closed meanwhile
          }
          return /^map_type:\s+27$/m.test(info) ? [Number(/^max_entries:\s+(\d+)$/m.exec(info)![1])] : [];
        });
      for (const [asked, expected] of [[undefined, 4 << 20], [3 << 20, 4 << 20], [5 << 20, 8 << 20], [1 << 20, 1 << 20]] as const) {
        const loader = BpfLoader.open(asked === undefined ? {} : { ringBufferBytes: asked });
        try {
          expect(ringSizes()).toEqual([expected]);
        } finally {
          await loader.close();
        }
      }
    });

    it('close waits for the drain in flight', async () => {
      const loader = BpfLoader.open();
      const pending = loader.drain(Buffer.alloc(DRAIN_MIN_BUFFER), 200);
      await loader.close();
      expect(await pending).toBe(0);
    });
  });

  describe('with a 64 KiB cap and a one-record drain buffer', () => {
    let capture: Capture;
    const big = randomBytes(1 << 20);

    beforeAll(() => {
      writeFileSync(join(dir, 'big.bin'), big);
      capture = new Capture({ maxCaptureBytes: 65536 }, DRAIN_MIN_BUFFER);
    });

    afterAll(async () => {
      await capture?.stop();
    });

    it('splits each large call into 16 KiB chunk records and loses none of them', async () => {
      const port = await freePort();
      const server = startProcess('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)]);
      await waitForListen('127.0.0.1', port);
      const client = await runClient('curl', ['-sS', '--http1.1', `http://127.0.0.1:${port}/big.bin`]);
      expect(client.stdout.equals(big)).toBe(true);
      const open = await capture.waitFor('curl open record', () =>
        capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
      );
      const serverOpen = await capture.waitFor('server open record', () =>
        capture.opens((o) => o.tgid === server.pid && o.remotePort === open.localPort)[0],
      );
      const serverClose = await capture.waitFor('server close record', () => capture.closeOf(serverOpen));
      const out = capture
        .dataOf(serverOpen)
        .filter((d) => d.direction === L.FS_DIR_EGRESS)
        .sort((a, b) => Number(a.pos - b.pos));
      let next = 0n;
      for (const d of out) {
        expect(d.pos).toBe(next);
        expect(d.len).toBeLessThanOrEqual(L.FS_MAX_CHUNK);
        expect(d.capLen).toBe(d.len); // python sends 64 KiB at a time: all of it fits under the cap
        next += BigInt(d.len);
      }
      expect(next).toBe(serverClose.bytesSent);
      const body = captured(out, L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL);
      expect(body.subarray(body.length - big.length).equals(big)).toBe(true);
      expect(capture.batches).toBeGreaterThan(60); // the small buffer forced many drains
    });

    it('walks iovecs of sendmsg, writev, recvmsg and readv, and counts entries beyond 64', async () => {
      const port = await freePort();
      const request = 'GET /iov/one HTTP/1.1\r\nHost: x\r\n\r\nGET /iov/two HTTP/1.1\r\nHost: x\r\n\r\n';
      const server = await startTcpServer(port, `b1, b2 = bytearray(5), bytearray(4096)
got = 0
while got < ${request.length}:
    n = c.recvmsg_into([b1, b2])[0]
    if n == 0: break
    got += n
os.writev(c.fileno(), [b'HTTP/1.1 200 OK\\r\\n', b'Content-Length: 2\\r\\n\\r\\nok'])
got = 0
while got < 70:
    n = os.readv(c.fileno(), [b1, b2])
    if n == 0: break
    got += n
c.close()`);
      const client = await runClient('python3', [
        '-c',
        `import socket, os
c = socket.create_connection(('127.0.0.1', ${port}))
c.sendmsg([b'GET /iov', b'/one HTTP/1.1\\r\\n', b'Host: x\\r\\n\\r\\n'])
os.writev(c.fileno(), [b'GET /iov/two HTTP/1.1\\r\\n', b'Host: x\\r\\n\\r\\n'])
resp = b''
while not resp.endswith(b'ok'):
    resp += c.recv(100)
c.sendmsg([bytes([65 + i % 26]) for i in range(70)])
c.recv(1)
print(resp.decode(), end='')
c.close()`,
      ]);
      expect(client.stdout.toString()).toMatch(/ok$/);
      const open = await capture.waitFor('client open record', () =>
        capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
      );
      const serverOpen = await capture.waitFor('server open record', () =>
        capture.opens((o) => o.tgid === server.pid! && o.remotePort === open.localPort)[0],
      );
      await capture.waitFor('client close record', () => capture.closeOf(open));
      await capture.waitFor('server close record', () => capture.closeOf(serverOpen));

      const sent = capture.dataOf(open).filter((d) => d.direction === L.FS_DIR_EGRESS);
      const letters = Array.from({ length: 64 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');
      expect(captured(sent, L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL).toString('latin1')).toBe(request + letters);
      // One record per call, however many segments it had: the 70-entry sendmsg is one
      // record of 70 bytes whose last 6 (entries 65..70) are described, not captured.
      expect(sent.map((d) => [d.len, d.capLen])).toEqual([[request.length / 2, request.length / 2], [request.length / 2, request.length / 2], [70, 64]]);
      expect(capture.loader.readLosses()[L.FS_LOSS_IOV_LIMIT]).toBeGreaterThanOrEqual(6);
      const answer = capture.dataOf(serverOpen).filter((d) => d.direction === L.FS_DIR_EGRESS);
      expect(answer.map((d) => [d.len, d.capLen])).toEqual([[40, 40]]); // writev of two segments

      const received = captured(capture.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1');
      expect(received).toBe(request + Array.from({ length: 70 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));
      expect(captured(capture.dataOf(open), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1')).toBe(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      );
    });

    it('gathers the segments of one call across record boundaries, up to the cap', async () => {
      const port = await freePort();
      const server = await startTcpServer(port, 'while c.recv(65536): pass');
      // Three 30,000-byte segments (HTTP-looking, so payload is captured): 90,000 bytes in one call, over the 64 KiB cap.
      const client = await runClient('python3', [
        '-c',
        `import socket, os
c = socket.create_connection(('127.0.0.1', ${port}))
head = b'POST /up HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'
segments = [head + b'A' * (30000 - len(head)), b'B' * 30000, b'C' * 30000]
n = os.writev(c.fileno(), segments)
print(n)
c.close()`,
      ]);
      const written = Number(client.stdout.toString());
      const open = await capture.waitFor('client open record', () => capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0]);
      await capture.waitFor('client close record', () => capture.closeOf(open));
      const sent = capture.dataOf(open).filter((d) => d.direction === L.FS_DIR_EGRESS);
      expect(written).toBe(90000); // a blocking TCP writev sends it all
      // 16 KiB records filled across segment ends; the fourth carries the cap's last bytes and stands for the rest.
      expect(sent.map((d) => [Number(d.pos), d.len, d.capLen])).toEqual([
        [0, 16384, 16384], [16384, 16384, 16384], [32768, 16384, 16384], [49152, 90000 - 49152, 16384],
      ]);
      expect(capture.loader.readLosses()[L.FS_LOSS_TRUNCATED]).toBeGreaterThanOrEqual(90000 - 65536);
      const bytes = captured(sent, L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL);
      const head = 'POST /up HTTP/1.1\r\nHost: x\r\n\r\n';
      const expected = Buffer.concat([Buffer.from(head), Buffer.alloc(30000 - head.length, 65), Buffer.alloc(30000, 66), Buffer.alloc(30000, 67)]).subarray(0, 65536);
      expect(bytes.subarray(0, expected.length).equals(expected)).toBe(true);
      server.kill();
    });

    it('describes a call without its bytes, and counts it, when every scratch slot of its CPU is taken', async () => {
      // A program preempted mid-call keeps its slot; holding them all from user space is that case for every CPU.
      const port = await freePort();
      const go = join(dir, `go-${port}`);
      const server = await startTcpServer(port, `if c.recv(65536):  # not the listen probe's connection
    while not os.path.exists('${go}'): time.sleep(0.01)
    c.sendall(b'go')
    while c.recv(65536): pass`);
      const first = 'GET /busy HTTP/1.1\r\nHost: x\r\n\r\n';
      const second = 'GET /free HTTP/1.1\r\nHost: x\r\n\r\n';
      const busyBefore = capture.loader.readLosses()[L.FS_LOSS_SCRATCH_BUSY]!;
      capture.loader.holdScratch(true);
      const client = runClient('python3', [
        '-c',
        `import socket
c = socket.create_connection(('127.0.0.1', ${port}))
c.sendall(b'${first.replace(/\r\n/g, '\\r\\n')}')
c.recv(2)
c.sendall(b'${second.replace(/\r\n/g, '\\r\\n')}')
c.close()`,
      ]);
      try {
        await capture.waitFor('the held call, described on the server', () =>
          capture.opens((o) => o.tgid === server.pid! && o.localPort === port).some((o) => capture.dataOf(o).some((d) => d.direction === L.FS_DIR_INGRESS)),
        );
      } finally {
        capture.loader.holdScratch(false);
      }
      writeFileSync(go, '');
      const { pid } = await client;
      const open = await capture.waitFor('client open record', () => capture.opens((o) => o.tgid === pid && o.remotePort === port)[0]);
      await capture.waitFor('client close record', () => capture.closeOf(open));
      const sent = capture.dataOf(open).filter((d) => d.direction === L.FS_DIR_EGRESS);
      // The first call is all there by position and length, none of it captured; the next starts where it ends.
      expect(sent.map((d) => [Number(d.pos), d.len, d.capLen])).toEqual([
        [0, first.length, 0],
        [first.length, second.length, second.length],
      ]);
      expect(captured(sent, L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL).toString('latin1')).toBe(second);
      expect(capture.loader.readLosses()[L.FS_LOSS_SCRATCH_BUSY]! - busyBefore).toBeGreaterThanOrEqual(2); // client write, server read
      server.kill();
    });

    it('lists kernel connections by (tgid, fd) and forgets them for garbage collection', async () => {
      const port = await freePort();
      await startTcpServer(port, 'time.sleep(60)');
      const client = startProcess('python3', [
        '-c',
        `import socket, time
c = socket.create_connection(('127.0.0.1', ${port})); time.sleep(60)`,
      ]);
      const open = await capture.waitFor('client open record', () =>
        capture.opens((o) => o.tgid === client.pid && o.remotePort === port)[0],
      );
      const has = (): boolean => capture.loader.connList().some(([tgid, fd]) => tgid === open.tgid && fd === open.fd);
      expect(has()).toBe(true);
      expect(capture.loader.connForget(open.tgid, open.fd)).toBe(true);
      expect(capture.loader.connForget(open.tgid, open.fd)).toBe(false);
      expect(has()).toBe(false);
    });
  });
});
