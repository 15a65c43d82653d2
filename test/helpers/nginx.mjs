// A private nginx instance on a free loopback port, with its own prefix, TLS
// certificate and access log, for tests that need a real HTTP server.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.mjs';

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/**
 * @typedef {object} NginxOptions
 * @property {string} [locations] extra server-block directives
 * @property {boolean} [tls]
 * @property {boolean} [ipv6]
 * @property {boolean} [sendfile]
 * @property {number} [workers] worker processes (default 1)
 */

export class Nginx {
  /** @param {string} dir @param {number} port @param {boolean} tls */
  #stopAtExit = () => this.stop();

  constructor(dir, port, tls) {
    this.dir = dir;
    this.port = port;
    this.tls = tls;
  }

  /** @param {NginxOptions} [options] @returns {Promise<Nginx>} */
  static async start(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-nginx-'));
    chmodSync(dir, 0o755); // nginx workers run as an unprivileged user
    const port = await freePort();
    mkdirSync(join(dir, 'html'));
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'html', 'index.html'), 'hello from nginx\n');
    writeFileSync(join(dir, 'html', 'notes.txt'), 'flowscope '.repeat(2000));
    writeFileSync(join(dir, 'html', 'big.bin'), Buffer.alloc(1 << 20, 0x61));
    let tlsDirectives = '';
    if (options.tls) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      tlsDirectives = `ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem;`;
    }
    const ssl = options.tls ? ' ssl' : '';
    const listen6 = options.ipv6 ? `listen [::1]:${port}${ssl};` : '';
    writeFileSync(join(dir, 'nginx.conf'), `
daemon off;
worker_processes ${options.workers ?? 1};
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  sendfile ${options.sendfile ? 'on' : 'off'};
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port}${ssl};
    ${listen6}
    ${tlsDirectives}
    root ${dir}/html;
    # gzip makes nginx stream static files with chunked transfer coding
    location /gz/ { gzip on; gzip_min_length 1; gzip_types text/plain; alias ${dir}/html/; }
    location = /status/201 { return 201 "created\\n"; }
    location = /status/404 { return 404; }
    ${options.locations ?? ''}
  }
}
`);
    const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore', detached: false });
    child.unref();
    const nginx = new Nginx(dir, port, options.tls === true);
    // A test or benchmark that dies without stop() must not leave nginx serving.
    process.on('exit', nginx.#stopAtExit);
    await waitFor('nginx to listen', () => existsSync(join(dir, 'nginx.pid')) && canConnect(port));
    return nginx;
  }

  /** @returns {string} */
  get url() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Bytes of access log so far: a mark to pass to accessLogLines later. */
  /** @returns {number} */
  accessLogBytes() {
    return statSync(join(this.dir, 'logs', 'access.log')).size;
  }

  /**
   * Requests nginx logged after byte `since` of its access log, one per line
   * (a benchmark's log outgrows one string, so rounds read only their part).
   * @param {number} [since] @returns {string[]}
   */
  accessLogLines(since = 0) {
    const fd = openSync(join(this.dir, 'logs', 'access.log'), 'r');
    try {
      const bytes = Buffer.allocUnsafe(Math.max(0, fstatSync(fd).size - since));
      let read = 0;
      while (read < bytes.length) {
        const n = readSync(fd, bytes, read, bytes.length - read, since + read);
        if (n === 0) break;
        read += n;
      }
      return bytes.toString('latin1', 0, read).split('\n').filter((l) => l !== '');
    } finally {
      closeSync(fd);
    }
  }

  stop() {
    process.off('exit', this.#stopAtExit);
    try {
      const pid = Number(readFileSync(join(this.dir, 'nginx.pid'), 'latin1'));
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** @param {number} port @returns {Promise<boolean>} */
function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
  });
}
