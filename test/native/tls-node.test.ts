// Real kernel: Node.js links OpenSSL statically and runs TLS over memory BIOs,
// so no socket syscall happens inside SSL_read/SSL_write. The probes on the
// node executable's own SSL_* symbols still give plaintext on the right
// connection (fd taken from the thread's ciphertext read that precedes the TLS
// call), for https and HTTP/2 over TLS, client and server, large responses
// included; the ciphertext syscalls carry no payload.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { TLS_FIXTURES, selfSignedCert } from '../fixtures/tls/programs.js';
import { buildNative, Capture, captured, freePort, runClient, startProcess, stopAll, waitForListen, type ConnOpen, type Data } from './support.js';

const NODE = realpathSync(process.execPath);

describe('Node.js TLS plaintext (static OpenSSL, memory BIOs)', () => {
  let capture: Capture;
  let dir: string;
  let httpsPort: number;
  let h2Port: number;
  let httpsPid: number;
  let h2Pid: number;
  let probes: number;

  beforeAll(async () => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-node-'));
    const { cert, key } = selfSignedCert(dir);
    capture = new Capture();
    probes = capture.loader.attachSsl(NODE);
    httpsPort = await freePort();
    h2Port = await freePort();
    httpsPid = startProcess(NODE, [join(TLS_FIXTURES, 'node-server.mjs'), 'https', String(httpsPort), cert, key]).pid!;
    h2Pid = startProcess(NODE, [join(TLS_FIXTURES, 'node-server.mjs'), 'http2', String(h2Port), cert, key]).pid!;
    await waitForListen('127.0.0.1', httpsPort);
    await waitForListen('127.0.0.1', h2Port);
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The client's connection to port and the server's end of it. */
  async function ends(clientPid: number, serverPid: number, port: number): Promise<[ConnOpen, ConnOpen]> {
    const client = await capture.waitFor('client open record', () =>
      capture.opens((o) => o.tgid === clientPid && o.remotePort === port)[0],
    );
    const server = await capture.waitFor('server open record', () =>
      capture.opens((o) => o.tgid === serverPid && o.remotePort === client.localPort)[0],
    );
    return [client, server];
  }

  const ciphertextPayload = (data: Data[]): Data[] => data.filter((d) => d.source !== L.FS_SRC_SSL);

  it('probes SSL_read, SSL_write and their _ex forms in the node executable', () => {
    expect(probes).toBe(8);
  });

  it('captures an https keep-alive exchange on both ends', async () => {
    const url = `https://127.0.0.1:${httpsPort}`;
    const res = await runClient(NODE, [join(TLS_FIXTURES, 'node-client.mjs'), 'https', `${url}/hello/a`, `${url}/hello/b`]);
    expect(res.stdout.toString()).toBe('hello a\nhello b\n');
    const [client, server] = await ends(res.pid, httpsPid, httpsPort);
    const reqs = /^GET \/hello\/a HTTP\/1\.1\r\n[\s\S]*\r\n\r\nGET \/hello\/b HTTP\/1\.1\r\n[\s\S]*\r\n\r\n$/;
    const resps = /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello a\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello b\n$/;
    await capture.waitFor('client plaintext', () => resps.test(captured(capture.dataOf(client), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')));
    await capture.waitFor('server plaintext', () => resps.test(captured(capture.dataOf(server), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')));
    expect(captured(capture.dataOf(client), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(reqs);
    expect(captured(capture.dataOf(server), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(reqs);
    expect(ciphertextPayload(capture.dataOf(client))).toEqual([]);
    expect(ciphertextPayload(capture.dataOf(server))).toEqual([]);
    const close = await capture.waitFor('client close record', () => capture.closeOf(client));
    expect(close.tls).toBe(1);
    expect(close.protocol).toBe(L.FS_PROTO_HTTP1);
  });

  it('captures HTTP/2 over TLS (ALPN h2) from the preface on', async () => {
    const url = `https://127.0.0.1:${h2Port}`;
    const res = await runClient(NODE, [join(TLS_FIXTURES, 'node-client.mjs'), 'http2', `${url}/hello/h2`]);
    expect(res.stdout.toString()).toBe('hello h2\n');
    const [client, server] = await ends(res.pid, h2Pid, h2Port);
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    await capture.waitFor('server plaintext preface', () =>
      captured(capture.dataOf(server), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1').startsWith(preface),
    );
    expect(captured(capture.dataOf(client), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').startsWith(preface)).toBe(true);
    // The server's last records may still be on their way from the ring buffer.
    const fromServer = await capture.waitFor('server plaintext response body', () => {
      const bytes = captured(capture.dataOf(server), L.FS_DIR_EGRESS, L.FS_SRC_SSL);
      return bytes.includes(Buffer.from('hello h2\n')) ? bytes : undefined;
    });
    expect(fromServer.subarray(3, 4)[0]).toBe(4); // first frame: SETTINGS
    for (const d of [...capture.dataOf(client), ...capture.dataOf(server)]) expect(d.protocol).toBe(L.FS_PROTO_HTTP2);
    expect(ciphertextPayload(capture.dataOf(client))).toEqual([]);
    expect(ciphertextPayload(capture.dataOf(server))).toEqual([]);
  });

  it('describes a 1 MiB response spanning many TLS records with exact positions', async () => {
    const size = 1 << 20;
    const url = `https://127.0.0.1:${httpsPort}`;
    const res = await runClient(NODE, [join(TLS_FIXTURES, 'node-client.mjs'), 'https', `${url}/big?n=${size}`, `${url}/hello/after`]);
    expect(res.stdout.length).toBe(size + 'hello after\n'.length);
    const [client, server] = await ends(res.pid, httpsPid, httpsPort);
    const ended = (open: ConnOpen, dir: number): boolean =>
      captured(capture.dataOf(open), dir, L.FS_SRC_SSL).toString('latin1').endsWith('\r\n\r\nhello after\n');
    await capture.waitFor('client response bytes', () => ended(client, L.FS_DIR_INGRESS));
    await capture.waitFor('server response bytes', () => ended(server, L.FS_DIR_EGRESS));
    for (const [open, dir] of [[client, L.FS_DIR_INGRESS], [server, L.FS_DIR_EGRESS]] as const) {
      const recs = capture.dataOf(open).filter((d) => d.direction === dir).sort((a, b) => Number(a.pos - b.pos));
      let next = 0n;
      for (const d of recs) {
        expect(d.source).toBe(L.FS_SRC_SSL);
        expect(d.pos).toBe(next);
        next += BigInt(d.len);
      }
      expect(recs[0]!.payload.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 1048576\r\n/);
      // Every byte of both responses is described, and the one after the big one is captured whole.
      const after = recs[recs.length - 1]!.payload.toString('latin1');
      expect(after).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello after\n$/);
      expect(next).toBe(BigInt(recs[0]!.payload.indexOf('\r\n\r\n') + 4 + size + after.length));
    }
  });
});
