// Real kernel: a program that links OpenSSL statically (its own SSL_read /
// SSL_write, exported or only in its symbol table) is classified and probed
// like the system libssl, and gives plaintext for its TLS connection to nginx.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../../agent/capture/record-layout.generated.js';
import { classifyTlsBinary } from '../../agent/capture/tls-binaries.js';
import { buildStaticOpenssl } from '../fixtures/tls/programs.js';
import { Nginx } from '../helpers/nginx.mjs';
import { buildNative, Capture, captured, runClient } from './support.js';

describe('statically linked OpenSSL', () => {
  let capture: Capture;
  let dir: string;
  let exported: string;
  let unexported: string;
  let nginx: Nginx;

  beforeAll(async () => {
    buildNative();
    dir = mkdtempSync(join(tmpdir(), 'flowscope-tls-static-'));
    exported = buildStaticOpenssl(dir);
    unexported = buildStaticOpenssl(dir, 'static-openssl-hidden', false);
    capture = new Capture();
    nginx = await Nginx.start({ tls: true });
  }, 120_000);

  afterAll(async () => {
    nginx?.stop();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('classifies both builds as static OpenSSL', () => {
    // No version: the client never references OpenSSL_version, so its string is not linked in.
    for (const exe of [exported, unexported]) expect(classifyTlsBinary(exe)).toEqual({ kind: 'openssl-static' });
    expect(classifyTlsBinary('/usr/lib/x86_64-linux-gnu/libssl.so.3')).toMatchObject({ kind: 'openssl-dynamic' });
    expect(classifyTlsBinary('/usr/bin/curl')).toBeUndefined();
  });

  for (const which of ['exported', 'unexported'] as const) {
    it(`captures the plaintext of the ${which}-symbol build, and no ciphertext payload`, async () => {
      const exe = which === 'exported' ? exported : unexported;
      expect(capture.loader.attachSsl(exe)).toBe(8);
      const res = await runClient(exe, ['127.0.0.1', String(nginx.port), '/index.html', '/status/404']);
      expect(res.stdout.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from nginx\n[\s\S]*HTTP\/1\.1 404 Not Found\r\n/);
      const open = await capture.waitFor('client open record', () =>
        capture.opens((o) => o.tgid === res.pid && o.remotePort === nginx.port)[0],
      );
      const close = await capture.waitFor('client close record', () => capture.closeOf(open));
      expect(close.tls).toBe(1);
      const data = capture.dataOf(open);
      expect(captured(data, L.FS_DIR_EGRESS, L.FS_SRC_SSL).toString('latin1')).toBe(
        `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${nginx.port}\r\n\r\nGET /status/404 HTTP/1.1\r\nHost: 127.0.0.1:${nginx.port}\r\nConnection: close\r\n\r\n`,
      );
      expect(captured(data, L.FS_DIR_INGRESS, L.FS_SRC_SSL).equals(res.stdout)).toBe(true);
      expect(data.filter((d) => d.source !== L.FS_SRC_SSL)).toEqual([]);
      capture.loader.detachSsl(exe);
    });
  }
});
