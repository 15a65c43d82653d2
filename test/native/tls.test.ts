// Real kernel: libssl uprobes give the plaintext of TLS connections between
// nginx and curl / python3, the ciphertext carries no payload, and nginx's
// sendfile() shows up as uncaptured bytes with exact positions.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { classifyTlsBinary } from '../../agent/capture/tls-binaries.js';
import { buildNative, Capture, captured, freePort, runClient, startProcess, stopAll, waitForListen } from './support.js';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

// Both ways of probing libssl: its four exports, and the two internal
// functions they share (agent/capture/tls-openssl.ts), which the agent uses
// when it finds them.
const ATTACH_MODES = [
  { mode: 'SSL_read/SSL_write and the _ex forms', core: false, expectedProbes: 8 },
  { mode: 'the internal read/write functions behind them', core: true, expectedProbes: 4 },
];

describe.each(ATTACH_MODES)('TLS plaintext and sendfile through nginx, probing $mode', ({ core, expectedProbes }) => {
  let capture: Capture;
  let dir: string;
  let tlsPort: number;
  let plainPort: number;
  let h2Port: number;
  let nginxPid: number;
  let probes: number;
  const big = randomBytes(1 << 20);

  beforeAll(async () => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-'));
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'tls.txt'), 'secret over tls\n');
    writeFileSync(join(www, 'py.txt'), 'hello python\n');
    writeFileSync(join(www, 'big.bin'), big);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
    ], { stdio: 'ignore' });
    tlsPort = await freePort();
    plainPort = await freePort();
    h2Port = await freePort();
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
user root;
error_log ${dir}/error.log;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:${tlsPort} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    root ${www};
  }
  server {
    listen 127.0.0.1:${plainPort};
    root ${www};
  }
  server {
    listen 127.0.0.1:${h2Port} http2;
    root ${www};
  }
}
`,
    );
    capture = new Capture();
    const sslCore = core ? classifyTlsBinary(LIBSSL)?.sslCore : undefined;
    if (core && !sslCore) throw new Error(`no internal read/write functions found in ${LIBSSL}`);
    probes = capture.loader.attachSsl(LIBSSL, sslCore);
    nginxPid = startProcess('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')]).pid!;
    await waitForListen('127.0.0.1', tlsPort);
    await waitForListen('127.0.0.1', plainPort);
    await waitForListen('127.0.0.1', h2Port);
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('attaches an entry and a return probe to each function', () => {
    expect(probes).toBe(expectedProbes);
    expect(capture.loader.attachSsl(LIBSSL)).toBe(expectedProbes); // same path: nothing new
  });

  it('captures curl’s request as TLS plaintext on both ends and no ciphertext payload', async () => {
    const client = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${tlsPort}/tls.txt`]);
    expect(client.stdout.toString()).toBe('secret over tls\n');
    const open = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0],
    );
    const serverOpen = await capture.waitFor('nginx open record', () =>
      capture.opens((o) => o.tgid === nginxPid && o.remotePort === open.localPort)[0],
    );
    const close = await capture.waitFor('curl close record', () => capture.closeOf(open));
    const request = `GET /tls.txt HTTP/1.1\r\nHost: 127.0.0.1:${tlsPort}\r\n`;

    const clientData = capture.dataOf(open);
    expect(captured(clientData, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').startsWith(request)).toBe(true);
    expect(captured(clientData, L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1')).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecret over tls\n$/,
    );
    expect(clientData.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
    for (const d of clientData) expect(d.protocol).toBe(L.FS_PROTO_HTTP1);
    expect(close.tls).toBe(1);
    expect(close.protocol).toBe(L.FS_PROTO_HTTP1);
    expect(close.bytesSent).toBeGreaterThan(BigInt(request.length)); // ciphertext, counted

    await capture.waitFor('nginx plaintext request', () =>
      captured(capture.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1').startsWith(request),
    );
    expect(capture.dataOf(serverOpen).filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
  });

  it('captures python3’s ssl client (SSL_write_ex / SSL_read_ex) as plaintext', async () => {
    const client = await runClient('python3', [
      '-c',
      `import ssl, http.client
c = http.client.HTTPSConnection('127.0.0.1', ${tlsPort}, context=ssl._create_unverified_context())
c.request('GET', '/py.txt')
print(c.getresponse().read().decode(), end='')
c.close()`,
    ]);
    expect(client.stdout.toString()).toBe('hello python\n');
    const open = await capture.waitFor('python open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0],
    );
    await capture.waitFor('python close record', () => capture.closeOf(open));
    const data = capture.dataOf(open);
    expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').startsWith('GET /py.txt HTTP/1.1\r\n')).toBe(true);
    expect(captured(data, L.FS_DIR_INGRESS, L.FS_SRC_SSL).toString('latin1').endsWith('\r\n\r\nhello python\n')).toBe(true);
    expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
  });

  it('chunks a 200 KiB TLS write like a syscall: positions add up, bytes past the cap are described', async () => {
    const size = 200 * 1024;
    const client = await runClient('python3', [
      '-c',
      `import ssl, socket
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', ${tlsPort})))
body = b'x' * ${size}
s.sendall(b'POST /upload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body))
s.sendall(body)
try:
    print(s.recv(100)[:12].decode(), end='')
except OSError:
    pass
s.close()`,
    ]);
    expect(client.stdout.toString()).toMatch(/^HTTP\/1\.1 4\d\d/); // nginx refuses the POST; the upload still happened
    const open = await capture.waitFor('python open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0],
    );
    await capture.waitFor('python close record', () => capture.closeOf(open));
    const sent = capture
      .dataOf(open)
      .filter((d) => d.direction === L.FS_DIR_EGRESS)
      .sort((a, b) => Number(a.pos - b.pos));
    expect(sent.every((d) => d.source === L.FS_SRC_SSL)).toBe(true);
    let next = 0n;
    for (const d of sent) {
      expect(d.pos).toBe(next);
      expect(d.capLen).toBeLessThanOrEqual(L.FS_MAX_CHUNK);
      next += BigInt(d.len);
    }
    const headers = sent[0]!.payload.toString('latin1');
    expect(headers).toMatch(/^POST \/upload HTTP\/1\.1\r\n/);
    expect(next).toBe(BigInt(headers.length + size));
    expect(sent.some((d) => d.len > d.capLen)).toBe(true);
  });

  it('counts nginx sendfile() bytes as uncaptured records whose positions add up', async () => {
    const client = await runClient('curl', ['-sS', '--http1.1', `http://127.0.0.1:${plainPort}/big.bin`]);
    expect(client.stdout.equals(big)).toBe(true);
    const open = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === plainPort)[0],
    );
    const serverOpen = await capture.waitFor('nginx open record', () =>
      capture.opens((o) => o.tgid === nginxPid && o.remotePort === open.localPort)[0],
    );
    await capture.waitFor('curl close record', () => capture.closeOf(open));
    // nginx keeps the connection open (keep-alive) until curl closes it.
    const serverClose = await capture.waitFor('nginx close record', () => capture.closeOf(serverOpen));
    const out = capture
      .dataOf(serverOpen)
      .filter((d) => d.direction === L.FS_DIR_EGRESS)
      .sort((a, b) => Number(a.pos - b.pos));
    let next = 0n;
    for (const d of out) {
      expect(d.pos).toBe(next);
      next += BigInt(d.len);
    }
    expect(next).toBe(serverClose.bytesSent);
    const sendfile = out.filter((d) => d.source === L.FS_SRC_SENDFILE);
    expect(sendfile.length).toBeGreaterThan(0);
    for (const d of sendfile) expect(d.capLen).toBe(0);
    expect(sendfile.reduce((n, d) => n + d.len, 0)).toBe(big.length);
    expect(out[0]!.payload.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('infers HTTP/2 from the client preface and from the server’s first SETTINGS frame (h2c)', async () => {
    const client = await runClient('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${h2Port}/tls.txt`]);
    expect(client.stdout.toString()).toBe('secret over tls\n');
    const open = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === h2Port)[0],
    );
    const serverOpen = await capture.waitFor('nginx open record', () =>
      capture.opens((o) => o.tgid === nginxPid && o.remotePort === open.localPort)[0],
    );
    const close = await capture.waitFor('curl close record', () => capture.closeOf(open));
    expect(close.protocol).toBe(L.FS_PROTO_HTTP2);
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    expect(captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SYSCALL).toString('latin1').startsWith(preface)).toBe(true);
    const serverClose = await capture.waitFor('nginx close record', () => capture.closeOf(serverOpen));
    expect(serverClose.protocol).toBe(L.FS_PROTO_HTTP2);
    expect(captured(capture.dataOf(serverOpen), L.FS_DIR_INGRESS, L.FS_SRC_SYSCALL).toString('latin1').startsWith(preface)).toBe(true);
  });

  it('infers HTTP/2 inside TLS (ALPN h2) from the plaintext', async () => {
    const client = await runClient('curl', ['-sSk', '--http2', `https://127.0.0.1:${tlsPort}/tls.txt`]);
    expect(client.stdout.toString()).toBe('secret over tls\n');
    const open = await capture.waitFor('curl open record', () =>
      capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0],
    );
    const close = await capture.waitFor('curl close record', () => capture.closeOf(open));
    expect(close.tls).toBe(1);
    expect(close.protocol).toBe(L.FS_PROTO_HTTP2);
    const data = capture.dataOf(open);
    expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
    expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1').startsWith('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).toBe(true);
  });

  it('probes a library again at once after detaching it, reporting each TLS call once', async () => {
    capture.loader.detachSsl(LIBSSL);
    // The old probes are still being let go of: new and old both fire on the next calls.
    expect(capture.loader.attachSsl(LIBSSL, core ? classifyTlsBinary(LIBSSL)?.sslCore : undefined)).toBe(expectedProbes);
    expect(capture.loader.detachesPending()).toBe(1);
    const client = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${tlsPort}/tls.txt`]);
    const open = await capture.waitFor('curl open record', () => capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0]);
    await capture.waitFor('curl close record', () => capture.closeOf(open));
    const sent = captured(capture.dataOf(open), L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1');
    expect(sent).toMatch(new RegExp(`^GET /tls\\.txt HTTP/1\\.1\\r\\nHost: 127\\.0\\.0\\.1:${tlsPort}\\r\\n(?:[^\\r\\n]+\\r\\n)*\\r\\n$`));
  });

  it('detaches the TLS probes without waiting for the kernel, which lets go of them soon after', async () => {
    capture.loader.detachSsl(LIBSSL);
    expect(() => capture.loader.detachSsl(LIBSSL)).toThrow(/detaching TLS probes/);
    await capture.waitFor('the probes let go of', () => capture.loader.detachesPending() === 0);
    const client = await runClient('curl', ['-sSk', '--http1.1', `https://127.0.0.1:${tlsPort}/tls.txt`]);
    expect(client.stdout.toString()).toBe('secret over tls\n');
    const open = await capture.waitFor('curl open record', () => capture.opens((o) => o.tgid === client.pid && o.remotePort === tlsPort)[0]);
    const close = await capture.waitFor('curl close record', () => capture.closeOf(open));
    // The syscalls are still seen; no TLS call is, and the ciphertext carries no payload.
    expect(close.tls).toBe(0);
    expect(capture.dataOf(open)).toEqual([]);
  });
});
