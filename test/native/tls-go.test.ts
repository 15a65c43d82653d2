// Real kernel: Go crypto/tls probes (entry of (*Conn).Write, entry and every
// RET of (*Conn).Read) give the plaintext of a stdlib Go HTTPS server and
// client; their ciphertext carries no payload; a stripped binary is probed
// through Go's own function table, and one whose table cannot be found is
// refused with a reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { ElfFile } from '../../agent/capture/tls-elf.js';
import { GO_READ_AT_JBE, GO_WRITE_AT_JBE, inspectGoExecutable } from '../../agent/capture/tls-go.js';
import { decodeInstruction } from '../../agent/capture/tls-x86.js';
import { buildGo, hideGoFunctionTable, selfSignedCert } from '../fixtures/tls/programs.js';
import { Nginx } from '../helpers/nginx.mjs';
import { buildNative, Capture, captured, freePort, runClient, startProcess, stopAll, waitForListen } from './support.js';

describe('Go crypto/tls plaintext', () => {
  let capture: Capture;
  let dir: string;
  let server: string;
  let client: string;
  let stripped: string;
  let port: number;
  let serverPid: number;
  let nginx: Nginx;

  beforeAll(async () => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-go-'));
    server = buildGo('go-server', dir);
    client = buildGo('go-client', dir);
    stripped = buildGo('go-server', dir, 'go-server-stripped', true);
    const { cert, key } = selfSignedCert(dir);
    capture = new Capture();
    for (const exe of [server, client]) {
      const found = inspectGoExecutable(exe);
      if (!found.probeable) throw new Error(`${exe}: ${found.reason}`);
      capture.loader.attachGoTls(exe, found.probe);
    }
    port = await freePort();
    serverPid = startProcess(server, [`127.0.0.1:${port}`, cert, key]).pid!;
    await waitForListen('127.0.0.1', port);
    nginx = await Nginx.start({ tls: true });
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await stopAll();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the probe points from the symbol table and the decoded code', () => {
    const found = inspectGoExecutable(server);
    expect(found.probeable).toBe(true);
    if (!found.probeable) return;
    expect(found.version).toMatch(/^go1\.\d+/);
    expect(found.probe.readRetOffsets.length).toBeGreaterThan(0);
    expect(found.probe.conf.tcpconn_itab).toBeGreaterThan(0);
    // Entry probes sit on the stack-check JBE (emulated by the kernel, no single-step).
    expect(found.probe.conf.flags).toBe(GO_WRITE_AT_JBE | GO_READ_AT_JBE);
    const elf = ElfFile.open(server);
    try {
      for (const at of [found.probe.writeOffset, found.probe.readOffset]) {
        expect([0x76, 0x186]).toContain(decodeInstruction(elf.read(at, 16), 0).opcode);
      }
      for (const at of found.probe.readRetOffsets) expect(elf.read(at, 1)[0]).toBe(0xc3);
    } finally {
      elf.close();
    }
    // Attaching the same file again adds nothing.
    const probes = 2 + found.probe.readRetOffsets.length;
    expect(capture.loader.attachGoTls(server, found.probe)).toBe(probes);
  });

  it('reports a stripped Go binary whose function table cannot be found, with the reason', () => {
    const hidden = hideGoFunctionTable(stripped, join(dir, 'go-server-no-pclntab'));
    const found = inspectGoExecutable(hidden);
    expect(found).toMatchObject({ probeable: false, reason: 'stripped (no symbol table), no Go function table (.gopclntab) found' });
    expect(found.version).toMatch(/^go1\.\d+/);
  });

  for (const pie of [false, true]) {
    it(`captures curl → a stripped${pie ? ' position-independent' : ''} Go server, probed through its function table`, async () => {
      const exe = pie ? buildGo('go-server', dir, 'go-server-stripped-pie', true, true) : stripped;
      const withSymbols = inspectGoExecutable(pie ? buildGo('go-server', dir, 'go-server-pie-symbols', false, true) : server);
      const found = inspectGoExecutable(exe);
      if (!found.probeable || !withSymbols.probeable) throw new Error(`${JSON.stringify(found)} ${JSON.stringify(withSymbols)}`);
      // Same source and toolchain: the function table gives the symbol table's probe points and itab.
      expect(found.probe).toEqual(withSymbols.probe);
      expect(capture.loader.attachGoTls(exe, found.probe)).toBeGreaterThan(2);
      const { cert, key } = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
      const strippedPort = await freePort();
      const pid = startProcess(exe, [`127.0.0.1:${strippedPort}`, cert, key]).pid!;
      await waitForListen('127.0.0.1', strippedPort);
      const res = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${strippedPort}/hello/stripped`]);
      expect(res.stdout.toString()).toBe('hello stripped\n');
      const open = await capture.waitFor('stripped server connection with data', () =>
        capture.opens((o) => o.tgid === pid && o.localPort === strippedPort).find((o) => capture.dataOf(o).length > 0),
      );
      await capture.waitFor('stripped server plaintext response', () =>
        captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').endsWith('\r\n\r\nhello stripped\n'),
      );
      const data = capture.dataOf(open);
      expect(captured(data, L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^GET \/hello\/stripped HTTP\/1\.1\r\n/);
      expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
    });
  }

  it('captures curl → Go server as plaintext on the server side only from the Go probes', async () => {
    const res = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${port}/hello/gopher`]);
    expect(res.stdout.toString()).toBe('hello gopher\n');
    // The first connection is waitForListen's probe: take the one carrying bytes.
    const open = await capture.waitFor('Go server connection with data', () =>
      capture.opens((o) => o.tgid === serverPid && o.localPort === port).find((o) => capture.dataOf(o).length > 0),
    );
    const request = `GET /hello/gopher HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`;
    await capture.waitFor('Go server plaintext response', () =>
      captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').endsWith('\r\n\r\nhello gopher\n'),
    );
    const data = capture.dataOf(open);
    expect(captured(data, L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1').startsWith(request)).toBe(true);
    expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // No payload leaves the kernel from the ciphertext syscalls.
    expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
    for (const d of data) expect(d.protocol).toBe(L.FS_PROTO_HTTP1);
  });

  it('probes a Go binary again at once after detaching it, reporting each call once', async () => {
    const found = inspectGoExecutable(server);
    if (!found.probeable) throw new Error(found.reason);
    capture.loader.detachSsl(server);
    // The old probes are still being let go of while the new ones are attached.
    capture.loader.attachGoTls(server, found.probe);
    expect(capture.loader.detachesPending()).toBe(1);
    const res = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${port}/hello/again`]);
    expect(res.stdout.toString()).toBe('hello again\n');
    const open = await capture.waitFor('Go server connection with the request', () =>
      capture.opens((o) => o.tgid === serverPid && o.localPort === port).find((o) =>
        captured(capture.dataOf(o), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1').startsWith('GET /hello/again '),
      ),
    );
    await capture.waitFor('Go server close record', () => capture.closeOf(open));
    const data = capture.dataOf(open);
    expect(captured(data, L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^GET \/hello\/again HTTP\/1\.1\r\n(?:[^\r\n]+\r\n)*\r\n$/);
    expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*\r\nhello again\n$/);
  });

  it('checks the connection type in a position-independent Go server (load bias from the probe address)', async () => {
    const pie = buildGo('go-server', dir, 'go-server-pie', false, true);
    const found = inspectGoExecutable(pie);
    if (!found.probeable) throw new Error(found.reason);
    capture.loader.attachGoTls(pie, found.probe);
    const { cert, key } = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    const piePort = await freePort();
    const piePid = startProcess(pie, [`127.0.0.1:${piePort}`, cert, key]).pid!;
    await waitForListen('127.0.0.1', piePort);
    const res = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${piePort}/hello/pie`]);
    expect(res.stdout.toString()).toBe('hello pie\n');
    const open = await capture.waitFor('PIE server connection with data', () =>
      capture.opens((o) => o.tgid === piePid && o.localPort === piePort).find((o) => capture.dataOf(o).length > 0),
    );
    await capture.waitFor('PIE server plaintext response', () =>
      captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').endsWith('\r\n\r\nhello pie\n'),
    );
    expect(captured(capture.dataOf(open), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(/^GET \/hello\/pie HTTP\/1\.1\r\n/);
  });

  it('captures the Go client against nginx TLS, with exact positions over a 1 MiB response', async () => {
    const res = await runClient(client, [`${nginx.url}/index.html`, `${nginx.url}/big.bin`]);
    expect(res.stdout.length).toBe('hello from nginx\n'.length + (1 << 20));
    const open = await capture.waitFor('Go client open record', () =>
      capture.opens((o) => o.tgid === res.pid && o.remotePort === nginx.port)[0],
    );
    // The client exits without close(): wait for the last response bytes instead of a close record.
    const total = (): bigint =>
      capture.dataOf(open).filter((d) => d.direction === L.FS_DIR_INGRESS).reduce((n, d) => n + BigInt(d.len), 0n);
    await capture.waitFor('Go client response bytes', () => total() > BigInt(1 << 20));
    const data = capture.dataOf(open);
    for (const d of data) expect(d.protocol).toBe(L.FS_PROTO_HTTP1);
    expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
    const sent = captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1');
    expect(sent).toMatch(/^GET \/index\.html HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n[\s\S]*GET \/big\.bin HTTP\/1\.1\r\n/);
    const received = data.filter((d) => d.direction === L.FS_DIR_INGRESS).sort((a, b) => Number(a.pos - b.pos));
    let next = 0n;
    for (const d of received) {
      expect(d.pos).toBe(next);
      next += BigInt(d.len);
    }
    const firstResponse = received[0]!.payload.toString('latin1');
    expect(firstResponse).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // Both responses' bytes are accounted for, captured or described.
    expect(next).toBeGreaterThan(BigInt((1 << 20) + 'hello from nginx\n'.length));
  });
});
