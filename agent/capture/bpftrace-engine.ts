// The fallback capture engine: runs the system bpftrace with a generated
// program and turns its JSON output into the same SocketEvents the libbpf
// engine produces. It gives connection records (tuple, bytes, duration,
// process) and HTTP/1 flows from message heads only: bpftrace strings are
// capped at 200 bytes, so headers past them are cut and flows say so
// (HEADERS_CUT). No TLS plaintext, no HTTP/2.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { Pipeline } from '../pipeline.js';
import { BPFTRACE_STRLEN, bpftraceProgram } from './bpftrace-program.js';
import type { CaptureEngine } from './engine.js';
import type { ConnCloseEvent, ConnOpenEvent, DataEvent, Direction, Role } from './socket-event.js';

/** Pipeline ticks (reorder expiry, output flush) at least this often. */
const TICK_MS = 100;
/** Connections whose positions the engine tracks; beyond it the oldest is forgotten. */
const MAX_TRACKED = 65_536;

export interface BpftraceEngineOptions {
  /** The bpftrace executable (default: `bpftrace` on PATH). */
  bpftrace?: string;
}

interface Tracked {
  role: Role;
  startNs: number;
  pos: Record<Direction, number>;
}

/** Why bpftrace cannot be used here, or undefined when it can. */
export function bpftraceUnavailable(bpftrace = 'bpftrace'): string | undefined {
  const r = spawnSync(bpftrace, ['--version'], { encoding: 'utf8' });
  if (r.error) return `${bpftrace} not found (apt-get install bpftrace)`;
  if (r.status !== 0) return `${bpftrace} --version failed: ${(r.stderr || r.stdout).trim()}`;
  return undefined;
}

export class BpftraceEngine implements CaptureEngine {
  readonly name = 'bpftrace';
  batches = 0;
  readonly #tracked = new Map<string, Tracked>();
  readonly #losses = { lost_events: 0 };
  readonly #malformed: Record<string, number> = { bad_json: 0, bad_record: 0 };
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #ready: Promise<void> | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #stderr = '';

  constructor(
    readonly pipeline: Pipeline,
    readonly log: Logger,
    readonly options: BpftraceEngineOptions = {},
  ) {}

  start(): void {
    const bpftrace = this.options.bpftrace ?? 'bpftrace';
    const child = spawn(bpftrace, ['-B', 'none', '-f', 'json', '-e', bpftraceProgram(), String(process.pid)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BPFTRACE_STRLEN: String(BPFTRACE_STRLEN), BPFTRACE_MAP_KEYS_MAX: String(MAX_TRACKED) },
    });
    this.#child = child;
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.#ready = new Promise((resolve, reject) => {
      child.once('error', (err) => reject(new FlowscopeError(ErrorCodes.BPFTRACE, `bpftrace could not start: ${err.message}`, 'apt-get install bpftrace')));
      child.once('exit', (code, signal) =>
        reject(new FlowscopeError(ErrorCodes.BPFTRACE, `bpftrace exited (${signal ?? code}) before attaching: ${lastError(this.#stderr)}`, 'run flowscope doctor')));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (this.handleLine(line)) resolve();
      });
    });
    this.#ticker = setInterval(() => {
      this.pipeline.tick(Date.now());
      this.batches++;
    }, TICK_MS);
    this.#ticker.unref();
  }

  /** Resolves once bpftrace has attached every probe. */
  async firstBatch(): Promise<void> {
    await this.#ready;
  }

  losses(): Record<string, number> {
    return { ...this.#losses };
  }

  malformed(): Record<string, number> {
    return { ...this.#malformed };
  }

  /** bpftrace holds nothing once it has exited: stopping capture is stopping. */
  stopCapture(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#child?.kill('SIGINT');
    await this.#exited;
    this.pipeline.tick(Date.now());
  }

  /** One line of bpftrace output; true when it is the ready marker. Never throws. */
  handleLine(line: string): boolean {
    let message: { type?: string; data?: unknown };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      this.#malformed.bad_json++;
      return false;
    }
    if (typeof message !== 'object' || message === null) {
      this.#malformed.bad_json++;
      return false;
    }
    if (message.type === 'lost_events') {
      this.#losses.lost_events += Number((message.data as { events?: number })?.events ?? 0);
      return false;
    }
    if (message.type !== 'printf' || typeof message.data !== 'string') return false;
    if (message.data === 'READY\n') return true;
    if (!this.#record(message.data)) this.#malformed.bad_record++;
    return false;
  }

  #record(text: string): boolean {
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    const tab = body.indexOf('\t');
    const kind = body.slice(0, tab);
    const nowMs = Date.now();
    if (kind === 'O') {
      const f = body.split('\t');
      if (f.length !== 14) return false;
      const [, pid, tid, fd, gen, role, family, lip, lport, rip, rport, uid, cgroup, comm] = f as [string, ...string[]];
      const event: ConnOpenEvent = {
        kind: 'open', tgid: Number(pid), tid: Number(tid), fd: Number(fd), connGen: Number(gen), tsNs: Number(gen),
        role: role === 'server' ? 'server' : 'client', preexisting: false, family: family === '6' ? 6 : 4,
        localIp: lip!, localPort: Number(lport), remoteIp: rip!, remotePort: Number(rport), comm: comm!, uid: Number(uid), cgroupId: Number(cgroup),
      };
      if (!validIds(event.tgid, event.fd, event.connGen)) return false;
      this.#track(`${pid}:${fd}:${gen}`, { role: event.role, startNs: event.connGen, pos: { egress: 0, ingress: 0 } });
      this.pipeline.handle(event, nowMs);
      return true;
    }
    if (kind === 'D') {
      // The payload is the last field and may itself hold tabs.
      const f = splitN(body, 7);
      if (!f) return false;
      const [, pid, tid, fd, gen, direction, ret, head] = f as [string, ...string[]];
      const len = Number(ret);
      const key = `${pid}:${fd}:${gen}`;
      const tracked = this.#tracked.get(key);
      if (!tracked || !(len > 0) || (direction !== 'egress' && direction !== 'ingress')) return false;
      // str() reads a whole window: past `ret` it is stale buffer content.
      const payload = Buffer.from(head!, 'latin1').subarray(0, len);
      const event: DataEvent = {
        kind: 'data', tgid: Number(pid), tid: Number(tid), fd: Number(fd), connGen: Number(gen), tsNs: monotonicNs(),
        direction, source: 'syscall', protocol: 'http1-lines', pos: tracked.pos[direction], len, payload,
      };
      tracked.pos[direction] += len;
      this.pipeline.handle(event, nowMs);
      return true;
    }
    if (kind === 'X') {
      const f = body.split('\t');
      if (f.length !== 8) return false;
      const [, pid, tid, fd, gen, ts, sent, received] = f as [string, ...string[]];
      const key = `${pid}:${fd}:${gen}`;
      const tracked = this.#tracked.get(key);
      this.#tracked.delete(key);
      const event: ConnCloseEvent = {
        kind: 'close', tgid: Number(pid), tid: Number(tid), fd: Number(fd), connGen: Number(gen), tsNs: Number(ts),
        role: tracked?.role ?? 'unknown', protocol: tracked && (tracked.pos.egress || tracked.pos.ingress) ? 'http1-lines' : 'other',
        tls: false, bytesSent: Number(sent), bytesRecv: Number(received), startNs: Number(gen),
      };
      if (!validIds(event.tgid, event.fd, event.connGen)) return false;
      this.pipeline.handle(event, nowMs);
      return true;
    }
    return false;
  }

  #track(key: string, tracked: Tracked): void {
    if (this.#tracked.size >= MAX_TRACKED) this.#tracked.delete(this.#tracked.keys().next().value as string);
    this.#tracked.set(key, tracked);
  }
}

function splitN(text: string, fields: number): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < fields; i++) {
    const tab = text.indexOf('\t', start);
    if (tab < 0) return undefined;
    out.push(text.slice(start, tab));
    start = tab + 1;
  }
  out.push(text.slice(start));
  return out;
}

function validIds(tgid: number, fd: number, gen: number): boolean {
  return Number.isInteger(tgid) && tgid > 0 && Number.isInteger(fd) && fd >= 0 && Number.isFinite(gen) && gen > 0;
}

function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

function lastError(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => !l.includes('RLIMIT_MEMLOCK'));
  return lines.at(-1) ?? 'no error output';
}
