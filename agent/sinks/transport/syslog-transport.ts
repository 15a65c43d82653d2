// Syslog over TCP (RFC 6587 octet counting) or TLS (RFC 5425). One connection,
// reopened on the next batch after it drops. A batch counts as delivered once
// the kernel took it: TCP syslog has no acknowledgements, so a receiver that
// dies mid-batch can lose what was in flight; a receiver that closes cleanly
// is noticed before the next batch is written.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { SyslogSinkConfig } from '../config.js';
import { DeliveryError, type SendResult, type Transport } from './delivery.js';

const CONNECT_TIMEOUT_MS = 10_000;

export class SyslogTransport implements Transport {
  readonly #config: SyslogSinkConfig;
  readonly #tlsOptions: tls.ConnectionOptions | undefined;
  #socket: net.Socket | undefined;

  constructor(config: SyslogSinkConfig) {
    this.#config = config;
    if (config.transport === 'tls') {
      const t = config.tls ?? {};
      this.#tlsOptions = {
        host: config.host, port: config.port,
        servername: t.serverName ?? (net.isIP(config.host) ? undefined : config.host),
        rejectUnauthorized: !t.insecureSkipVerify,
        ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
        ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
        ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
      };
    }
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  async send(records: Buffer[]): Promise<SendResult> {
    const socket = this.#socket ?? (await this.#connect());
    const frames: Buffer[] = [];
    for (const message of records) frames.push(Buffer.from(`${message.length} `, 'latin1'), message);
    await new Promise<void>((resolve, reject) => {
      socket.write(Buffer.concat(frames), (err) => {
        if (err) {
          this.#drop(socket);
          reject(new DeliveryError(`syslog write failed: ${err.message}`, true));
        } else resolve();
      });
    });
    return { rejected: 0 };
  }

  #connect(): Promise<net.Socket> {
    const { host, port } = this.#config;
    return new Promise((resolve, reject) => {
      const socket = this.#tlsOptions ? tls.connect(this.#tlsOptions) : net.connect({ host, port });
      const ready = this.#tlsOptions ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new DeliveryError(`syslog connect to ${host}:${port} failed: ${err.message}`, true));
      };
      socket.once('error', fail);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.setKeepAlive(true, 30_000);
        // A receiver that closes or fails is forgotten, so the next batch reconnects.
        socket.on('error', () => this.#drop(socket));
        socket.on('end', () => this.#drop(socket));
        socket.on('close', () => this.#drop(socket));
        socket.on('data', () => undefined); // syslog receivers send nothing; drain anything that comes
        this.#socket = socket;
        resolve(socket);
      });
    });
  }

  #drop(socket: net.Socket): void {
    if (this.#socket === socket) this.#socket = undefined;
    socket.destroy();
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.end(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
    socket.destroy();
  }
}
