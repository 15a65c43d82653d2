// Shared pieces of the real-kernel loader tests: build, a capture that drains in
// the background and keeps parsed records, child processes and their cleanup.
// Records are parsed here with the generated layout directly, so these tests
// check the kernel/loader contract without depending on the agent's reader.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfLoader, forEachRecord, type BpfLoaderOptions } from '../../native/loader.js';
import * as L from '../../agent/capture/record-layout.generated.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds the BPF object, the loader and the layout generator (quiet, incremental). */
export function buildNative(): void {
  execFileSync('make', ['-s', '-C', join(ROOT, 'native')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface ConnOpen {
  kind: 'open';
  tgid: number;
  fd: number;
  connGen: bigint;
  role: number;
  family: number;
  flags: number;
  localPort: number;
  remotePort: number;
  localAddr: Buffer;
  remoteAddr: Buffer;
  comm: string;
}

export interface Data {
  kind: 'data';
  tgid: number;
  fd: number;
  connGen: bigint;
  direction: number;
  source: number;
  protocol: number;
  len: number;
  pos: bigint;
  capLen: number;
  payload: Buffer;
}

export interface ConnClose {
  kind: 'close';
  tgid: number;
  fd: number;
  connGen: bigint;
  role: number;
  protocol: number;
  tls: number;
  bytesSent: bigint;
  bytesRecv: bigint;
}

export type Rec = ConnOpen | Data | ConnClose;

export function parseRecord(buf: Buffer, at: number, length: number): Rec | undefined {
  const kind = buf.readUInt8(at + L.HEADER.kind);
  const base = {
    tgid: buf.readUInt32LE(at + L.HEADER.tgid),
    fd: buf.readUInt32LE(at + L.HEADER.fd),
    connGen: buf.readBigUInt64LE(at + L.HEADER.conn_gen),
  };
  if (buf.readUInt8(at + L.HEADER.version) !== L.FS_RECORD_VERSION) throw new Error('bad record version');
  if (kind === L.FS_REC_CONN_OPEN && length >= L.CONN_OPEN.size) {
    const comm = buf.subarray(at + L.CONN_OPEN.comm, at + L.CONN_OPEN.comm + L.FS_COMM_LEN);
    return {
      kind: 'open',
      ...base,
      role: buf.readUInt8(at + L.CONN_OPEN.role),
      family: buf.readUInt8(at + L.CONN_OPEN.family),
      flags: buf.readUInt16LE(at + L.CONN_OPEN.flags),
      localPort: buf.readUInt16LE(at + L.CONN_OPEN.local_port),
      remotePort: buf.readUInt16LE(at + L.CONN_OPEN.remote_port),
      localAddr: Buffer.from(buf.subarray(at + L.CONN_OPEN.local_addr, at + L.CONN_OPEN.local_addr + L.ADDR_LEN)),
      remoteAddr: Buffer.from(buf.subarray(at + L.CONN_OPEN.remote_addr, at + L.CONN_OPEN.remote_addr + L.ADDR_LEN)),
      comm: comm.subarray(0, comm.indexOf(0) < 0 ? comm.length : comm.indexOf(0)).toString('latin1'),
    };
  }
  if (kind === L.FS_REC_DATA && length >= L.DATA.size) {
    const capLen = buf.readUInt32LE(at + L.DATA.cap_len);
    if (L.DATA.size + capLen > length) throw new Error('DATA record shorter than its cap_len');
    return {
      kind: 'data',
      ...base,
      direction: buf.readUInt8(at + L.DATA.direction),
      source: buf.readUInt8(at + L.DATA.source),
      protocol: buf.readUInt8(at + L.DATA.protocol),
      len: buf.readUInt32LE(at + L.DATA.len),
      pos: buf.readBigUInt64LE(at + L.DATA.pos),
      capLen,
      payload: Buffer.from(buf.subarray(at + L.DATA.size, at + L.DATA.size + capLen)),
    };
  }
  if (kind === L.FS_REC_CONN_CLOSE && length >= L.CONN_CLOSE.size) {
    return {
      kind: 'close',
      ...base,
      role: buf.readUInt8(at + L.CONN_CLOSE.role),
      protocol: buf.readUInt8(at + L.CONN_CLOSE.protocol),
      tls: buf.readUInt8(at + L.CONN_CLOSE.tls),
      bytesSent: buf.readBigUInt64LE(at + L.CONN_CLOSE.bytes_sent),
      bytesRecv: buf.readBigUInt64LE(at + L.CONN_CLOSE.bytes_recv),
    };
  }
  throw new Error(`unknown record kind ${kind} (length ${length})`);
}

export const connId = (r: { tgid: number; fd: number; connGen: bigint }): string => `${r.tgid}/${r.fd}/${r.connGen}`;

/** A loader with syscalls attached and a background drain loop keeping every record. */
export class Capture {
  readonly loader: BpfLoader;
  readonly records: Rec[] = [];
  drained = 0;
  batches = 0;
  #running = true;
  #loop: Promise<void>;

  constructor(opts: BpfLoaderOptions = {}, bufferBytes = 1 << 20) {
    this.loader = BpfLoader.open(opts);
    this.loader.attachSyscalls();
    this.#loop = this.#run(bufferBytes);
  }

  async #run(bufferBytes: number): Promise<void> {
    const buf = Buffer.alloc(bufferBytes);
    while (this.#running) {
      const used = await this.loader.drain(buf, 20);
      if (used === 0) continue;
      this.batches++;
      forEachRecord(buf, used, (at, length) => {
        const rec = parseRecord(buf, at, length);
        if (rec) this.records.push(rec);
        this.drained++;
      });
    }
  }

  /** Polls until pick() returns something truthy or the deadline passes. */
  async waitFor<T>(what: string, pick: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = pick();
      if (got) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  opens(pred: (r: ConnOpen) => boolean): ConnOpen[] {
    return this.records.filter((r): r is ConnOpen => r.kind === 'open' && pred(r));
  }

  dataOf(open: ConnOpen): Data[] {
    const id = connId(open);
    return this.records.filter((r): r is Data => r.kind === 'data' && connId(r) === id);
  }

  closeOf(open: ConnOpen): ConnClose | undefined {
    const id = connId(open);
    return this.records.find((r): r is ConnClose => r.kind === 'close' && connId(r) === id);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop.catch(() => undefined);
    await this.loader.close();
  }
}

/** The bytes of one direction and source, ordered by position; uncaptured bytes are absent. */
export function captured(records: Data[], direction: number, source: number): Buffer {
  const parts = records
    .filter((r) => r.direction === direction && r.source === source)
    .sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : 0))
    .map((r) => r.payload);
  return Buffer.concat(parts);
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const children = new Set<ChildProcess>();

export function startProcess(cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/**
 * A python3 TCP server on 127.0.0.1:port that runs `perConnection` (python, the
 * accepted socket as `c`, `os` and `time` imported) for each connection in turn; resolves
 * once it listens.
 */
export async function startTcpServer(port: number, perConnection: string): Promise<ChildProcess> {
  const body = perConnection.split('\n').map((line) => `    ${line}`).join('\n');
  const server = startProcess('python3', [
    '-c',
    `import socket, os, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', ${port})); s.listen()
while True:
    c, _ = s.accept()
${body}`,
  ]);
  await waitForListen('127.0.0.1', port);
  return server;
}

/** Runs a client to completion; resolves with its pid and stdout. */
export function runClient(cmd: string, args: string[]): Promise<{ pid: number; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve({ pid: child.pid!, stdout: Buffer.concat(out) });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
  });
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 2000).unref();
        }),
    ),
  );
}

/** Waits until something accepts TCP connections on host:port. */
export async function waitForListen(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
